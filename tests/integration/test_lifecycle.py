"""Core lifecycle of a pass-mode service, with the real soad binary and
tests/fdserver as the socket-activated app: activation over TCP v4, v6
and UNIX, the exact environment and fd set, idle deactivation, open
connections, kill-timeout, failed-start backoff, and no lost connection
across stop/start cycles."""
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (SOAD, alive, free_port, http_get, retry, socket_inodes,
                      svc)


def test_activation_over_tcp4_tcp6_unix(soad, sockdir):
    port = free_port()
    path = os.path.join(sockdir, "web.sock")
    soad.start("timeout = 60\n" + svc(listen=(
        "127.0.0.1:%d" % port, "[::1]:%d" % port, path)))
    assert soad.pids("web") == [], "no service may run before a connection"
    assert oct(os.stat(path).st_mode & 0o777) == "0o660"
    r4 = http_get(("127.0.0.1", port))
    pid = soad.pid("web")
    assert r4 == "hello from %d\n" % pid
    assert http_get(("::1", port)) == r4
    assert http_get(path) == r4
    assert soad.pids("web") == [pid], "one instance serves every listener"


def test_exact_environment_and_fds(soad, sockdir):
    port = free_port()
    path = os.path.join(sockdir, "u.sock")
    soad.start(svc(listen=("http=127.0.0.1:%d" % port,
                           "[::1]:%d" % port, path),
                   extra='  environment = { "FOO=bar", "PATH=/opt/x" }'))
    env = http_get(("127.0.0.1", port), "/environ")
    pid = soad.pid("web")
    got = dict(l.split("=", 1) for l in env.splitlines())
    assert got["LISTEN_FDS"] == "3"
    assert got["LISTEN_PID"] == str(pid)
    assert got["LISTEN_FDNAMES"] == "http:web:web"
    assert got["FOO"] == "bar"
    assert got["PATH"] == "/opt/x", "environment overrides the default"
    assert set(got) == {"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "PATH",
                        "HOME", "USER", "LOGNAME", "SHELL", "FOO"}

    fds = dict(l.split(" ", 1) for l in
               http_get(("127.0.0.1", port), "/fds").splitlines())
    assert sorted(fds, key=int) == ["0", "1", "2", "3", "4", "5"]
    assert fds["0"] == "/dev/null"
    assert fds["1"].startswith("pipe:") and fds["1"] == fds["2"]
    inodes = [re.match(r"socket:\[(\d+)\]", fds[k]).group(1)
              for k in ("3", "4", "5")]
    assert len(set(inodes)) == 3
    # They are the master's own listeners, in config order.
    master = socket_inodes(soad.proc.pid)
    assert set(inodes) <= master
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)  # the UNIX one is fd 5: its inode is the listener's
    s.close()

    sig = http_get(("127.0.0.1", port), "/sig")
    assert "SigBlk:\t0000000000000000" in sig
    assert "SigIgn:\t0000000000000000" in sig, \
        "soad ignores SIGPIPE; the service must not inherit that"


def test_fd0_puts_first_listener_on_stdin(soad):
    port = free_port()
    soad.start(svc(listen=("127.0.0.1:%d" % port,), extra="  fd0 = yes"))
    fds = dict(l.split(" ", 1) for l in
               http_get(("127.0.0.1", port), "/fds").splitlines())
    assert fds["0"] == fds["3"] and fds["0"].startswith("socket:")


def test_listener_flags_are_reset_for_each_instance(soad):
    """Flags live on the open file shared by every instance: one that
    sets O_NONBLOCK and drops O_ASYNC must not hand that to the next."""
    port = free_port()
    soad.start("timeout = 1\n" + svc(listen=("127.0.0.1:%d" % port,),
                                     args=("--clobber-flags",)))
    assert http_get(("127.0.0.1", port), "/flags") == "nonblock=0 async=1\n"
    soad.wait_log(r"web: pid \d+ stopped")
    assert http_get(("127.0.0.1", port), "/flags") == "nonblock=0 async=1\n"
    assert len(soad.pids("web")) == 2


