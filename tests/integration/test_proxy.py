"""Proxy mode (issue 7) with the real binary and real clients, loopback
only: the master accepts every connection and forwards it to the service
(a private UNIX listener handed over as fd 3, or a backend the app binds
itself).  Byte-exact bulk data both ways, half-close and resets passed
on, thousands of concurrent connections, both connection limits, the
PROXY protocol read by haproxy and checked byte for byte, backend apps
that start slowly, exact idle stops and idle-ignore, the private
listener's safety, configuration errors, running out of fds, and a soak
of 100,000 connections across activation cycles.

The services: tests/fdserver --echo (one process, poll(2), echoes every
byte, passes the half-close on), tests/fdserver's HTTP paths,
tests/apps/proxy_app.py (reflect / first / reset / watch) and Debian's
haproxy."""
import hashlib
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import threading
import time

import pytest

from conftest import (FDSERVER, SOAD, SRCDIR, alive, free_port, http_get,
                      proc_children, retry, run_check)

APP = os.path.join(SRCDIR, "tests", "apps", "proxy_app.py")
PYTHON = "/usr/bin/python3"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
SANITIZED = "ASAN_OPTIONS" in os.environ    # tests/run under SANITIZE=1

# Every test but the tcp_wrappers one leaves checks off: they are
# tested on their own, and here they would only add a helper's latency.
GLOBAL = "tcpwrap = no\n"

ECHO = (FDSERVER, "--echo")


def section(name="px", listen=(), argv=ECHO, extra="", mode="proxy"):
    """A service section; argv[0] is the program's path."""
    lst = ", ".join('"%s"' % a for a in listen)
    args = ", ".join('"%s"' % a for a in
                     (os.path.basename(argv[0]),) + tuple(argv[1:]))
    return """service %s {
  mode = %s
  listen = { %s }
  server = "%s"
  args = { %s }
%s
}
""" % (name, mode, lst, argv[0], args, extra)


def connect(addr, source=None, timeout=10.0):
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
    except BaseException:
        s.close()
        raise
    return s


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            raise AssertionError("EOF after %d of %d bytes: %r"
                                 % (len(buf), n, bytes(buf[:80])))
        buf += b
    return bytes(buf)


