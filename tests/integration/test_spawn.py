"""How soad starts a service process (src/spawn.c), with the real binary
and tests/fdserver: what the instance is (its own session, umask, limits,
ids and groups, SIGKILL when the master dies, subreaper of its
descendants), exactly which fds it gets whatever the master holds, and
how a start that fails is reported.  test_lifecycle.py covers the
environment, signal dispositions and the fd set of small configs."""
import grp
import os
import re
import resource
import signal
import socket
import subprocess

import pytest

from conftest import SOAD, Soad, alive, free_port, http_get, retry, svc


def proc_stat(pid):
    """Fields of /proc/PID/stat after the command name, 0-based from
    field 3 (state)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(") ", 1)[1].split()


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict((k, v.strip()) for k, v in
                    (l.split(":", 1) for l in f if ":" in l))


def fd_targets(addr):
    return dict(l.split(" ", 1) for l in http_get(addr, "/fds").splitlines())


def unix_inodes():
    """Path -> socket inode of every bound UNIX socket (/proc/net/unix)."""
    out = {}
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8:
                out[parts[7]] = parts[6]
    return out


def started_pid(soad, name):
    """The pid of the first start of a service, once the log says so: the
    service may answer before the master has written that line."""
    return int(soad.wait_log(r"^soad: %s: started pid (\d+)$" % name))


def kill_quietly(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_master_sigkill_kills_instance_that_ignores_its_stop_signal(
        soad, tmp_path):
    """PDEATHSIG is SIGKILL, not the stop-signal: a service that ignores
    TERM dies with the master at once, and a new master can bind its
    port straight away."""
    port = free_port()
    conf = "stop-signal = TERM\n" + svc(listen=("127.0.0.1:%d" % port,),
                                         args=("--ignore-term",))
    soad.start(conf)
    assert http_get(("127.0.0.1", port)).startswith("hello")
    pid = started_pid(soad, "web")
    try:
        soad.proc.kill()
        soad.proc.wait(10)
        retry(lambda: not alive(pid), timeout=2,
              what="the instance to die with the master")
    finally:
        kill_quietly(pid)
    again = Soad(tmp_path / "again")
    os.mkdir(str(again.dir))
    again.start(conf)
    try:
        body = http_get(("127.0.0.1", port))
        assert body == "hello from %d\n" % started_pid(again, "web")
    finally:
        again.stop()


def test_instance_is_subreaper_of_its_descendants(soad):
    """A grandchild orphaned by the service's own child is adopted by the
    instance, not by init or the master."""
    port = free_port()
    soad.start(svc(listen=("127.0.0.1:%d" % port,)))
    body = http_get(("127.0.0.1", port), "/orphan")
    pid = started_pid(soad, "web")
    assert body == "ppid %d\n" % pid
    assert pid != soad.proc.pid


def test_own_session_umask_and_limits(tmp_path):
    """setsid, umask, rlimits: a limit the config sets is both soft and
    hard; RLIMIT_NOFILE the config leaves alone is the one soad was
    started with, not the master's raised one."""
    port, port2 = free_port(), free_port()
    conf = tmp_path / "s.conf"
    conf.write_text(
        svc("a", ("127.0.0.1:%d" % port,), extra="  umask = 027\n"
            "  limit-nofile = 777\n  limit-core = 0") +
        svc("b", ("127.0.0.1:%d" % port2,)))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(300, hard)

    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    log = open(tmp_path / "log", "wb")
    p = subprocess.Popen([SOAD, "-d", "-f", str(conf)], stdout=log,
                         stderr=subprocess.STDOUT, preexec_fn=low_nofile)
    try:
        retry(lambda: b"started with" in (tmp_path / "log").read_bytes())
        if hard != resource.RLIM_INFINITY:
            master = resource.prlimit(p.pid, resource.RLIMIT_NOFILE)
            assert master == (hard, hard), "the master raises its soft limit"
        http_get(("127.0.0.1", port))
        http_get(("127.0.0.1", port2))
        def pid_of(name):
            m = re.search(r"%s: started pid (\d+)" % name,
                          (tmp_path / "log").read_text())
            return int(m.group(1)) if m else None
        pa = retry(lambda: pid_of("a"))
        pb = retry(lambda: pid_of("b"))
        for pid in (pa, pb):
            st = proc_stat(pid)
            assert int(st[3]) == pid and int(st[2]) == pid, \
                "session and process group leader"
        assert proc_status(pa)["Umask"] == "0027"
        assert resource.prlimit(pa, resource.RLIMIT_NOFILE) == (777, 777)
        assert resource.prlimit(pa, resource.RLIMIT_CORE) == (0, 0)
        assert resource.prlimit(pb, resource.RLIMIT_NOFILE) == (want, hard)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()