def test_user_directory_and_output_log(soad):
    port = free_port()
    soad.start(svc(listen=("127.0.0.1:%d" % port,),
                   extra='  user = nobody\n  directory = "/tmp"'))
    ids = http_get(("127.0.0.1", port), "/id")
    assert ids.strip() == "uid=65534 gid=65534 groups=65534"
    assert http_get(("127.0.0.1", port), "/cwd") == "/tmp\n"
    pid = soad.pid("web")
    soad.wait_log(r"^soad: web\[%d\]: fdserver: ready, pid %d, 1 listeners$"
                  % (pid, pid))


def test_stops_after_idle_timeout_and_restarts(soad):
    port = free_port()
    soad.start("timeout = 1\n" + svc(listen=("127.0.0.1:%d" % port,)))
    t0 = time.monotonic()
    http_get(("127.0.0.1", port))
    pid = soad.pid("web")
    soad.wait_log(r"web: idle for 1 s, stopping pid %d with SIGTERM" % pid)
    soad.wait_log(r"web: pid %d stopped \(exited with status 0\)" % pid)
    assert time.monotonic() - t0 >= 1.0
    retry(lambda: not alive(pid), what="service process gone")
    assert http_get(("127.0.0.1", port)) != ""
    assert len(soad.pids("web")) == 2


def test_service_setting_overrides_global(soad):
    p1, p2 = free_port(), free_port()
    soad.start("timeout = 1\n" +
               svc("short", ("127.0.0.1:%d" % p1,)) +
               svc("long", ("127.0.0.1:%d" % p2,), extra="  timeout = 0"))
    http_get(("127.0.0.1", p1))
    http_get(("127.0.0.1", p2))
    soad.wait_log(r"short: pid \d+ stopped")
    time.sleep(1.5)  # timeout = 0: a bounded look for a stop that must not come
    assert soad.count(r"long: idle for") == 0
    assert alive(soad.pid("long"))


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_open_connection_keeps_service_up(soad, sockdir, kind):
    port = free_port()
    path = os.path.join(sockdir, "h.sock")
    addr = ("127.0.0.1", port) if kind == "tcp" else path
    soad.start("timeout = 1\n" + svc(listen=(
        "127.0.0.1:%d" % port, path)))
    s = socket.socket(socket.AF_INET if kind == "tcp" else socket.AF_UNIX)
    s.connect(addr)
    s.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(10)
    got = b""
    while b"held" not in got:
        chunk = s.recv(4096)
        assert chunk, "connection closed before the body: %r" % got
        got += chunk
    pid = soad.pid("web")
    time.sleep(3.0)  # three timeouts with the connection open
    assert soad.count(r"web: idle for") == 0, soad.log()
    assert alive(pid)
    closed = time.monotonic()
    s.close()
    soad.wait_log(r"web: pid %d stopped" % pid, timeout=10)
    # Stopped a full timeout after the connection closed, not before,
    # and not much later (one re-count interval is 0.1 s here).
    assert 1.0 <= time.monotonic() - closed <= 3.0


@pytest.mark.parametrize("args", [(), ("--clobber-flags",)],
                         ids=["plain", "service-clears-O_ASYNC"])
def test_every_arrival_counts_even_if_service_accepts_first(soad, args):
    """The service accepts on the shared listener before the master looks,
    and each connection is over at once: only the O_ASYNC arrival signal
    tells the master the service is in use.  A service that clears O_ASYNC
    (fcntl(F_SETFL, O_NONBLOCK)) must not make soad think it idle."""
    port = free_port()
    soad.start("timeout = 2\n" + svc(listen=("127.0.0.1:%d" % port,),
                                     args=args))
    http_get(("127.0.0.1", port))
    pid = soad.pid("web")
    end = time.monotonic() + 7
    while time.monotonic() < end:
        c = socket.create_connection(("127.0.0.1", port))
        c.close()
        time.sleep(0.8)
    assert soad.count(r"web: idle for") == 0, soad.log()
    assert soad.pids("web") == [pid]
    soad.wait_log(r"web: pid %d stopped" % pid, timeout=10)