def recv_all(s):
    chunks = []
    while True:
        b = s.recv(1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def echo(s, msg):
    s.sendall(msg)
    got = recv_exact(s, len(msg))
    assert got == msg, (got, msg)


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(") ", 1)[1].split()


def cpu_ticks(pid):
    st = proc_stat(pid)
    return int(st[11]) + int(st[12])      # utime + stime


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def children(pid):
    """(pid, state) of every child of PID."""
    return [(p, st) for p, _, st in proc_children(pid)]


def refusals(soad, svc="px"):
    return re.findall(r"^soad: %s: refused connection from (\S+): (.*)$"
                      % svc, soad.log(), re.M)


def state_line(soad, svc="px"):
    """SVC's state line as SIGUSR1 has soad log it now."""
    pat = r"^soad: %s: (\w+.*failed starts? in a row)$" % svc
    n = soad.count(pat) + 1
    soad.signal(signal.SIGUSR1)
    return soad.wait_log(pat, n=n)


def start_raw(soad, conf, preexec_fn=None):
    """Soad.start, with a preexec_fn (e.g. a low RLIMIT_NOFILE)."""
    with open(soad.conf, "w") as f:
        f.write(conf)
    soad.logf = open(soad.logpath, "wb")
    soad.proc = subprocess.Popen([SOAD, "-d", "-v", "-f", soad.conf],
                                 stdout=soad.logf, stderr=subprocess.STDOUT,
                                 preexec_fn=preexec_fn)
    soad.wait_log(r"started with \d+ service")
    return soad


@pytest.fixture
def nofile():
    """Lift this process's own fd limit for the many-connection tests."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def where_conf(where, app_args, port, sockdir=None, extra=""):
    """A proxy section for proxy_app: private listener, TCP backend or
    UNIX backend (a socket in SOCKDIR)."""
    if where == "private":
        return section(listen=("127.0.0.1:%d" % port,),
                       argv=(PYTHON, APP) + tuple(app_args), extra=extra)
    if where == "backend-unix":
        path = os.path.join(sockdir, "app.sock")
        return section(listen=("127.0.0.1:%d" % port,),
                       argv=("/bin/sh", "-c", "rm -f %s; exec %s %s --unix "
                             "%s %s" % (path, PYTHON, APP, path,
                                        " ".join(app_args))),
                       extra='  backend = "%s"\n%s' % (path, extra))
    q = free_port()
    return section(listen=("127.0.0.1:%d" % port,),
                   argv=(PYTHON, APP, "--port", str(q)) + tuple(app_args),
                   extra='  backend = "127.0.0.1:%d"\n%s' % (q, extra))


# ---------------------------------------------------------------- data path

def test_100mb_each_way_at_once_byte_exact(soad):
    """100 MB up and 100 MB down at the same time through the relay (the
    echo service sends back what it reads while the client still sends),
    compared by SHA-256 on the fly, not held in memory."""
    port = free_port()
    soad.start(GLOBAL + section(listen=("127.0.0.1:%d" % port,)))
    s = connect(("127.0.0.1", port), timeout=60)
    total, chunk = 100 << 20, 1 << 20
    sent = hashlib.sha256()
    err = []

    def sender():
        rnd = random.Random(7)
        try:
            for _ in range(total // chunk):
                b = rnd.randbytes(chunk)
                sent.update(b)
                s.sendall(b)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender)
    t.start()
    got, n = hashlib.sha256(), 0
    try:
        while True:
            b = s.recv(1 << 18)
            if not b:
                break
            got.update(b)
            n += len(b)
    finally:
        t.join()
        s.close()
    assert not err, err
    assert n == total, "received %d of %d bytes" % (n, total)
    assert got.hexdigest() == sent.hexdigest()
    assert refusals(soad) == []


def test_backpressure_bounds_what_the_master_buffers(soad):
    """A client that sends and never reads: the echo service stops
    reading once its replies back up, so the relay must stop reading the
    client.  What the client can push in is bounded by socket and pipe
    buffers (tens of MB at most), and the master's memory does not grow
    with it."""
    port = free_port()
    soad.start(GLOBAL + section(listen=("127.0.0.1:%d" % port,)))
    s = connect(("127.0.0.1", port))
    echo(s, b"warm\n")
    rss0 = rss_kb(soad.proc.pid)
    s.setblocking(False)
    block, pushed = b"x" * (1 << 16), 0
    while pushed < (200 << 20):
        try:
            pushed += s.send(block)
        except BlockingIOError:
            # Stalled for 1 s: the whole path is full.
            if not select.select([], [s], [], 1.0)[1]:
                break
    s.close()
    assert pushed < (64 << 20), \
        "the client pushed %d MB into a path that never drains" % (
            pushed >> 20)
    assert rss_kb(soad.proc.pid) - rss0 < 16 * 1024


@pytest.mark.parametrize("where", ["private", "backend", "backend-unix"])
def test_half_close_client_first(soad, sockdir, where):
    """The client sends 8 MB and shuts down writing; the service replies
    only after it saw EOF (reflect), and the client still gets all 8 MB,
    then EOF."""
    port = free_port()
    soad.start(GLOBAL + where_conf(where, ("reflect",), port, sockdir))
    data = random.Random(3).randbytes(8 << 20)
    s = connect(("127.0.0.1", port), timeout=30)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = recv_all(s)
    s.close()
    assert len(got) == len(data)
    assert got == data


@pytest.mark.parametrize("where", ["private", "backend", "backend-unix"])
def test_half_close_service_first(soad, tmp_path, sockdir, where):
    """The service sends 2 MB and shuts down writing first; the client
    sees all of it and EOF while its own direction stays open, then
    sends 3 MB that the service receives whole."""
    port = free_port()
    out = str(tmp_path / "first.out")
    soad.start(GLOBAL + where_conf(where, ("first", str(2 << 20), out),
                                   port, sockdir))
    s = connect(("127.0.0.1", port), timeout=30)
    got = recv_all(s)
    assert got == (bytes(range(256)) * 8192)[:2 << 20]
    data = random.Random(5).randbytes(3 << 20)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    assert recv_all(s) == b""
    s.close()
    retry(lambda: os.path.exists(out), what="the service's report")
    with open(out) as f:
        assert f.read() == "%d %s" % (len(data),
                                      hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("where", ["private", "backend", "backend-unix"])
def test_service_reset_reaches_client(soad, sockdir, where):
    """The service closes with unread data and SO_LINGER 0 (a reset on
    TCP and on UNIX sockets alike): the client sees ECONNRESET, not a
    clean EOF."""
    port = free_port()
    soad.start(GLOBAL + where_conf(where, ("reset",), port, sockdir))
    s = connect(("127.0.0.1", port))
    s.sendall(b"r" * 1000)
    with pytest.raises(ConnectionResetError):
        data = recv_all(s)
        raise AssertionError("clean EOF after %r instead of a reset"
                             % data[:80])
    s.close()


def test_client_reset_reaches_service(soad, tmp_path):
    """A client that resets (SO_LINGER 0): the service's connection is
    reset too, not closed cleanly.  Backend mode, TCP on both legs: over
    a UNIX private listener Linux can only express a reset as EOF (or as
    ECONNRESET when data is left unread), so that leg cannot be told
    apart."""
    port = free_port()
    out = str(tmp_path / "watch.out")
    soad.start(GLOBAL + where_conf("backend", ("watch", out), port))
    s = connect(("127.0.0.1", port))
    s.sendall(b"hi\n")
    assert recv_exact(s, 3) == b"ok\n"
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))
    s.close()
    retry(lambda: os.path.exists(out), what="the service's report")
    with open(out) as f:
        assert f.read() == "reset"


def test_1000_concurrent_connections(soad, nofile):
    """1,000 connections open at the same time, each echoed its own
    message while all are open; the master counts 1,000 open, then 0."""
    port = free_port()
    soad.start(GLOBAL + section(listen=("127.0.0.1:%d" % port,),
                                extra="  limit-nofile = 8192"))
    socks = []
    try:
        for i in range(1000):
            socks.append(connect(("127.0.0.1", port), timeout=30))
        for i, s in enumerate(socks):
            s.sendall(b"conn %d\n" % i)
        for i, s in enumerate(socks):
            want = b"conn %d\n" % i
            assert recv_exact(s, len(want)) == want
        assert re.search(r", 1000 connections open,", state_line(soad))
        assert soad.pids("px") == [soad.pid("px")]
    finally:
        for s in socks:
            s.close()
    retry(lambda: re.search(r", 0 connections open,", state_line(soad)),
          timeout=15, interval=0.2, what="0 connections open")
    assert refusals(soad) == []


# ------------------------------------------------------------------- limits

def test_max_connections_makes_clients_wait_not_fail(soad):
    """At max-connections the master stops accepting: further clients
    connect (the kernel's backlog) and wait, not refused, and each is
    served once one of the others closes.  One log line says so."""
    port = free_port()
    soad.start(GLOBAL + section(listen=("127.0.0.1:%d" % port,),
                                extra="  max-connections = 3"))
    held = [connect(("127.0.0.1", port)) for _ in range(3)]
    for i, s in enumerate(held):
        echo(s, b"held %d\n" % i)
    waiting = [connect(("127.0.0.1", port)) for _ in range(2)]
    for i, s in enumerate(waiting):
        s.sendall(b"wait %d\n" % i)
    # A bounded look for an answer (or a close) that must not come.
    for s in waiting:
        s.settimeout(1.0)
        with pytest.raises(socket.timeout):
            s.recv(100)
    assert soad.count(r"^soad: px: 3 connections open \(max-connections\)"
                      r".*wait") == 1, soad.log()
    for i, s in enumerate(waiting):
        held.pop(0).close()
        s.settimeout(10)
        want = b"wait %d\n" % i
        assert recv_exact(s, len(want)) == want
    for s in held + waiting:
        echo(s, b"still\n")
        s.close()
    assert refusals(soad) == []


def test_max_connections_per_source(soad):
    """Over max-connections-per-source a connection is closed at once and
    one line names the client (address and port); 127.0.0.2 is counted
    apart from 127.0.0.1; a slot freed is usable again."""
    port = free_port()
    addr = ("127.0.0.1", port)
    soad.start(GLOBAL + section(listen=("127.0.0.1:%d" % port,),
                                extra="  max-connections-per-source = 2"))
    one = [connect(addr, "127.0.0.1") for _ in range(2)]
    for s in one:
        echo(s, b"one\n")
    over = connect(addr, "127.0.0.1")
    over_port = over.getsockname()[1]
    t0 = time.monotonic()
    try:
        assert over.recv(100) == b""
    except ConnectionResetError:
        pass
    assert time.monotonic() - t0 < 2.0, "not closed at once"
    over.close()
    two = [connect(addr, "127.0.0.2") for _ in range(2)]
    for s in two:
        echo(s, b"two\n")
    over2 = connect(addr, "127.0.0.2")
    over2_port = over2.getsockname()[1]
    try:
        assert over2.recv(100) == b""
    except ConnectionResetError:
        pass
    over2.close()
    soad.wait_log(r"refused connection from 127\.0\.0\.2:%d" % over2_port)
    assert refusals(soad) == [
        ("127.0.0.1:%d" % over_port, "over max-connections-per-source"),
        ("127.0.0.2:%d" % over2_port, "over max-connections-per-source")]
    one.pop().close()

    def again():
        s = connect(addr, "127.0.0.1")
        try:
            echo(s, b"again\n")
            one.append(s)
            return True
        except (AssertionError, OSError):
            s.close()
            return False
    retry(again, timeout=10, interval=0.1, what="a freed per-source slot")
    for s in one + two:
        echo(s, b"alive\n")
        s.close()


def test_tcpwrap_refusal_is_one_line_and_starts_nothing(soad, tmp_path):
    """A client hosts.deny refuses is closed without a byte, never starts
    the service, and each refusal is one log line with its address and
    the daemon name."""
    allow, deny = tmp_path / "hosts.allow", tmp_path / "hosts.deny"
    allow.write_text("")
    deny.write_text("blog: 127.0.0.2\n")
    port = free_port()
    soad.start('hosts-allow = "%s"\nhosts-deny = "%s"\n' % (allow, deny) +
               section(listen=("127.0.0.1:%d" % port,),
                       extra="  tcpwrap = yes\n  tcpwrap-name = blog"))
    ports = []
    for _ in range(3):
        s = connect(("127.0.0.1", port), "127.0.0.2")
        ports.append(s.getsockname()[1])
        s.sendall(b"x\n")
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
        s.close()
    soad.wait_log(r"refused connection from 127\.0\.0\.2:%d" % ports[-1])
    assert soad.pids("px") == [], "a refused client started the service"
    got = refusals(soad)
    assert [a for a, _ in got] == ["127.0.0.2:%d" % p for p in ports]
    assert all("blog" in why for _, why in got), got
    s = connect(("127.0.0.1", port), "127.0.0.1")
    echo(s, b"allowed\n")
    s.close()
    assert len(refusals(soad)) == 3


def test_accepted_connections_get_keepalive(soad):
    """The master's end of a client connection has keepalive probes on,
    after 5 idle minutes (ss shows its keepalive timer)."""
    port = free_port()
    soad.start(GLOBAL + section(listen=("127.0.0.1:%d" % port,)))
    s = connect(("127.0.0.1", port), "127.0.0.1")
    echo(s, b"hi\n")
    out = subprocess.run(["ss", "-tnoH", "state", "established",
                          "( sport = :%d )" % port], capture_output=True,
                         text=True).stdout
    s.close()
    m = re.search(r"timer:\(keepalive,(\d+)min", out)
    assert m and 4 <= int(m.group(1)) <= 5, out


def test_refused_clients_do_not_keep_the_service_up(soad, tmp_path):
    """Connections hosts.deny refuses are not activity: a stream of them
    neither keeps a running service up past its timeout nor restarts
    it."""
    allow, deny = tmp_path / "hosts.allow", tmp_path / "hosts.deny"
    allow.write_text("blog: 127.0.0.1\n")
    deny.write_text("blog: ALL\n")
    port = free_port()
    soad.start('hosts-allow = "%s"\nhosts-deny = "%s"\ntimeout = 1\n'
               % (allow, deny) +
               section(listen=("127.0.0.1:%d" % port,),
                       extra="  tcpwrap = yes\n  tcpwrap-name = blog"))
    s = connect(("127.0.0.1", port), "127.0.0.1")
    echo(s, b"allowed\n")
    s.close()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3.5:
        d = connect(("127.0.0.1", port), "127.0.0.2")
        try:
            d.recv(10)
        except OSError:
            pass
        d.close()
        time.sleep(0.2)
    # Stopped about a second after the allowed client left, not kept up.
    soad.wait_log(r"px: idle for 1 s, stopping pid", timeout=1)
    assert len(soad.pids("px")) == 1


def test_refused_connection_does_not_count_toward_max_connections(soad):
    """max-connections = 2, max-connections-per-source = 1: a second
    client from 127.0.0.1 is refused for its source; it must neither make
    the master log that the service is full nor keep 127.0.0.2 out."""
    port = free_port()
    addr = ("127.0.0.1", port)
    soad.start(GLOBAL + section(
        listen=("127.0.0.1:%d" % port,),
        extra="  max-connections = 2\n  max-connections-per-source = 1"))
    one = hold(addr, "127.0.0.1")
    for _ in range(3):
        s = connect(addr, "127.0.0.1")
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
        s.close()
    two = hold(addr, "127.0.0.2")
    retry(lambda: len(refusals(soad)) == 3, what="3 refusal lines")
    lines = soad.log().splitlines()
    full = [i for i, l in enumerate(lines)
            if re.match(r"soad: px: 2 connections open \(max-connections\)",
                        l)]
    last_refusal = max(i for i, l in enumerate(lines)
                       if "refused connection" in l)
    # Full once, when 127.0.0.2 made it 2 really open; never because of
    # a connection refused for its source.
    assert len(full) == 1 and full[0] > last_refusal, "\n".join(lines)
    one.close()
    two.close()


def test_refusal_flood_is_rate_limited_and_accounted(soad):
    """300 refusals at once: at least 10 are logged one line each, no
    more than soad.8 says (bursts of 100, then 20 a second), the rest are
    summarised, and lines + summarised = 300 exactly."""
    port = free_port()
    addr = ("127.0.0.1", port)
    soad.start(GLOBAL + section(listen=("127.0.0.1:%d" % port,),
                                extra="  max-connections-per-source = 1"))
    keep = hold(addr)
    t0 = time.monotonic()
    for _ in range(300):
        s = connect(addr)
        s.close()

    def total():
        lines = len(refusals(soad))
        summed = sum(int(n) for n in re.findall(
            r"^soad: (\d+) more refusal and limit lines not logged",
            soad.log(), re.M))
        return lines, summed
    retry(lambda: sum(total()) == 300, timeout=10, interval=0.1,
          what="300 refusals accounted for (got %r)" % (total(),))
    lines, summed = total()
    assert lines >= 10 and summed > 0, (lines, summed)
    assert lines <= 100 + 20 * (time.monotonic() - t0) + 1, lines
    keep.close()


# ----------------------------------------------------------- PROXY protocol

HAPROXY_CONF = """global
  log stderr format short local0 notice
defaults
  mode http
  timeout client 10s
  timeout connect 5s
  timeout server 10s
frontend f
  bind fd@3 accept-proxy
  bind fd@4 accept-proxy
  http-request return status 200 content-type text/plain lf-string "%[src]:%[src_port] %[dst]:%[dst_port]"
"""


@pytest.mark.skipif(not os.access(HAPROXY, os.X_OK), reason="no haproxy")
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_proxy_protocol_read_by_haproxy(soad, tmp_path, version):
    """haproxy serves the inherited private listeners with accept-proxy
    (it refuses a connection without a valid header) and reports the
    client's address and port and the address it connected to."""
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(HAPROXY_CONF)
    port = free_port()
    soad.start(GLOBAL + section(
        listen=("127.0.0.1:%d" % port, "[::1]:%d" % port),
        argv=(HAPROXY, "-db", "-f", str(cfg)),
        extra="  proxy-protocol = %s" % version))
    for src, dst in (("127.0.0.2", "127.0.0.1"), ("::1", "::1")):
        s = connect((dst, port), src)
        sport = s.getsockname()[1]
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = recv_all(s)
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), data
        assert body.decode() == "%s:%d %s:%d" % (src, sport, dst, port)


V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1_header(src, sport, dst, dport):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport,
                                          dport)).encode()


