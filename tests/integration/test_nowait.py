"""nowait mode and datagram services: real soad, real clients, real
inetd servers from Debian (in.fingerd, in.tftpd, git daemon --inetd,
rsync --daemon) where they are installed."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import free_port, retry, talk


SH = "/bin/sh"


def nowait_svc(name, port, script, extra="", host="127.0.0.1"):
    return """service %s {
  listen = { "%s:%d" }
  mode = nowait
  server = "%s"
  args = { "sh", "-c", '%s' }
%s
}
""" % (name, host, port, SH, script, extra)


def conf_head(tmp_path, allow="ALL: ALL\n", deny=""):
    a = os.path.join(str(tmp_path), "hosts.allow")
    d = os.path.join(str(tmp_path), "hosts.deny")
    with open(a, "w") as f:
        f.write(allow)
    with open(d, "w") as f:
        f.write(deny)
    return 'hosts-allow = "%s"\nhosts-deny = "%s"\n' % (a, d)


def test_nowait_one_process_per_connection_with_client_env(soad, tmp_path):
    port = free_port()
    soad.start(conf_head(tmp_path) + nowait_svc(
        "hello", port, 'echo "$REMOTE_ADDR $REMOTE_PORT $$"; '
        'ls -l /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2 >&2; cat',
        'user = "nobody"'))
    outs = []
    for src in ("127.0.0.1", "127.0.0.2"):
        s = socket.socket()
        s.bind((src, 0))
        myport = s.getsockname()[1]
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        s.sendall(b"ping\n")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            c = s.recv(4096)
            if not c:
                break
            data += c
        s.close()
        first = data.split(b"\n")[0].decode().split()
        assert first[0] == src and int(first[1]) == myport, data
        assert b"socket:[" in data, data     # fds 0-2 are the connection
        assert data.endswith(b"ping\n")
        outs.append(int(first[2]))
    assert outs[0] != outs[1]


def test_nowait_runs_as_its_user(soad, tmp_path):
    port = free_port()
    soad.start(conf_head(tmp_path) + nowait_svc(
        "who", port, "id -u; id -g", 'user = "nobody"'))
    out = talk(port).decode().split()
    pw = pwd.getpwnam("nobody")
    assert out == [str(pw.pw_uid), str(pw.pw_gid)]


def test_nowait_failure_is_logged_with_status(soad, tmp_path):
    port = free_port()
    soad.start(conf_head(tmp_path) + nowait_svc("fail", port, "exit 3"))
    talk(port)
    soad.wait_log(r"fail: pid \d+ \(client 127\.0\.0\.1:\d+\) exited with "
                  r"status 3")


def test_nowait_tcpwrap_decides_by_client_address(soad, tmp_path):
    port = free_port()
    soad.start(conf_head(tmp_path, allow="hi: 127.0.0.1\n",
                         deny="ALL: ALL\n") +
               nowait_svc("hi", port, "echo hello"))
    assert talk(port) == b"hello\n"
    assert talk(port, source="127.0.0.2") == b""
    soad.wait_log(r"hi: refused connection from 127\.0\.0\.2:\d+: denied "
                  r"by hosts_access for daemon hi")
    assert soad.count(r"hi: connection from 127\.0\.0\.2") == 0


def test_nowait_max_children_makes_clients_wait(soad, tmp_path):
    port = free_port()
    soad.start(conf_head(tmp_path) + nowait_svc(
        "slow", port, "read x; echo done", "max-children = 2"))
    held = []
    for _ in range(2):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        held.append(s)
    soad.wait_log(r"slow: 2 connections open \(max-children\)")
    third = socket.create_connection(("127.0.0.1", port), timeout=10)
    third.sendall(b"x\n")
    third.settimeout(0.5)
    with pytest.raises(socket.timeout):
        third.recv(10)          # waits in the backlog, not refused
    held[0].sendall(b"x\n")
    assert held[0].recv(10) == b"done\n"
    held[0].close()
    third.settimeout(10)
    assert third.recv(10) == b"done\n"
    for s in held[1:] + [third]:
        s.close()


def test_nowait_max_children_per_source_closes(soad, tmp_path):
    port = free_port()
    soad.start(conf_head(tmp_path) + nowait_svc(
        "per", port, "read x; echo done", "max-children-per-source = 1"))
    a = socket.create_connection(("127.0.0.1", port), timeout=10)
    soad.wait_log(r"per: connection from 127\.0\.0\.1:\d+, pid")
    assert talk(port) == b""
    soad.wait_log(r"per: refused connection from 127\.0\.0\.1:\d+: over "
                  r"max-children-per-source")
    assert talk(port, data=b"x\n", source="127.0.0.2") == b"done\n"
    a.sendall(b"x\n")
    assert a.recv(10) == b"done\n"
    a.close()


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_nowait_rate_pause_is_logged_and_does_not_spin(soad, tmp_path):
    port = free_port()
    soad.start(conf_head(tmp_path) + nowait_svc(
        "rate", port, "echo ok", "max-per-minute = 5\nrate-pause = 2"))
    for _ in range(5):
        assert talk(port) == b"ok\n"
    t0 = cpu_ticks(soad.proc.pid)
    assert talk(port, timeout=3) == b""
    soad.wait_log(r"rate: more than 5 connections in a minute "
                  r"\(max-per-minute\); paused for 2 s")
    # While paused, clients wait in the backlog; the master stays quiet.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    time.sleep(1.0)
    assert cpu_ticks(soad.proc.pid) - t0 < 20
    s.settimeout(10)
    assert s.recv(10) == b"ok\n"   # served once the pause ends
    s.close()


def test_nowait_children_stopped_at_exit(soad, tmp_path):
    port = free_port()
    soad.start(conf_head(tmp_path) + nowait_svc(
        "long", port, "echo $$; exec sleep 60"))
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    pid = int(s.recv(64).split()[0])
    assert soad.stop() == 0
    retry(lambda: not os.path.exists("/proc/%d" % pid) or
          open("/proc/%d/stat" % pid).read().split(") ")[1][0] == "Z",
          what="nowait child gone")
    s.close()


@pytest.mark.skipif(not os.path.exists("/usr/sbin/in.fingerd") or
                    shutil.which("finger") is None,
                    reason="fingerd and finger are not installed")
def test_fingerd_through_nowait_as_nobody(soad, tmp_path):
    port = free_port()
    soad.start(conf_head(tmp_path) + """service finger {
  listen = { "127.0.0.1:%d" }
  mode = nowait
  user = "nobody"
  server = "/usr/sbin/in.fingerd"
  args = { "in.fingerd" }
  tcpwrap-name = "in.fingerd"
}
""" % port)
    out = talk(port, b"root\r\n").decode(errors="replace")
    assert "Login: root" in out or "root" in out, out


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_git_daemon_inetd(soad, tmp_path):
    repo = os.path.join(str(tmp_path), "r.git")
    subprocess.run(["git", "init", "-q", "--bare", repo], check=True)
    work = os.path.join(str(tmp_path), "w")
    subprocess.run(["git", "init", "-q", work], check=True)
    with open(os.path.join(work, "f"), "w") as f:
        f.write("hello\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    subprocess.run(["git", "-C", work, "add", "f"], check=True, env=env)
    subprocess.run(["git", "-C", work, "commit", "-qm", "x"], check=True,
                   env=env)
    subprocess.run(["git", "-C", work, "push", "-q", repo, "HEAD:master"],
                   check=True, env=env)
    port = free_port()
    soad.start(conf_head(tmp_path) + """service git {
  listen = { "127.0.0.1:%d" }
  mode = nowait
  server = "/usr/bin/git"
  args = { "git", "daemon", "--inetd", "--export-all", "--base-path=%s" }
}
""" % (port, str(tmp_path)))
    dst = os.path.join(str(tmp_path), "clone")
    subprocess.run(["git", "clone", "-q", "git://127.0.0.1:%d/r.git" % port,
                    dst], check=True, timeout=60)
    with open(os.path.join(dst, "f")) as f:
        assert f.read() == "hello\n"


@pytest.mark.skipif(shutil.which("rsync") is None, reason="no rsync")
def test_rsync_daemon_inetd(soad, tmp_path):
    mod = os.path.join(str(tmp_path), "mod")
    os.mkdir(mod)
    with open(os.path.join(mod, "a.txt"), "w") as f:
        f.write("rsync through soad\n")
    rconf = os.path.join(str(tmp_path), "rsyncd.conf")
    with open(rconf, "w") as f:
        f.write("use chroot = no\n[mod]\npath = %s\nread only = yes\n"
                "uid = root\ngid = root\n" % mod)
    port = free_port()
    soad.start(conf_head(tmp_path) + """service rsync {
  listen = { "127.0.0.1:%d" }
  mode = nowait
  server = "/usr/bin/rsync"
  args = { "rsync", "--daemon", "--config=%s" }
}
""" % (port, rconf))
    dst = os.path.join(str(tmp_path), "dst")
    subprocess.run(["rsync", "-a", "rsync://127.0.0.1:%d/mod/" % port,
                    dst + "/"], check=True, timeout=60)
    with open(os.path.join(dst, "a.txt")) as f:
        assert f.read() == "rsync through soad\n"


@pytest.mark.skipif(not os.path.exists("/usr/sbin/in.tftpd") or
                    shutil.which("tftp") is None,
                    reason="tftpd-hpa and tftp-hpa are not installed")
def test_tftpd_dgram_wait(soad, tmp_path):
    root = tempfile.mkdtemp(prefix="soad-tftp", dir="/tmp")
    os.chmod(root, 0o755)
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("tftp through soad\n")
    os.chmod(os.path.join(root, "hello.txt"), 0o644)
    port = free_port()
    soad.start("""timeout = 5