def master_switches(pid):
    with open("/proc/%d/status" % pid) as f:
        st = dict(l.split(":", 1) for l in f)
    return (int(st["voluntary_ctxt_switches"]) +
            int(st["nonvoluntary_ctxt_switches"]))


def test_busy_service_costs_one_signal_per_window(soad):
    """After an arrival the master mutes arrival signals for timeout/10
    (1 s here): 400 connections in well under a second must not wake it
    400 times.  With timeout = 0 nothing is watched at all."""
    p1, p2 = free_port(), free_port()
    soad.start(svc("busy", ("127.0.0.1:%d" % p1,), extra="  timeout = 10") +
               svc("forever", ("127.0.0.1:%d" % p2,), extra="  timeout = 0"))
    for port in (p1, p2):
        http_get(("127.0.0.1", port))
        before = master_switches(soad.proc.pid)
        for _ in range(400):
            socket.create_connection(("127.0.0.1", port)).close()
        woke = master_switches(soad.proc.pid) - before
        assert woke < 40, "master woke %d times for 400 arrivals" % woke
    assert soad.count(r"busy: idle for") == 0


def test_service_ignoring_term_is_killed(soad):
    port = free_port()
    soad.start("timeout = 1\nkill-timeout = 1\n" + svc(
        listen=("127.0.0.1:%d" % port,), args=("--ignore-term",)))
    http_get(("127.0.0.1", port))
    pid = soad.pid("web")
    soad.wait_log(r"web: pid %d still running 1 s after the stop signal, "
                  r"killing it" % pid)
    soad.wait_log(r"web: pid %d stopped \(killed by SIGKILL\)" % pid)
    assert not alive(pid)
    assert http_get(("127.0.0.1", port)).startswith("hello")


def test_arrival_while_stopping_waits_for_next_instance(soad):
    port = free_port()
    soad.start("timeout = 1\n" + svc(listen=("127.0.0.1:%d" % port,),
                                     args=("--linger-ms", "1500")))
    http_get(("127.0.0.1", port))
    first = soad.pid("web")
    soad.wait_log(r"web: idle for 1 s, stopping pid %d" % first)
    # The old instance closed its listeners and lingers: this connection
    # must wait in the master's backlog, neither refused nor served twice.
    body = http_get(("127.0.0.1", port), timeout=15)
    soad.wait_log(r"web: pid %d stopped" % first)
    pids = soad.pids("web")
    assert len(pids) == 2
    assert body == "hello from %d\n" % pids[1]
    assert soad.log().index("pid %d stopped" % first) < \
        soad.log().index("started pid %d" % pids[1])


def test_no_failed_request_across_stop_start_cycles(soad):
    """Bursts of concurrent requests separated by pauses around the idle
    point (timeout 1 s + the 0.1 s arrival window): requests land while
    the service runs, while it stops (it lingers 300 ms after SIGTERM
    with its listeners closed) and while it is down.  None may fail."""
    port = free_port()
    soad.start("timeout = 1\n" + svc(listen=("127.0.0.1:%d" % port,),
                                     args=("--linger-ms", "300")))
    ok, failed = [0], []
    rnd = random.Random(7)

    def one():
        try:
            http_get(("127.0.0.1", port), timeout=10)
            ok[0] += 1
        except Exception as e:  # any failure is a lost request
            failed.append(repr(e))

    for _ in range(10):
        burst = [threading.Thread(target=one) for _ in range(3)]
        for t in burst:
            t.start()
        for t in burst:
            t.join()
        time.sleep(rnd.uniform(1.0, 1.6))
    assert failed == []
    assert ok[0] == 30
    cycles = soad.count(r"web: pid \d+ stopped")
    assert cycles >= 3, soad.log()
    assert soad.count(r"killed by") == 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_crash_loop_is_backed_off(soad):
    port = free_port()
    soad.start(svc(listen=("127.0.0.1:%d" % port,), args=("--crash",)))
    c = socket.create_connection(("127.0.0.1", port))  # waits in backlog
    cpu0 = cpu_seconds(soad.proc.pid)
    soad.wait_log(r"web: 4 failed starts in a row; next start in 4 s",
                  timeout=15)
    starts = len(soad.pids("web"))
    assert 4 <= starts <= 5, soad.log()
    assert soad.count(r"web: 2 failed starts in a row; next start in 1 s") \
        == 1
    assert soad.count(r"crashing on purpose") >= 4, \
        "the service's stderr reaches the log"
    assert cpu_seconds(soad.proc.pid) - cpu0 < 0.5, "master must not spin"
    c.close()