def v2_header(src, sport, dst, dport):
    if ":" in src:
        a = socket.inet_pton(socket.AF_INET6, src) + \
            socket.inet_pton(socket.AF_INET6, dst)
        fam = 0x21
    else:
        a = socket.inet_aton(src) + socket.inet_aton(dst)
        fam = 0x11
    body = a + struct.pack("!HH", sport, dport)
    return V2SIG + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_proxy_protocol_exact_bytes(soad, sockdir, version):
    """The bytes the service receives: exactly one header as haproxy's
    proxy-protocol.txt writes it, then the client's bytes untouched.
    TCP4 from 127.0.0.2, TCP6 from ::1, and for a UNIX client (no
    address) v1 "PROXY UNKNOWN" / v2 LOCAL with AF_UNSPEC."""
    port = free_port()
    path = os.path.join(sockdir, "p.sock")
    soad.start(GLOBAL + section(
        listen=("127.0.0.1:%d" % port, "[::1]:%d" % port, path),
        argv=(PYTHON, APP, "reflect"),
        extra="  proxy-protocol = %s" % version))
    make = v1_header if version == "v1" else v2_header
    payload = b"payload \x00\r\n bytes\n"
    for src, dst in (("127.0.0.2", "127.0.0.1"), ("::1", "::1"),
                     (None, path)):
        s = connect(dst if src is None else (dst, port), src)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = recv_all(s)
        if src is None:
            want = (b"PROXY UNKNOWN\r\n" if version == "v1" else
                    V2SIG + b"\x20\x00\x00\x00")
        else:
            want = make(src, s.getsockname()[1], dst, port)
        s.close()
        assert got == want + payload, (src, got)


