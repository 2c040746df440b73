"""Shared driver for soad's integration tests.

Each test writes a real config, starts the real soad binary in the
foreground (-d -v, log to a file) and talks to it with real clients.
Nothing sleeps a fixed time: `retry` polls a condition with a deadline.
"""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest

SRCDIR = os.environ.get("SOAD_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
BUILDDIR = os.environ.get("SOAD_BUILDDIR") or SRCDIR
SOAD = os.path.join(BUILDDIR, "soad")
FDSERVER = os.path.join(BUILDDIR, "tests", "fdserver")


def retry(cond, timeout=10.0, interval=0.02, what="condition"):
    """Poll cond() until it returns a true value; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now, below the ephemeral range."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(200):
        port = 20000 + int.from_bytes(os.urandom(2), "big") % 12000
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")


def http_get(addr, path="/", timeout=10.0, source=None):
    """GET path over a fresh connection; addr is (host, port) or a UNIX
    path.  Returns the body as str; raises on any error."""
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        if source:
            s.bind((source, 0))
    s.settimeout(timeout)
    try:
        s.connect(addr)
        s.sendall(("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        raise AssertionError("bad response: %r" % data[:200])
    status = int(head.split()[1])
    if status != 200:
        raise AssertionError("HTTP status %d: %r" % (status, data[:200]))
    return body.decode(errors="replace")


def talk(port, data=b"", host="127.0.0.1", source=None, timeout=10.0,
         shut=True):
    """Connect (from SOURCE if given), send DATA, shut down writing, and
    return all the server sends until it closes; b"" for a refused
    connection, even one reset before the client wrote."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect((host, port))
    try:
        if data:
            s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
    except OSError:
        pass            # a refused connection may be gone already
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    s.close()
    return out


class Soad:
    """One running soad -d with its config and log in a temp dir."""

    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.conf = os.path.join(str(tmp_path), "soad.conf")
        self.logpath = os.path.join(str(tmp_path), "soad.log")
        self.proc = None

    def start(self, conf, args=(), wait=True):
        with open(self.conf, "w") as f:
            f.write(conf)
        self.logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen([SOAD, "-d", "-v", "-f", self.conf]
                                     + list(args), stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        if wait:
            self.wait_log(r"started with \d+ service")
        return self

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def count(self, pattern):
        return len(re.findall(pattern, self.log(), re.M))

    def wait_log(self, pattern, timeout=10.0, n=1):
        def found():
            if self.proc.poll() is not None and self.count(pattern) < n:
                raise AssertionError("soad exited (%s) before %r:\n%s" % (
                    self.proc.returncode, pattern, self.log()))
            m = re.findall(pattern, self.log(), re.M)
            return m[n - 1] if len(m) >= n else None
        try:
            return retry(found, timeout, what=repr(pattern))
        except AssertionError as e:
            raise AssertionError("%s\n--- soad log ---\n%s" % (e, self.log()))

    def pids(self, service):
        """Service pids in start order, from the log."""
        return [int(p) for p in re.findall(
            r"^soad: %s: started pid (\d+)$" % re.escape(service),
            self.log(), re.M)]

    def pid(self, service, n=1):
        """The pid of the service's Nth start, waiting for its log line:
        with a vfork-style spawn the service may answer before the
        master has written it."""
        return int(self.wait_log(r"^soad: %s: started pid (\d+)$"
                                 % re.escape(service), n=n))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30.0):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("soad did not exit after SIGTERM:\n"
                                 + self.log())


@pytest.fixture
def soad(tmp_path):
    s = Soad(tmp_path)
    yield s
    s.stop()
    s.logf.close() if hasattr(s, "logf") else None


def svc(name="web", listen=(), args=(), extra="", server=FDSERVER):
    """A soad.conf service section running tests/fdserver (or SERVER)
    with argv ("fdserver", *ARGS) on the LISTEN addresses."""
    lst = ", ".join('"%s"' % a for a in listen)
    argv = ", ".join('"%s"' % a for a in ("fdserver",) + tuple(args))
    return """service %s {
  listen = { %s }
  server = "%s"
  args = { %s }
%s
}
""" % (name, lst, server, argv, extra)


@pytest.fixture
def sockdir():
    """A private directory for UNIX sockets, in /tmp (root's, sticky)."""
    d = tempfile.mkdtemp(prefix="soad-t", dir="/tmp")
    yield d
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)


def socket_inodes(pid):
    """Socket inodes among the fds of a process."""
    out = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", t)
        if m:
            out.add(m.group(1))
    return out


def proc_children(ppid, comm=None):
    """(pid, comm, state) of every process whose parent is PPID, and whose
    name is COMM if given."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        rest = st.rsplit(") ", 1)[1].split()
        if int(rest[1]) == ppid and (comm is None or name == comm):
            out.append((int(p), name, rest[0]))
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def run_check(conf_path):
    """soad -n on a config file: (exit status, stderr text)."""
    p = subprocess.run([SOAD, "-n", "-f", conf_path], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stderr
