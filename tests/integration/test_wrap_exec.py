"""The tcp_wrappers helper is a program of its own, soad-wrap: the master
never maps libwrap (nor what it pulls in), starts the helper with fds
0-3 only and every signal default, and refuses to start a checked
service when it cannot find the program."""
import os
import re
import shutil
import socket
import subprocess

import pytest

from conftest import BUILDDIR, SOAD, free_port, proc_children, retry, talk

SOAD_WRAP = os.path.join(BUILDDIR, "soad-wrap")


def have_libwrap():
    return os.access(SOAD_WRAP, os.X_OK)


pytestmark = pytest.mark.skipif(not have_libwrap(),
                                reason="soad was built without libwrap")


def checked_conf(tmp_path, port):
    """A nowait service whose connections are checked (allowed)."""
    d = str(tmp_path)
    for name, text in (("hosts.allow", "ALL: ALL\n"), ("hosts.deny", "")):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return """hosts-allow = "%s/hosts.allow"
hosts-deny = "%s/hosts.deny"
service hi {
  listen = { "127.0.0.1:%d" }
  mode = nowait
  tcpwrap = yes
  server = "/bin/sh"
  args = { "sh", "-c", "echo hello" }
}
""" % (d, d, port)


def status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f
                    if ":\t" in line)


def test_master_links_no_libwrap(soad, tmp_path):
    ldd = subprocess.run(["ldd", SOAD], capture_output=True, text=True,
                         timeout=30)
    assert ldd.returncode == 0, ldd.stderr
    assert "libwrap" not in ldd.stdout, ldd.stdout
    port = free_port()
    soad.start(checked_conf(tmp_path, port))
    assert talk(port) == b"hello\n"
    with open("/proc/%d/maps" % soad.proc.pid) as f:
        maps = f.read()
    assert "libwrap" not in maps
    assert "libconfuse" in maps         # the check itself reads maps right


def test_helper_is_soad_wrap_with_fds_0_to_3(soad, tmp_path):
    port = free_port()
    soad.start(checked_conf(tmp_path, port))
    assert talk(port) == b"hello\n"
    wrap = os.path.realpath(SOAD_WRAP)

    def helper():
        for pid, _, _ in proc_children(soad.proc.pid):
            try:
                if os.readlink("/proc/%d/exe" % pid) == wrap:
                    return pid
            except OSError:
                continue
        return None

    pid = retry(helper, what="the soad-wrap helper")
    fds = {int(fd): os.readlink("/proc/%d/fd/%s" % (pid, fd))
           for fd in os.listdir("/proc/%d/fd" % pid)}
    assert sorted(fds) == [0, 1, 2, 3], fds
    assert fds[0] == "/dev/null"
    assert fds[3].startswith("socket:[")
    st = status(pid)
    assert int(st["PPid"]) == soad.proc.pid
    # Every signal default and none blocked, whatever the master has
    # (it ignores many); glibc's posix_spawn leaves its own two (32, 33)
    # ignored.
    glibc = 3 << 31
    assert int(st["SigBlk"], 16) == 0, st
    assert int(st["SigIgn"], 16) & ~glibc == 0, st
    assert os.getpgid(pid) == pid       # its own process group
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().split(b"\0")[:-1]
    assert argv == [b"soad-wrap", b"-d", str(soad.proc.pid).encode(),
                    str(tmp_path / "hosts.allow").encode(),
                    str(tmp_path / "hosts.deny").encode()], argv


def test_missing_helper_fails_start_up(tmp_path):
    alone = tmp_path / "bin"
    alone.mkdir()
    copy = str(alone / "soad")
    shutil.copy2(SOAD, copy)
    conf = str(tmp_path / "soad.conf")
    with open(conf, "w") as f:
        f.write(checked_conf(tmp_path, free_port()))
    n = subprocess.run([copy, "-n", "-f", conf], capture_output=True,
                       text=True, timeout=30)
    if n.returncode == 0:
        pytest.skip("a soad-wrap is installed at the configured path")
    pat = (r"^soad: wrap: tcp_wrappers checks need the soad-wrap program: "
           r"no executable %s nor (/\S+/soad-wrap)\n$"
           % re.escape(str(alone / "soad-wrap")))
    m = re.match(pat, n.stderr)
    assert m and n.returncode == 71, (n.returncode, n.stderr)
    assert not os.path.exists(m.group(1))
    # Not executable is not found either.
    with open(str(alone / "soad-wrap"), "w") as f:
        f.write("#!/bin/sh\n")
    try:
        p = subprocess.run([copy, "-d", "-f", conf], capture_output=True,
                           text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("soad started without its helper program")
    assert p.returncode == 71 and re.match(pat, p.stderr), \
        (p.returncode, p.stderr)


@pytest.mark.parametrize("args", [
    [], ["1"], ["1", "/a"], ["-d", "1", "/a"], ["1", "/a", "/b", "/c"],
    ["-x", "1", "/a", "/b"], ["0", "/a", "/b"], ["01", "/a", "/b"],
    ["+1", "/a", "/b"], ["1x", "/a", "/b"], ["99999999999", "/a", "/b"],
    ["1", "", "/b"],
    ["1", "/a", "/b"],          # all good but fd 3: not a channel
])
def test_helper_by_hand_is_a_usage_error(args):
    p = subprocess.run([SOAD_WRAP] + args, capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode == 64, (p.returncode, p.stderr)
    assert p.stderr.startswith("usage: soad-wrap ")
    assert p.stderr.count("\n") == 1 and p.stdout == ""


def test_helper_leaves_when_its_master_is_not_its_parent():
    """The race guard: started for a master that is already gone (its
    parent is not that pid), it exits at once, doing nothing."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r, w = os.pipe()
    try:
        pid = os.posix_spawn(SOAD_WRAP, [
            "soad-wrap", "1" if os.getpid() != 1 else "2",
            "/nonexistent.allow", "/nonexistent.deny"], os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, b.fileno(), 3),
                          (os.POSIX_SPAWN_DUP2, w, 2)])
        os.close(w)
        w = -1

        def exited():
            p, st = os.waitpid(pid, os.WNOHANG)
            return (st,) if p == pid else None

        st = retry(exited, what="soad-wrap to exit")[0]
        with os.fdopen(r, "rb") as f:
            r = -1
            err = f.read()
    finally:
        for fd in (r, w):
            if fd != -1:
                os.close(fd)
        a.close()
        b.close()
    assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0 and err == b"", \
        (st, err)