# ------------------------------------------------------------------ backend

def test_backend_app_binding_late_never_refuses_a_client(soad):
    """An app that binds its own port 0.8 s after it starts and gets no
    socket: requests sent at once all wait and are served (none refused),
    later ones too; it has no LISTEN_* and no fd beyond 0-2 at start."""
    port, q = free_port(), free_port()
    soad.start(GLOBAL + section(
        listen=("127.0.0.1:%d" % port,),
        argv=("/bin/sh", "-c", "sleep 0.8; exec %s --port %d" %
              (FDSERVER, q)),
        extra='  backend = "127.0.0.1:%d"' % q))
    res, t0 = [], time.monotonic()

    def get(path):
        try:
            res.append((path, http_get(("127.0.0.1", port), path),
                        time.monotonic() - t0))
        except Exception as e:       # noqa: BLE001 (reported below)
            res.append((path, e, time.monotonic() - t0))
    ts = [threading.Thread(target=get, args=(p,))
          for p in ("/", "/environ", "/fds", "/", "/")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    errors = [r for r in res if isinstance(r[1], Exception)]
    assert errors == [], errors
    assert min(r[2] for r in res) >= 0.8, "served before the app bound?"
    pid = soad.pid("px")
    body = dict(res_[:2] for res_ in res)
    assert body["/"] == "hello from %d\n" % pid
    env = dict(l.split("=", 1) for l in body["/environ"].splitlines())
    assert not [k for k in env if k.startswith("LISTEN_")], env
    fds = sorted(int(l.split()[0]) for l in body["/fds"].splitlines())
    assert fds == [0, 1, 2], body["/fds"]
    for _ in range(5):
        assert http_get(("127.0.0.1", port)) == "hello from %d\n" % pid
    assert refusals(soad) == []
    assert soad.pids("px") == [pid]


def test_backend_python_http_server(soad, tmp_path):
    """The README's kind of app: python3 -m http.server, started late,
    binds its own port; soad activates it on the first request."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "hello.txt").write_text("hello, backend\n")
    port, q = free_port(), free_port()
    soad.start(GLOBAL + section(
        listen=("127.0.0.1:%d" % port,),
        argv=("/bin/sh", "-c", "sleep 0.5; exec %s -m http.server %d "
              "--bind 127.0.0.1 --directory %s" % (PYTHON, q, www)),
        extra='  backend = "127.0.0.1:%d"' % q))
    assert soad.pids("px") == []
    res = []
    ts = [threading.Thread(target=lambda: res.append(
        http_get(("127.0.0.1", port), "/hello.txt"))) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert res == ["hello, backend\n"] * 4
    assert http_get(("127.0.0.1", port), "/hello.txt") == "hello, backend\n"
    assert refusals(soad) == []


def test_backend_start_timeout_refuses_and_logs(soad):
    """An app that never binds: the client is closed once start-timeout
    (1 s) has passed, not before, with one log line naming it."""
    port, q = free_port(), free_port()
    soad.start(GLOBAL + section(
        listen=("127.0.0.1:%d" % port,),
        argv=("/bin/sleep", "60"),
        extra='  backend = "127.0.0.1:%d"\n  start-timeout = 1' % q))
    s = connect(("127.0.0.1", port), timeout=15)
    cport = s.getsockname()[1]
    t0 = time.monotonic()
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    try:
        assert s.recv(100) == b""
    except ConnectionResetError:
        pass
    waited = time.monotonic() - t0
    s.close()
    assert 0.95 <= waited <= 3.0, waited
    soad.wait_log(r"refused connection from 127\.0\.0\.1:%d" % cport)
    got = refusals(soad)
    assert len(got) == 1 and got[0][0] == "127.0.0.1:%d" % cport, got
    assert "start-timeout" in got[0][1]


# --------------------------------------------------------------------- idle

def hold(addr, source=None):
    s = connect(addr, source)
    echo(s, b"hold\n")
    return s


def test_idle_stop_is_exact_with_a_held_connection(soad):
    """timeout = 2: a connection held open keeps the service running well
    past the timeout; once it closes the service stops about 2 s later,
    not before."""
    port = free_port()
    soad.start(GLOBAL + "timeout = 2\n" +
               section(listen=("127.0.0.1:%d" % port,)))
    s = hold(("127.0.0.1", port))
    pid = soad.pid("px")
    time.sleep(3.5)  # a bounded look for a stop that must not come
    assert soad.count(r"px: idle for") == 0, soad.log()
    assert alive(pid)
    echo(s, b"still here\n")
    s.close()
    closed = time.monotonic()
    soad.wait_log(r"^soad: px: idle for 2 s, stopping pid %d" % pid)
    waited = time.monotonic() - closed
    assert 1.95 <= waited <= 3.5, waited
    soad.wait_log(r"px: pid %d stopped" % pid)
    retry(lambda: not alive(pid), what="service gone")


def test_idle_ignore_serves_but_does_not_keep_it_up(soad):
    """idle-ignore = 127.0.0.2: its connection starts the service and is
    served, but the service stops 2 s after the start with it still
    open; with a 127.0.0.1 connection held it stays up, and stops 2 s
    after that one closes although the 127.0.0.2 one is still open."""
    port = free_port()
    addr = ("127.0.0.1", port)
    soad.start(GLOBAL + "timeout = 2\n" + section(
        listen=("127.0.0.1:%d" % port,),
        extra='  idle-ignore = { "127.0.0.2", "10.0.0.0/8" }'))
    t0 = time.monotonic()
    ign = hold(addr, "127.0.0.2")
    pid = soad.pid("px")
    soad.wait_log(r"^soad: px: idle for 2 s, stopping pid %d" % pid)
    assert 1.9 <= time.monotonic() - t0 <= 4.0
    soad.wait_log(r"px: pid %d stopped" % pid)
    ign.close()

    s = hold(addr, "127.0.0.1")
    pid2 = soad.pid("px", n=2)
    ign = hold(addr, "127.0.0.2")
    time.sleep(3.0)  # a bounded look for a stop that must not come
    assert soad.count(r"px: idle for") == 1, soad.log()
    s.close()
    closed = time.monotonic()
    soad.wait_log(r"^soad: px: idle for 2 s, stopping pid %d" % pid2)
    assert 1.95 <= time.monotonic() - closed <= 3.5
    ign.close()
    assert refusals(soad) == []


# ------------------------------------------------------ private listeners

def unix_paths():
    """inode -> (path, flags) from /proc/net/unix."""
    out = {}
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            p = line.split()
            out[p[6]] = (p[7] if len(p) > 7 else "", int(p[3], 16))
    return out


def test_private_listener_is_root_only_and_removed_at_exit(soad):
    """The service's fds 3 and 4 are listening UNIX sockets at real (not
    abstract) paths in a directory of mode 0700 owned by root, which
    nobody else can connect to; LISTEN_* as in pass mode, none of the
    master's public sockets; the directory is gone after soad exits."""
    port = free_port()
    soad.start(GLOBAL + section(
        listen=("a=127.0.0.1:%d" % port, "b=[::1]:%d" % port),
        argv=(FDSERVER,)))
    env = dict(l.split("=", 1) for l in
               http_get(("127.0.0.1", port), "/env").splitlines())
    pid = soad.pid("px")
    assert env["LISTEN_FDS"] == "2"
    assert env["LISTEN_PID"] == str(pid)
    assert env["LISTEN_FDNAMES"] == "a:b"
    assert http_get(("::1", port)) == "hello from %d\n" % pid
    fds = dict(l.split(" ", 1) for l in
               http_get(("127.0.0.1", port), "/fds").splitlines())
    assert sorted(fds, key=int) == ["0", "1", "2", "3", "4"]
    unix = unix_paths()
    paths = []
    for fd in ("3", "4"):
        ino = re.match(r"socket:\[(\d+)\]$", fds[fd]).group(1)
        assert ino in unix, "fd %s is not a UNIX socket" % fd
        path, flags = unix[ino]
        assert path.startswith("/"), "abstract or unnamed: %r" % path
        assert flags & 0x10000, "not listening"
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        paths.append(path)
    d = os.path.dirname(paths[0])
    assert os.path.dirname(paths[1]) == d and paths[0] != paths[1]
    st = os.stat(d)
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)
    assert st.st_uid == 0
    p = subprocess.run(
        [PYTHON, "-c", "import socket; s = socket.socket(socket.AF_UNIX); "
         "s.connect(%r)" % paths[0]], user=65534, group=65534,
        capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "PermissionError" in p.stderr, p.stderr
    assert soad.stop() == 0
    assert not os.path.exists(d), "private directory left behind"


def test_service_running_as_nobody_serves_its_private_listener(soad):
    """user = nobody: the service cannot enter the private directory, yet
    serves the listener it inherited; it is still the only way in."""
    port = free_port()
    soad.start(GLOBAL + section(listen=("127.0.0.1:%d" % port,),
                                argv=(FDSERVER,), extra="  user = nobody"))
    assert http_get(("127.0.0.1", port), "/id").startswith("uid=65534 ")
    d = re.search(r"private listeners in (\S+)", soad.log()).group(1)
    p = subprocess.run(["/bin/ls", d], user=65534, group=65534,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0, "nobody can list the private directory"


# ------------------------------------------------------------ config errors

SVC_HEAD = ['service x {', '  listen = { "127.0.0.1:9" }',
            '  server = "/bin/true"']

CONF_ERRORS = [
    ("tcpwrap-in-pass", [], ["tcpwrap = yes"], r"tcpwrap.*mode = proxy"),
    ("tcpwrap-in-explicit-pass", [], ["mode = pass", "tcpwrap = yes"],
     r"tcpwrap.*mode = proxy"),
    ("backend-in-pass", [], ['backend = "127.0.0.1:9000"'],
     r"backend.*mode = proxy"),
    ("bad-mode", [], ["mode = relay"], r"mode must be pass, proxy or nowait"),
    ("bad-proxy-protocol", [], ["mode = proxy", "proxy-protocol = v3"],
     r"proxy-protocol"),
    ("bad-proxy-protocol-global", ["proxy-protocol = yes"], [],
     r"proxy-protocol"),
    ("bad-idle-ignore", [], ["mode = proxy",
                             'idle-ignore = { "127.0.0.1", "monitor" }'],
     r"idle-ignore.*monitor"),
    ("bad-idle-ignore-bits", [], ["mode = proxy",
                                  'idle-ignore = { "10.0.0.0/33" }'],
     r"idle-ignore"),
    ("max-connections-0", [], ["mode = proxy", "max-connections = 0"],
     r"max-connections"),
    ("max-per-source-negative", [],
     ["mode = proxy", "max-connections-per-source = -1"],
     r"max-connections-per-source"),
    ("start-timeout-0", [], ["mode = proxy", "start-timeout = 0"],
     r"start-timeout"),
    ("backend-port-only", [], ["mode = proxy", 'backend = "9000"'],
     r'backend "9000" needs a host address, e\.g\. 127\.0\.0\.1:9000$'),
    pytest.param(
        [], ["mode = proxy", 'backend = "*:9000"'],
        r'backend "\*:9000" needs a host address, e\.g\. 127\.0\.0\.1:9000$',
        id="backend-wildcard"),
    ("bad-tcpwrap-name", [], ["mode = proxy", 'tcpwrap-name = "a:b"'],
     r"tcpwrap-name"),
]


@pytest.mark.parametrize("glob_lines,svc_lines,msg", [
    c if hasattr(c, "marks") else pytest.param(*c[1:], id=c[0])
    for c in CONF_ERRORS])
def test_config_error_names_the_key_line(tmp_path, glob_lines, svc_lines,
                                         msg):
    lines = list(glob_lines) + SVC_HEAD + ["  " + l for l in svc_lines] + \
        ["}"]
    bad = (glob_lines or svc_lines)[-1]
    lineno = [i for i, l in enumerate(lines, 1) if l.strip() == bad][0]
    conf = tmp_path / "bad.conf"
    conf.write_text("\n".join(lines) + "\n")
    rc, err = run_check(str(conf))
    assert rc == 78, err
    m = re.search(r"^%s:%d: (.*)$" % (re.escape(str(conf)), lineno), err,
                  re.M)
    assert m, "no %s:%d: error in:\n%s" % (conf, lineno, err)
    assert re.search(msg, m.group(1)), m.group(1)
    p = subprocess.run([SOAD, "-d", "-f", str(conf)], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 78


def test_global_tcpwrap_with_pass_services_is_not_an_error(tmp_path):
    conf = tmp_path / "ok.conf"
    conf.write_text("tcpwrap = yes\nmode = pass\n" + "\n".join(SVC_HEAD) +
                    "\n}\nservice y {\n  mode = proxy\n"
                    '  listen = { "127.0.0.1:10" }\n'
                    '  server = "/bin/true"\n}\n')
    rc, err = run_check(str(conf))
    assert (rc, err) == (0, "")


# ---------------------------------------------------------- fd exhaustion

def start_low_nofile(soad, conf):
    start_raw(soad, conf, preexec_fn=lambda: resource.setrlimit(
        resource.RLIMIT_NOFILE, (200, 200)))
    soad.wait_log(r"file descriptor limit 200\b")


def filler(n):
    """N pass-mode services of one listener each, never started: each
    shifts the master's fd numbering by one, so which call meets the
    last free fd (the accept, or the connect to the service after it)
    can be chosen."""
    return "".join(section("filler%d" % i, ("127.0.0.1:%d" % free_port(),),
                           argv=(FDSERVER,), mode="pass")
                   for i in range(n))


def start_at_parity(soad, conf_for, services, accept_first=True):
    """Start soad with RLIMIT_NOFILE 200 so that, as a proxied connection
    takes two fds in the master (its two sockets; the relay's pipes come
    in pairs), the accept (ACCEPT_FIRST) or else the socket to the
    service is the call that meets the limit.  CONF_FOR(k) is the config
    with k filler listeners; SERVICES maps each proxy service to its
    port, each activated once before the fds are counted."""
    for k in (0, 1):
        start_low_nofile(soad, conf_for(k))
        for name, port in services.items():
            hold(("127.0.0.1", port)).close()
            retry(lambda: ", 0 connections open," in state_line(soad, name),
                  interval=0.1, what="%s's connection closed" % name)
        free = 200 - fd_count(soad.proc.pid)
        if (free % 2 == 0) == accept_first:
            return
        soad.stop()
        soad.logf.close()
    raise AssertionError("no filler count gives that fd parity")


PAUSE = r"^soad: %s: .*Too many open files.*paus"


def flood(port, n, data):
    """N clients that connect (and send DATA, if any) and stay."""
    out = []
    try:
        for i in range(n):
            s = connect(("127.0.0.1", port), timeout=10)
            out.append(s)
            if data:
                s.sendall(b"c%d\n" % i)
    except BaseException:
        for s in out:
            s.close()
        raise
    return out


def serves(port):
    try:
        s = connect(("127.0.0.1", port), timeout=2)
    except OSError:
        return False
    try:
        echo(s, b"after\n")
        return True
    except (AssertionError, OSError):
        return False
    finally:
        s.close()


def test_out_of_fds_pauses_accepting_without_spinning(soad, nofile):
    """soad started with RLIMIT_NOFILE 200 (soft = hard) and 300 clients
    at once: it logs the limit it got and the pause, its CPU time while
    stuck stays small (no accept spin), and once the clients close it
    serves new ones by itself and its fd count comes back."""
    port = free_port()
    start_at_parity(soad, lambda k: GLOBAL + filler(k) + section(
        listen=("127.0.0.1:%d" % port,)), {"px": port})
    master = soad.proc.pid
    base_fds = fd_count(master)
    clients = flood(port, 300, True)
    try:
        soad.wait_log(PAUSE % "px")
        c0 = cpu_ticks(master)
        time.sleep(2.0)  # CPU used over a fixed window while stuck
        used = (cpu_ticks(master) - c0) / os.sysconf("SC_CLK_TCK")
        assert used < 0.3, "master used %.2f s of CPU in 2 s while out " \
            "of fds" % used
        assert alive(master)
    finally:
        for s in clients:
            s.close()
    retry(lambda: serves(port), timeout=30, interval=0.2,
          what="serving again")
    retry(lambda: fd_count(master) <= base_fds + 2, timeout=40,
          interval=0.2, what="the master's fds back to %d" % base_fds)


def test_out_of_fds_pause_is_logged_once_not_per_retry(soad, nofile):
    """While the master stays out of fds, the pause is logged for the
    episode, not again at every 250 ms retry (4 lines a second, for as
    long as it lasts, would fill a disk)."""
    port = free_port()
    start_at_parity(soad, lambda k: GLOBAL + filler(k) + section(
        listen=("127.0.0.1:%d" % port,)), {"px": port})
    clients = flood(port, 300, True)
    try:
        n0 = int(bool(soad.wait_log(PAUSE % "px"))) and \
            soad.count(PAUSE % "px")
        time.sleep(2.0)  # a fixed window while stuck
        more = soad.count(PAUSE % "px") - n0
    finally:
        for s in clients:
            s.close()
    assert more <= 1, "%d more pause lines in 2 s" % more


@pytest.mark.parametrize("accept_first", [
    pytest.param(True, id="accept-meets-limit"),
    pytest.param(False, id="socket-meets-limit")])
def test_out_of_fds_no_client_is_refused(soad, nofile, accept_first):
    """300 clients that connect and have not sent yet (a browser before
    its request): running out of fds must make the master pause, not
    accept a client only to close it because the socket to the service
    cannot be made; the clients it could not take are served once others
    leave.  Both fd parities: the accept or the socket to the service
    meets the limit."""
    port = free_port()
    start_at_parity(soad, lambda k: GLOBAL + filler(k) + section(
        listen=("127.0.0.1:%d" % port,)), {"px": port}, accept_first)
    clients = flood(port, 300, False)
    try:
        retry(lambda: soad.count(PAUSE % "px") or refusals(soad),
              what="a pause or a refusal")
        assert refusals(soad) == [], \
            "%d clients refused for want of fds, e.g. %r" % (
                len(refusals(soad)), refusals(soad)[0])
        for s in clients[:250]:
            s.close()
        for i, s in enumerate(clients[250:]):
            echo(s, b"late %d\n" % i)
    finally:
        for s in clients:
            s.close()


def test_full_service_resumes_after_another_services_fd_pause(soad, nofile):
    """Service q is at max-connections (1) with a client waiting when
    service p runs soad out of fds and accepting pauses.  q's connection
    closes during the pause: once the pause is over, q's waiting client
    must be served (its listener re-armed), not left in the backlog.
    (The fd parity is chosen so that the accept meets the limit and
    accepting pauses.)"""
    p, q = free_port(), free_port()
    start_at_parity(soad, lambda k: GLOBAL + filler(k) +
                    section("p", ("127.0.0.1:%d" % p,)) +
                    section("q", ("127.0.0.1:%d" % q,),
                            extra="  max-connections = 1"),
                    {"p": p, "q": q})
    held = hold(("127.0.0.1", q))
    waiting = connect(("127.0.0.1", q))
    waiting.sendall(b"waiting\n")
    clients = flood(p, 300, True)
    try:
        n = int(bool(soad.wait_log(PAUSE % "p"))) and soad.count(PAUSE % "p")
        held.close()
        # q's close is handled while p's pause is (re-)armed: wait for
        # p's next retry to be sure.
        soad.wait_log(PAUSE % "p", n=n + 1)
    finally:
        for s in clients:
            s.close()
    waiting.settimeout(10)
    try:
        assert recv_exact(waiting, 8) == b"waiting\n"
    except socket.timeout:
        raise AssertionError("q's waiting client was never accepted:\n" +
                             soad.log()[-3000:])
    waiting.close()


# ------------------------------------------------------ instances come, go

def test_queued_connections_survive_instances_that_exit(soad):
    """Private listeners belong to the master: connections queued there
    outlive an instance that exits (fdserver --exit-after 1 serves one
    connection each run) and are served by the next one; none is lost."""
    port = free_port()
    soad.start(GLOBAL + section(listen=("127.0.0.1:%d" % port,),
                                argv=(FDSERVER, "--exit-after", "1")))
    res = []

    def get():
        try:
            res.append(http_get(("127.0.0.1", port), timeout=30))
        except Exception as e:       # noqa: BLE001 (reported below)
            res.append(e)
    ts = [threading.Thread(target=get) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(isinstance(r, str) and r.startswith("hello from ")
               for r in res), res
    assert len(set(res)) == 3, "one instance per connection: %r" % res
    assert refusals(soad) == []


def test_connection_during_a_stop_is_served_by_the_next_instance(soad):
    """timeout = 1 and a service that takes 1.5 s to stop: a client that
    arrives while it stops waits and is served by the next instance."""
    port = free_port()
    soad.start(GLOBAL + "timeout = 1\n" + section(
        listen=("127.0.0.1:%d" % port,),
        argv=(FDSERVER, "--linger-ms", "1500")))
    first = http_get(("127.0.0.1", port))
    pid = soad.pid("px")
    soad.wait_log(r"px: idle for 1 s, stopping pid %d" % pid)
    assert soad.count(r"px: pid %d stopped" % pid) == 0
    second = http_get(("127.0.0.1", port), timeout=15)
    pid2 = soad.pid("px", n=2)
    assert first == "hello from %d\n" % pid
    assert second == "hello from %d\n" % pid2 and pid2 != pid
    assert refusals(soad) == []


def test_backend_app_restarts_after_idle_stops(soad):
    """Backend mode across activation cycles (timeout = 1): after each
    stop the next client starts the app again, waits for it to bind its
    port, and is served; nothing refused."""
    port, q = free_port(), free_port()
    soad.start(GLOBAL + "timeout = 1\n" + section(
        listen=("127.0.0.1:%d" % port,),
        argv=("/bin/sh", "-c", "sleep 0.3; exec %s --port %d" %
              (FDSERVER, q)),
        extra='  backend = "127.0.0.1:%d"' % q))
    for n in range(1, 4):
        assert http_get(("127.0.0.1", port)) == \
            "hello from %d\n" % soad.pid("px", n=n)
        soad.wait_log(r"px: pid %d stopped" % soad.pid("px", n=n))
    assert refusals(soad) == []
    assert len(soad.pids("px")) == 3


def test_soad_exits_promptly_with_connections_open(soad, nofile):
    """SIGTERM with proxied connections open and clients waiting on a
    service at max-connections: soad stops the service and exits 0 in
    time, its clients see the connection end, and the private directory
    is removed."""
    port = free_port()
    soad.start(GLOBAL + section(listen=("127.0.0.1:%d" % port,),
                                extra="  max-connections = 5"))
    held = [hold(("127.0.0.1", port)) for _ in range(5)]
    waiting = [connect(("127.0.0.1", port)) for _ in range(3)]
    d = os.path.dirname(re.search(r"private listeners in (\S+)",
                                  soad.log()).group(1) + "/x")
    assert os.path.isdir(d)
    t0 = time.monotonic()
    assert soad.stop(timeout=15) == 0
    assert time.monotonic() - t0 < 5.0
    for s in held:
        try:
            assert recv_all(s) == b""
        except ConnectionResetError:
            pass
        s.close()
    for s in waiting:
        s.close()
    assert not os.path.exists(d)


# --------------------------------------------------------------------- soak

SOAK_BURSTS = 5
SOAK_PER_BURST = 20000
SOAK_THREADS = 8
IP_BIND_ADDRESS_NO_PORT = 24


def burst(addr, n, fails):
    """N short connections (connect, echo, close) from 8 threads spread
    over 127.0.0.1-8; failures are appended to FAILS."""
    def worker(k, count):
        src = "127.0.0.%d" % (1 + k % 8)
        msg = b"soak %d\n" % k
        for _ in range(count):
            s = socket.socket()
            try:
                s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((src, 0))
                s.settimeout(10)
                s.connect(addr)
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    b = s.recv(64)
                    if not b:
                        break
                    got += b
                if got != msg:
                    fails.append(("short echo", got))
            except OSError as e:
                fails.append(("error", repr(e)))
            finally:
                s.close()
    ts = [threading.Thread(target=worker,
                           args=(k, n // SOAK_THREADS +
                                 (k < n % SOAK_THREADS)))
          for k in range(SOAK_THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def test_soak_100k_connections_across_activation_cycles(soad):
    """100,000 proxied connections in 5 bursts with the service stopped
    (timeout = 1) and restarted between them: no failed connection; the
    master's fd count and RSS end where they began; no zombies."""
    port = free_port()
    addr = ("127.0.0.1", port)
    soad.start(GLOBAL + "timeout = 1\n" +
               section(listen=("127.0.0.1:%d" % port,)))
    master = soad.proc.pid
    fails = []
    t0 = time.monotonic()
    burst(addr, 2000, fails)       # warm-up: the allocator's high-water
    soad.wait_log(r"px: pid \d+ stopped", n=1)
    fds0, rss0 = fd_count(master), rss_kb(master)
    for i in range(SOAK_BURSTS):
        burst(addr, SOAK_PER_BURST, fails)
        assert fails == [], fails[:5]
        soad.wait_log(r"px: pid \d+ stopped", n=i + 2)
    elapsed = time.monotonic() - t0
    assert len(soad.pids("px")) == SOAK_BURSTS + 1, \
        "one activation per burst"
    retry(lambda: fd_count(master) == fds0, timeout=5,
          what="fds back to %d (now %d)" % (fds0, fd_count(master)))
    # ASan holds freed memory in its quarantine (256 MB): RSS says
    # nothing there; LeakSanitizer checks for leaks at exit instead.
    if not SANITIZED:
        assert rss_kb(master) - rss0 <= 2048, (rss0, rss_kb(master))
    retry(lambda: not [p for p, st in children(master) if st == "Z"],
          what="no zombie children of the master")
    assert soad.count(r"^soad: px: pid \d+ stopped \((?!exited with "
                      r"status 0)") == 0, soad.log()
    assert refusals(soad) == []
    print("soak: %d connections in %.1f s" % (
        2000 + SOAK_BURSTS * SOAK_PER_BURST, elapsed))


def test_soak_with_tcpwrap_checks_and_refusals(soad, tmp_path):
    """20,000 connections with tcp_wrappers checks on (the default) over
    two activation cycles, plus 500 that hosts.deny refuses on purpose
    (127.0.0.9): every allowed one served, every denied one refused and
    accounted for in the log; the master's fds and RSS end where they
    began and the check helpers leave no zombie."""
    allow, deny = tmp_path / "hosts.allow", tmp_path / "hosts.deny"
    allow.write_text("")
    deny.write_text("px: 127.0.0.9\n")
    port = free_port()
    addr = ("127.0.0.1", port)
    soad.start('hosts-allow = "%s"\nhosts-deny = "%s"\ntimeout = 1\n'
               % (allow, deny) + section(listen=("127.0.0.1:%d" % port,)))
    master = soad.proc.pid
    fails = []
    burst(addr, 1000, fails)
    soad.wait_log(r"px: pid \d+ stopped", n=1)
    fds0, rss0 = fd_count(master), rss_kb(master)
    denied = 0
    for i in range(2):
        burst(addr, 10000, fails)
        assert fails == [], fails[:5]
        for _ in range(250):
            s = connect(addr, "127.0.0.9")
            try:
                if s.recv(10) == b"":
                    denied += 1
            except ConnectionResetError:
                denied += 1
            s.close()
        soad.wait_log(r"px: pid \d+ stopped", n=i + 2)
    assert denied == 500

    def accounted():
        lines = len([1 for a, _ in refusals(soad)
                     if a.startswith("127.0.0.9:")])
        return lines + sum(int(n) for n in re.findall(
            r"^soad: (\d+) more refusal and limit lines not logged",
            soad.log(), re.M))
    retry(lambda: accounted() == 500, what="500 refusals in the log")
    assert all(a.startswith("127.0.0.9:") for a, _ in refusals(soad))
    retry(lambda: fd_count(master) == fds0, timeout=5,
          what="fds back to %d (now %d)" % (fds0, fd_count(master)))
    # ASan holds freed memory in its quarantine (256 MB): RSS says
    # nothing there; LeakSanitizer checks for leaks at exit instead.
    if not SANITIZED:
        assert rss_kb(master) - rss0 <= 2048, (rss0, rss_kb(master))
    retry(lambda: not [p for p, st in children(master) if st == "Z"],
          what="no zombie children of the master")
