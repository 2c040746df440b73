"""A service is someone else's code, running as `nobody`, sharing the
listeners' open files with the root master.  Whatever it does to them,
its signals or its children, the master and the other services carry on,
and nothing of it outlives its instance or the master."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import (SOAD, SRCDIR, Soad, alive, free_port, http_get,
                      proc_children, retry, run_check, socket_inodes, svc)

HOSTILE = os.path.join(SRCDIR, "tests", "apps", "hostile.py")


def hostile(name, listen, *args, extra=""):
    lst = ", ".join('"%s"' % a for a in listen)
    argv = ", ".join('"%s"' % a for a in ("python3", HOSTILE) + args)
    return """service %s {
  listen = { %s }
  server = "/usr/bin/python3"
  args = { %s }
  user = nobody
%s
}
""" % (name, lst, argv, extra)


def fdsvc(name, listen, *args, extra=""):
    return svc(name, listen, args, extra)


@pytest.fixture
def sockdir():
    d = tempfile.mkdtemp(prefix="soad-h", dir="/tmp")
    os.chmod(d, 0o755)
    os.chown(d, 65534, 65534)  # the service's own directory
    yield d
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)


def state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(") ", 1)[1][0]


def watcher_pids(master):
    return [p for p, _, st in proc_children(master, "soad-watcher")
            if st != "Z"]


def holders(inodes):
    """Pids holding any socket inode of the given set."""
    out = set()
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % p):
                t = os.readlink("/proc/%s/fd/%s" % (p, fd))
                m = re.match(r"socket:\[(\d+)\]", t)
                if m and m.group(1) in inodes:
                    out.add(int(p))
        except OSError:
            continue
    return out


@pytest.mark.parametrize("sig", [
    signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM, signal.SIGUSR1,
    signal.SIGSEGV, signal.SIGRTMIN + 1, signal.SIGRTMIN + 5],
    ids=lambda s: signal.Signals(s).name if s < signal.SIGRTMIN
    else "RT%d" % (s - signal.SIGRTMIN))
def test_arrival_signal_a_service_picks_never_reaches_the_master(soad, sig):
    p1, p2 = free_port(), free_port()
    soad.start("timeout = 3\n" +
               hostile("evil", ("127.0.0.1:%d" % p1,), "setsig", str(sig)) +
               fdsvc("good", ("127.0.0.1:%d" % p2,)))
    http_get(("127.0.0.1", p2))
    assert http_get(("127.0.0.1", p1)).startswith("hostile")
    for _ in range(5):  # each may signal whoever owns the registration
        assert http_get(("127.0.0.1", p1)).startswith("hostile")
        assert soad.proc.poll() is None, soad.log()
        assert state(soad.proc.pid) != "T", "master stopped"
    assert http_get(("127.0.0.1", p2)).startswith("hello")
    retry(lambda: len(watcher_pids(soad.proc.pid)) == 1,
          what="one live watcher")
    assert soad.proc.poll() is None
    assert soad.count(r"received SIG") == 0
    if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGSEGV):
        soad.wait_log(r"evil: pid \d+ changed the arrival signal")
    # The other service's idle accounting is intact: it still stops.
    soad.wait_log(r"good: pid \d+ stopped", timeout=15)


def test_owner_pointed_at_the_master_delivers_nothing(soad):
    port = free_port()
    soad.start("timeout = 5\n" +
               hostile("evil", ("127.0.0.1:%d" % port,), "setown-parent"))
    for _ in range(4):
        assert http_get(("127.0.0.1", port)).startswith("hostile")
    assert soad.proc.poll() is None, soad.log()


def test_service_owning_its_own_signals_keeps_running(soad):
    """F_SETOWN to itself with its own F_SETSIG: its business.  soad
    re-arms its registration and counts that as activity."""
    port = free_port()
    soad.start("timeout = 1\n" +
               hostile("own", ("127.0.0.1:%d" % port,), "setown-self"))
    a = http_get(("127.0.0.1", port))
    b = http_get(("127.0.0.1", port))
    assert a == b
    soad.wait_log(r"own: pid \d+ stopped", timeout=15)


def test_killed_watcher_is_restarted_and_exits_with_the_master(tmp_path):
    s = Soad(tmp_path)
    port = free_port()
    s.start("timeout = 60\n" + fdsvc("web", ("127.0.0.1:%d" % port,)))
    try:
        w = retry(lambda: watcher_pids(s.proc.pid), what="watcher")[0]
        os.kill(w, signal.SIGKILL)
        s.wait_log(r"watcher: pid %d killed by SIGKILL" % w)
        w2 = retry(lambda: watcher_pids(s.proc.pid), what="new watcher")[0]
        assert w2 != w
        assert http_get(("127.0.0.1", port)).startswith("hello")
    finally:
        assert s.stop() == 0
    retry(lambda: not alive(w2), what="watcher gone after soad")


def test_shut_down_listener_is_healed_without_a_restart_loop(soad):
    port = free_port()
    soad.start("timeout = 60\n" +
               hostile("evil", ("127.0.0.1:%d" % port,), "shutdown"))
    inode = socket_inodes(soad.proc.pid)
    assert http_get(("127.0.0.1", port)).startswith("hostile")
    soad.wait_log(r"evil: listener 127\.0\.0\.1:%d was shut down" % port)
    # The next client is served by the next instance.
    assert http_get(("127.0.0.1", port)).startswith("hostile")
    assert len(soad.pids("evil")) == 2
    time.sleep(1.5)  # a bounded look for restarts no client asked for
    assert len(soad.pids("evil")) == 2, soad.log()
    assert inode, "master listens"


def test_unlinked_unix_socket_is_recreated(soad, sockdir):
    path = os.path.join(sockdir, "evil.sock")
    soad.start("timeout = 60\n" +
               hostile("evil", (path,), "unlink", path))
    assert http_get(path).startswith("hostile")
    soad.wait_log(r"evil: listener %s lost its socket file; re-creating"
                  % re.escape(path))
    retry(lambda: os.path.exists(path), what="socket file back")
    assert oct(os.stat(path).st_mode & 0o777) == "0o660"
    assert http_get(path).startswith("hostile")


def test_double_forked_daemon_does_not_outlive_its_instance(soad):
    port = free_port()
    soad.start("timeout = 60\n" +
               hostile("evil", ("127.0.0.1:%d" % port,), "daemonize"))
    listeners = socket_inodes(soad.proc.pid)
    s = socket.create_connection(("127.0.0.1", port))
    daemon = int(soad.wait_log(r"evil: killed pid (\d+) that outlived its "
                               r"service \(services must not daemonize\)"))
    retry(lambda: not alive(daemon), what="daemon killed")
    s.close()
    # However often it is retried, copies never pile up on the port.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert len(holders(listeners) - {soad.proc.pid}) <= 2
        time.sleep(0.1)
    assert soad.stop() == 0
    assert holders(listeners) == set()


@pytest.mark.parametrize("stopsig", ["TERM", "STOP"])
def test_master_sigkilled_takes_every_service_process_with_it(tmp_path,
                                                              stopsig):
    p1, p2 = free_port(), free_port()
    conf = ("timeout = 60\nstop-signal = %s\n" % stopsig +
            hostile("evil", ("127.0.0.1:%d" % p1,), "ignore-term", "worker")
            + fdsvc("deaf", ("127.0.0.1:%d" % p2,), "--ignore-term"))
    s = Soad(tmp_path)
    s.start(conf)
    http_get(("127.0.0.1", p1))
    http_get(("127.0.0.1", p2))
    worker = int(s.wait_log(r"evil\[\d+\]: worker (\d+)"))
    pids = s.pids("evil") + s.pids("deaf") + [worker]
    assert all(alive(p) for p in pids)
    s.proc.kill()
    s.proc.wait()
    retry(lambda: not any(alive(p) for p in pids), timeout=2,
          what="every service process killed at once")
    time.sleep(0.5)
    s2 = Soad(tmp_path / "again")
    os.mkdir(str(tmp_path / "again"))
    s2.start(conf)
    try:
        t0 = time.monotonic()
        assert http_get(("127.0.0.1", p1), timeout=3).startswith("hostile")
        assert http_get(("127.0.0.1", p2), timeout=3).startswith("hello")
        assert time.monotonic() - t0 < 3
    finally:
        s2.stop()


def test_every_catchable_signal_is_handled(soad, tmp_path):
    port = free_port()
    soad.start(fdsvc("web", ("127.0.0.1:%d" % port,)))
    http_get(("127.0.0.1", port))
    soad.signal(signal.SIGUSR1)
    soad.wait_log(r"^soad: web: running pid \d+, last active \d+ s ago")
    for sig in (signal.SIGUSR2, signal.SIGALRM, signal.SIGVTALRM,
                signal.SIGPROF, signal.SIGIO, signal.SIGPIPE,
                signal.SIGXCPU, signal.SIGXFSZ, signal.SIGPWR,
                signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU,
                signal.SIGSTKFLT, signal.SIGRTMIN, signal.SIGRTMIN + 1,
                signal.SIGRTMAX):
        soad.signal(sig)
    time.sleep(0.3)
    assert soad.proc.poll() is None, soad.log()
    assert state(soad.proc.pid) != "T"
    assert http_get(("127.0.0.1", port)).startswith("hello")
    assert soad.stop() == 0


def test_chatty_service_output_is_rate_limited_and_counted(soad):
    p1, p2 = free_port(), free_port()
    n = 100000
    soad.start("""service chatty {
  listen = { "127.0.0.1:%d" }
  server = "/usr/bin/python3"
  args = { "python3", "-c",
           "import sys\\nfor i in range(%d): print('line', i)\\nsys.stdout.flush()" }
  user = nobody
}
""" % (p1, n) + fdsvc("web", ("127.0.0.1:%d" % p2,)))
    socket.create_connection(("127.0.0.1", p1)).close()
    t0 = time.monotonic()
    pid = int(soad.wait_log(r"chatty: started pid (\d+)"))
    assert http_get(("127.0.0.1", p2), timeout=5).startswith("hello")
    soad.wait_log(r"chatty: pid %d exited" % pid, timeout=30)
    soad.wait_log(r"chatty\[%d\]: \d+ lines? dropped" % pid)

    def tally():
        logged = soad.count(r"^soad: chatty\[%d\]: line \d+$" % pid)
        dropped = sum(int(x) for x in re.findall(
            r"^soad: chatty\[%d\]: (\d+) lines? dropped" % pid,
            soad.log(), re.M))
        return (logged, dropped) if logged + dropped == n else None
    # The pipe may still be drained after the exit: every line ends up
    # logged or counted.
    logged, dropped = retry(tally, 30, what="every line logged or counted")
    elapsed = time.monotonic() - t0
    assert logged <= 200 + 50 * (elapsed + 1)
    assert soad.proc.poll() is None


def test_fd_limit_too_low_for_the_config_is_refused(tmp_path):
    import resource
    # Refused before anything is bound: the ports need only be distinct.
    conf = "".join(fdsvc("s%d" % i, ("127.0.0.1:%d" % (20000 + i),))
                   for i in range(20))
    path = tmp_path / "soad.conf"
    path.write_text(conf)

    def low():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    p = subprocess.run([SOAD, "-d", "-f", str(path)], preexec_fn=low,
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 71, p.stderr
    assert re.search(r"RLIMIT_NOFILE is 64; this configuration needs \d+ "
                     r"file descriptors", p.stderr), p.stderr


def test_unsafe_socket_directories_are_refused_at_bind(soad):
    """A directory others may write, or a symlink another user planted in
    a sticky directory, never receives a socket (soad -n says so too)."""
    base = tempfile.mkdtemp(prefix="soad-u", dir="/tmp")
    try:
        os.chmod(base, 0o1777)          # like /tmp, but ours to clean up
        www = os.path.join(base, "www")
        os.mkdir(www)
        os.chmod(www, 0o777)            # writable by others, not sticky
        target = os.path.join(base, "target")
        os.mkdir(target)
        link = os.path.join(base, "planted")
        os.symlink(target, link)
        os.lchown(link, 65534, 65534)   # planted by nobody
        soad.start(svc("open", (os.path.join(www, "a.sock"),)) +
                   svc("linked", (os.path.join(link, "b.sock"),)), wait=False)
        soad.wait_log(r"open: unsafe directory %s: writable by others"
                      % re.escape(www))
        soad.wait_log(r"linked: unsafe symbolic link %s: owned by uid 65534"
                      % re.escape(link))
        soad.wait_log(r"started with 2 services")
        assert os.listdir(www) == [] and os.listdir(target) == []
        rc, err = run_check(soad.conf)
        assert rc == 78 and "unsafe directory" in err and \
            "unsafe symbolic link" in err, err
    finally:
        soad.stop()
        subprocess.run(["rm", "-rf", base])