def test_sigterm_stops_every_service_and_cleans_up(soad, sockdir):
    p1, p2 = free_port(), free_port()
    path = os.path.join(sockdir, "a.sock")
    soad.start(svc("a", ("127.0.0.1:%d" % p1, path)) +
               svc("b", ("127.0.0.1:%d" % p2,)) +
               svc("c", ("127.0.0.1:%d" % free_port(),)))
    http_get(path)
    http_get(("127.0.0.1", p2))
    pa, pb = soad.pid("a"), soad.pid("b")
    assert soad.pids("c") == []
    assert soad.stop() == 0
    assert not alive(pa) and not alive(pb)
    assert not os.path.exists(path), "soad unlinks the sockets it made"
    log = soad.log()
    assert "a: pid %d stopped" % pa in log and "b: pid %d stopped" % pb in log
    # What a service writes as it exits still reaches the log.
    assert "a[%d]: fdserver: stopped" % pa in log
    assert "b[%d]: fdserver: stopped" % pb in log
    assert log.rstrip().endswith("soad: exiting")


def test_stale_socket_replaced_other_files_kept(soad, sockdir):
    stale = os.path.join(sockdir, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()  # a socket file nobody listens on
    plain = os.path.join(sockdir, "plain.sock")
    with open(plain, "w") as f:
        f.write("precious\n")
    soad.start(svc("a", (stale,)) + svc("b", (plain,)))
    assert http_get(stale).startswith("hello")
    soad.wait_log(r"%s exists and is not a socket; not replacing it"
                  % re.escape(plain))
    soad.wait_log(r"b: not started until every listener is bound")
    with open(plain) as f:
        assert f.read() == "precious\n"


def test_live_socket_is_not_stolen(soad, sockdir):
    path = os.path.join(sockdir, "live.sock")
    owner = socket.socket(socket.AF_UNIX)
    owner.bind(path)
    owner.listen(5)
    try:
        soad.start(svc("a", (path,)))
        soad.wait_log(r"another process listens on this socket")
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        conn, _ = owner.accept()  # still ours
        conn.close()
        c.close()
    finally:
        owner.close()


def test_hung_socket_owner_does_not_stall_start(soad, sockdir):
    """A live server that never accepts, its backlog full: a blocking
    probe would hang soad.  It must start at once and leave the socket."""
    path = os.path.join(sockdir, "hung.sock")
    owner = socket.socket(socket.AF_UNIX)
    owner.bind(path)
    owner.listen(0)
    fillers = []
    try:
        for _ in range(3):  # fill the backlog (never accepted)
            c = socket.socket(socket.AF_UNIX)
            c.setblocking(False)
            try:
                c.connect(path)
            except BlockingIOError:
                pass
            fillers.append(c)
        port = free_port()
        t0 = time.monotonic()
        soad.start(svc("a", (path,)) + svc("b", ("127.0.0.1:%d" % port,)))
        assert time.monotonic() - t0 < 5
        soad.wait_log(r"hung.sock: another process listens on this socket")
        assert http_get(("127.0.0.1", port)).startswith("hello")
        assert os.path.exists(path)
    finally:
        for c in fillers:
            c.close()
        owner.close()


def test_bad_config_at_start_exits_78(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text('service x {\n  listen = { "99999" }\n'
                    '  server = "/bin/true"\n}\n')
    p = subprocess.run([SOAD, "-d", "-f", str(conf)], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 78
    assert p.stderr.startswith("%s:2: " % conf)
    assert "port must be a number from 1 to 65535" in p.stderr


def test_daemon_mode_pidfile_and_single_instance(tmp_path):
    port = free_port()
    conf = tmp_path / "d.conf"
    conf.write_text(svc(listen=("127.0.0.1:%d" % port,)))
    pidfile = tmp_path / "soad.pid"
    p = subprocess.run([SOAD, "-f", str(conf), "-p", str(pidfile)],
                       timeout=10)
    assert p.returncode == 0, "the parent exits 0 once the child is ready"
    pid = int(pidfile.read_text())
    try:
        assert alive(pid)
        assert http_get(("127.0.0.1", port)).startswith("hello")
        again = subprocess.run([SOAD, "-f", str(conf), "-p", str(pidfile)],
                               capture_output=True, text=True, timeout=10)
        assert again.returncode == 71
        assert int(pidfile.read_text()) == pid
    finally:
        os.kill(pid, signal.SIGTERM)
    retry(lambda: not alive(pid), what="daemon exit")
    assert not pidfile.exists()


def test_daemon_with_stdin_closed_and_relative_pidfile(tmp_path):
    """Started from a script with stdin closed, the pidfile must not land
    on fd 0 (and be clobbered by /dev/null); a relative pidfile must be
    removed at exit even though the daemon changed to /."""
    port = free_port()
    conf = tmp_path / "d.conf"
    conf.write_text(svc(listen=("127.0.0.1:%d" % port,)))
    p = subprocess.run("exec %s -f %s -p rel.pid <&-" % (SOAD, conf),
                       shell=True, cwd=str(tmp_path), timeout=10)
    assert p.returncode == 0
    pidfile = tmp_path / "rel.pid"
    pid = int(pidfile.read_text())
    try:
        assert http_get(("127.0.0.1", port)).startswith("hello")
    finally:
        os.kill(pid, signal.SIGTERM)
    retry(lambda: not alive(pid), what="daemon exit")
    assert not pidfile.exists()


def ignore_and_block_everything():
    """preexec_fn: start soad the worst way, every signal it may inherit
    ignored, glibc's reserved 32 and 33 included (set with the raw
    syscall, which glibc's sigaction() refuses), and most blocked."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    ign = (ctypes.c_ulong * 4)(1, 0, 0, 0)  # SIG_IGN, no flags, empty mask
    for sig in (signal.SIGPIPE, signal.SIGHUP, signal.SIGUSR1, 32, 33, 34,
                40, 64):
        libc.syscall(13, sig, ctypes.byref(ign), None, 8)  # rt_sigaction
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, signal.SIGALRM,
                                              signal.SIGWINCH, 40,
                                              signal.SIGTERM, signal.SIGCHLD})


def test_service_gets_default_signals_whatever_soad_inherited(tmp_path):
    port = free_port()
    conf = tmp_path / "s.conf"
    conf.write_text(svc(listen=("127.0.0.1:%d" % port,)))
    log = open(tmp_path / "log", "wb")
    p = subprocess.Popen([SOAD, "-d", "-f", str(conf)], stdout=log,
                         stderr=subprocess.STDOUT,
                         preexec_fn=ignore_and_block_everything)
    try:
        retry(lambda: b"started with" in (tmp_path / "log").read_bytes())
        sig = http_get(("127.0.0.1", port), "/sig")
        assert sig == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
        # TERM and CHLD were blocked when soad started: it must still
        # reap and stop its service on TERM.
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()  # never leave a deaf soad behind
            p.wait()
            rc = "no exit on SIGTERM"
        log.close()
    assert rc == 0