def test_exact_fds_with_1000_services(soad, sockdir):
    """The master holds ~1000 listeners: the instance still gets exactly
    0, 1, 2 and its own listener on 3, and LISTEN_PID is its pid."""
    paths = [os.path.join(sockdir, "s%d.sock" % i) for i in range(1000)]
    soad.start("".join(svc("s%d" % i, (p,)) for i, p in enumerate(paths)),
               wait=False)
    soad.wait_log(r"started with 1000 service", timeout=30)
    inodes = unix_inodes()
    for i in (0, 500, 999):
        fds = fd_targets(paths[i])
        pid = started_pid(soad, "s%d" % i)
        assert sorted(fds, key=int) == ["0", "1", "2", "3"], fds
        assert fds["0"] == "/dev/null"
        assert fds["1"].startswith("pipe:") and fds["1"] == fds["2"]
        assert fds["3"] == "socket:[%s]" % inodes[paths[i]]
        env = dict(l.split("=", 1) for l in
                   http_get(paths[i], "/env").splitlines())
        assert env["LISTEN_PID"] == str(pid)
        assert env["LISTEN_FDS"] == "1"
        assert env["LISTEN_FDNAMES"] == "s%d" % i


def test_many_listeners_land_in_config_order(soad, sockdir):
    """A service's listeners are master fds in the same low range as its
    targets (3..): moving them must never overwrite one before it is
    copied, and each lands on its own slot, fd 0 too with fd0 = yes."""
    n = 20
    paths = [os.path.join(sockdir, "l%02d.sock" % i) for i in range(n)]
    soad.start(svc("web", paths, extra="  fd0 = yes"))
    inodes = unix_inodes()
    fds = fd_targets(paths[0])
    assert sorted(fds, key=int) == [str(i) for i in range(3 + n)]
    for i, p in enumerate(paths):
        assert fds[str(3 + i)] == "socket:[%s]" % inodes[p], (i, p)
    assert fds["0"] == fds["3"]


@pytest.fixture
def nobody_group():
    """A scratch group with nobody as a member, removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to add a group")
    name = "soadt%d" % os.getpid()
    subprocess.run(["groupadd", name], check=True)
    try:
        subprocess.run(["gpasswd", "-a", "nobody", name], check=True,
                       capture_output=True)
        yield grp.getgrnam(name).gr_gid
    finally:
        subprocess.run(["groupdel", name], check=True)


def test_user_gets_its_supplementary_groups_and_no_root(soad, nobody_group):
    port = free_port()
    soad.start(svc(listen=("127.0.0.1:%d" % port,), extra="  user = nobody"))
    ids = http_get(("127.0.0.1", port), "/id").strip()
    m = re.match(r"uid=65534 gid=65534 groups=([\d,]+)$", ids)
    assert m, ids
    assert set(int(g) for g in m.group(1).split(",")) == \
        {65534, nobody_group}, "exactly nobody's groups, none of root's"
    st = proc_status(started_pid(soad, "web"))
    assert st["Uid"].split() == ["65534"] * 4, "real, effective, saved, fs"
    assert st["Gid"].split() == ["65534"] * 4
    assert st["CapEff"] == "0000000000000000"
    assert st["CapPrm"] == "0000000000000000"


def test_exec_failure_is_reported_with_exit_127(soad, tmp_path):
    """execve fails (a script whose interpreter does not exist): the
    reason reaches the log on the service's stderr, and it exits 127."""
    script = tmp_path / "bad.sh"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    port = free_port()
    soad.start(svc(listen=("127.0.0.1:%d" % port,), server=str(script)))
    c = socket.create_connection(("127.0.0.1", port))
    try:
        soad.wait_log(r"web: pid \d+ exited with status 127")
        pid = started_pid(soad, "web")
        soad.wait_log(r"^soad: web\[%d\]: soad: cannot start: %s: "
                      r"No such file or directory$" % (pid, re.escape(
                          str(script))))
    finally:
        c.close()


def test_chdir_failure_is_reported(soad, tmp_path):
    """A failure before exec, after the fds are laid out."""
    d = tmp_path / "wd"
    d.mkdir()
    port = free_port()
    soad.start(svc(listen=("127.0.0.1:%d" % port,),
                   extra='  directory = "%s"' % d))
    d.rmdir()
    c = socket.create_connection(("127.0.0.1", port))
    try:
        soad.wait_log(r"web: pid \d+ exited with status 127")
        pid = started_pid(soad, "web")
        soad.wait_log(r"^soad: web\[%d\]: soad: cannot start: %s: "
                      r"No such file or directory$" % (pid, re.escape(
                          str(d))))
    finally:
        c.close()