service tftp {
  listen = { "127.0.0.1:%d" }
  socket-type = dgram
  fd0 = yes
  server = "/usr/sbin/in.tftpd"
  args = { "in.tftpd", "--secure", "%s" }
}
""" % (port, root))
    dst = os.path.join(str(tmp_path), "got.txt")
    for _ in range(2):       # the second one after tftpd exits by itself
        if os.path.exists(dst):
            os.unlink(dst)
        subprocess.run(["tftp", "127.0.0.1", str(port), "-c", "get",
                        "hello.txt", dst], check=True, timeout=30,
                       cwd=str(tmp_path))
        with open(dst) as f:
            assert f.read() == "tftp through soad\n"
    shutil.rmtree(root)


def test_dgram_nowait_failing_server_does_not_loop(soad, tmp_path):
    """A dgram nowait server that fails without reading its datagram must
    not be started again and again for the same datagram."""
    port = free_port()
    soad.start(conf_head(tmp_path) + """service bad {
  listen = { "127.0.0.1:%d" }
  socket-type = dgram
  mode = nowait
  server = "/bin/false"
}
""" % port)
    t0 = cpu_ticks(soad.proc.pid)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"x", ("127.0.0.1", port))
    u.close()
    soad.wait_log(r"bad: dropped a datagram its server did not read")
    time.sleep(1.0)
    assert soad.count(r"bad: connection from .*, pid") <= 2
    assert cpu_ticks(soad.proc.pid) - t0 < 30


def test_wait_server_leaving_its_datagram_backs_off(soad, tmp_path):
    """A wait (pass) dgram server that exits 0 at once without reading is
    a failed start: backed off, not restarted in a loop."""
    port = free_port()
    soad.start("""service lazy {
  listen = { "127.0.0.1:%d" }
  socket-type = dgram
  fd0 = yes
  server = "/bin/true"
}
""" % port)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"x", ("127.0.0.1", port))
    u.close()
    soad.wait_log(r"lazy: \d+ failed starts in a row; next start in")
    time.sleep(1.0)
    assert len(soad.pids("lazy")) <= 4
