"""Open-connection counting (src/conncount.c) with the real soad binary
and tests/fdserver: a count sees the service's own connections and
nothing else on the host (unrelated connections, TIME-WAIT sockets on its
port, another service's connections on a neighbouring port, on the same
port of another address or family, or on another UNIX socket), over
IPv4, IPv6, dual-stack and UNIX listeners; busy services are counted
together, about once a second, not once per service every timeout/10."""
import os
import re
import socket
import time

import pytest

from conftest import FDSERVER, alive, free_port, http_get


def svc(name, listen, extra=""):
    lst = ", ".join('"%s"' % a for a in listen)
    return """service %s {
  listen = { %s }
  server = "%s"
  args = { "fdserver" }
%s
}
""" % (name, lst, FDSERVER, extra)


def port_pair():
    """A port P free on 127.0.0.1, 127.0.0.2 and ::1, with P+1 free on
    127.0.0.1: room for neighbours on the same and the next port."""
    for _ in range(100):
        p = free_port()
        try:
            for host, port in (("127.0.0.2", p), ("::1", p),
                               ("127.0.0.1", p + 1)):
                fam = socket.AF_INET6 if ":" in host else socket.AF_INET
                s = socket.socket(fam, socket.SOCK_STREAM)
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((host, port))
                finally:
                    s.close()
        except OSError:
            continue
        return p
    raise RuntimeError("no free port pair")


def hold(addr):
    """A connection the service keeps open (fdserver's /hold)."""
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX)
    else:
        s = socket.socket(socket.AF_INET6 if ":" in addr[0]
                          else socket.AF_INET)
    s.settimeout(10)
    s.connect(addr)
    s.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"held" not in got:
        chunk = s.recv(4096)
        assert chunk, "connection closed before the body: %r" % got
        got += chunk
    return s


class Unrelated:
    """N established loopback connections on a port no service uses."""

    def __init__(self, n):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1024)
        self.socks = []
        for _ in range(n):
            c = socket.create_connection(self.ls.getsockname())
            self.socks += [c, self.ls.accept()[0]]

    def close(self):
        for s in self.socks:
            s.close()
        self.ls.close()


def tcp_states(port, host_hex=None):
    """States (hex strings) of the sockets whose local port is PORT, from
    /proc/net/tcp and tcp6."""
    out = []
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(f) as fh:
            next(fh)
            for line in fh:
                local, st = line.split()[1], line.split()[3]
                addr, p = local.split(":")
                if int(p, 16) == port and (host_hex is None or
                                           addr == host_hex):
                    out.append(st)
    return out


def test_only_own_connections_count(soad, sockdir):
    """web (127.0.0.1:P, [::1]:P and a UNIX socket) is used, then left
    with nothing open of its own while the host is full of sockets that
    are not its: TIME-WAIT on its port, 200 unrelated connections, and
    held connections to other services on 127.0.0.2:P (same port,
    another address: a count by port alone keeps web up), on 127.0.0.1:P+1
    (the next port) and on another UNIX socket.  web must stop; the
    others must stay up and be counted exactly."""
    p = port_pair()
    web_sock = os.path.join(sockdir, "web.sock")
    other_sock = os.path.join(sockdir, "other.sock")
    soad.start("timeout = 1\n" +
               svc("web", ("127.0.0.1:%d" % p, "[::1]:%d" % p, web_sock)) +
               svc("same", ("127.0.0.2:%d" % p,)) +
               svc("next", ("127.0.0.1:%d" % (p + 1),)) +
               svc("unix", (other_sock,)))
    held = [hold(("127.0.0.2", p)), hold(("127.0.0.2", p)),
            hold(("127.0.0.1", p + 1)), hold(other_sock)]
    noise = Unrelated(200)
    try:
        for _ in range(10):     # the server closes first: TIME-WAIT on P
            http_get(("127.0.0.1", p))
        http_get(("::1", p))
        http_get(web_sock)
        assert "06" in tcp_states(p, "0100007F"), \
            "no TIME-WAIT socket on 127.0.0.1:%d to ignore" % p
        web = soad.pid("web")
        t0 = time.monotonic()
        soad.wait_log(r"web: idle for 1 s, stopping pid %d" % web,
                      timeout=10)
        soad.wait_log(r"web: pid %d stopped" % web)
        assert time.monotonic() - t0 < 4.0, soad.log()
        # The others were counted, exactly, and kept.
        soad.wait_log(r"same: 2 connections open, not idle")
        soad.wait_log(r"next: 1 connections open, not idle")
        soad.wait_log(r"unix: 1 connections open, not idle")
        for name in ("same", "next", "unix"):
            assert soad.count(r"%s: idle for" % name) == 0, soad.log()
            assert alive(soad.pids(name)[0])
    finally:
        noise.close()
        for s in held:
            s.close()
    for name in ("same", "next", "unix"):
        soad.wait_log(r"%s: pid \d+ stopped" % name, timeout=10)


def test_other_family_on_same_port_does_not_count(soad):
    """A [::1]:P service next to an IPv4 service on 127.0.0.1:P with held
    connections: the IPv4 ones are not the IPv6 service's."""
    p = port_pair()
    soad.start("timeout = 1\n" + svc("v6", ("[::1]:%d" % p,)) +
               svc("v4", ("127.0.0.1:%d" % p,)))
    held = [hold(("127.0.0.1", p)), hold(("127.0.0.1", p))]
    try:
        http_get(("::1", p))
        v6 = soad.pid("v6")
        soad.wait_log(r"v6: pid %d stopped" % v6, timeout=10)
        soad.wait_log(r"v4: 2 connections open, not idle")
        assert soad.count(r"v4: idle for") == 0
    finally:
        for s in held:
            s.close()


@pytest.mark.parametrize("kind", ["v4", "v6", "dual-v4", "dual-v6", "unix"])
def test_held_connection_keeps_service_up(soad, sockdir, kind):
    """One held connection keeps a timeout = 1 service up over every kind
    of listener, with 100 unrelated connections around; once it closes the
    service stops within max(1.1 T, T + 1 s) of the close, plus the
    process's exit."""
    p = port_pair()
    path = os.path.join(sockdir, "h.sock")
    listen, addr = {
        "v4": ("127.0.0.1:%d" % p, ("127.0.0.1", p)),
        "v6": ("[::1]:%d" % p, ("::1", p)),
        "dual-v4": ("%d" % p, ("127.0.0.1", p)),
        "dual-v6": ("%d" % p, ("::1", p)),
        "unix": (path, path),
    }[kind]
    soad.start("timeout = 1\n" + svc("web", (listen,)))
    noise = Unrelated(100)
    try:
        s = hold(addr)
        pid = soad.pid("web")
        soad.wait_log(r"web: 1 connections open, not idle", timeout=5)
        if kind != "unix":
            # Filtered in the kernel: only the service's own socket (and
            # no unrelated one) crosses into soad; after that first walk
            # the held connection is looked up alone.
            soad.wait_log(r"1 service counted in one pass \(0 by a held "
                          r"connection, 1 TCP sockets read")
            soad.wait_log(r"1 service counted in one pass \(1 by a held "
                          r"connection, 0 TCP sockets read")
            assert soad.count(r"in one pass \(\d+ by a held connection, "
                              r"(?![01] )\d+ TCP sockets") == 0, soad.log()
        time.sleep(2.5)  # several timeouts with the connection open
        assert soad.count(r"web: idle for") == 0, soad.log()
        assert alive(pid)
        closed = time.monotonic()
        s.close()
        soad.wait_log(r"web: pid %d stopped" % pid, timeout=10)
        assert 1.0 <= time.monotonic() - closed <= 3.0, soad.log()
    finally:
        noise.close()


def test_witness_gone_but_other_connection_open(soad):
    """The connection a walk found is looked up alone afterwards; when it
    closes while another one is still open, the next count walks again,
    finds the other one and keeps the service; when that closes too, the
    service stops."""
    p = port_pair()
    soad.start("timeout = 1\n" + svc("web", ("127.0.0.1:%d" % p,)))
    first = hold(("127.0.0.1", p))
    pid = soad.pid("web")
    soad.wait_log(r"web: 1 connections open, not idle", timeout=5)
    second = hold(("127.0.0.1", p))
    soad.wait_log(r"\(1 by a held connection, 0 TCP sockets read")
    walks = soad.count(r"\(0 by a held connection, 1 TCP sockets read")
    first.close()
    soad.wait_log(r"\(0 by a held connection, 1 TCP sockets read",
                  n=walks + 1, timeout=5)
    time.sleep(2.0)  # two timeouts on the second connection alone
    assert soad.count(r"web: idle for") == 0, soad.log()
    assert alive(pid)
    closed = time.monotonic()
    second.close()
    soad.wait_log(r"web: pid %d stopped" % pid, timeout=10)
    assert 1.0 <= time.monotonic() - closed <= 3.0, soad.log()


def passes(log):
    """Services counted by each counting pass in soad's log, in order."""
    return [int(m) for m in re.findall(
        r"open connections: (\d+) services? counted in one pass", log)]


def test_busy_services_are_counted_together_once_a_second(soad):
    """Three busy services with timeout = 1: the old code counted each
    one every 0.1 s, one dump per service.  Now they share a one-second
    grid: one pass counts all three, about once a second."""
    ports = [port_pair() for _ in range(3)]
    soad.start("timeout = 1\n" + "".join(
        svc("s%d" % i, ("127.0.0.1:%d" % p,)) for i, p in enumerate(ports)))
    held = [hold(("127.0.0.1", p)) for p in ports]
    try:
        for i in range(3):
            soad.wait_log(r"s%d: 1 connections open, not idle" % i)
        # Let every service reach the grid, then watch 4 s of it.
        time.sleep(2.0)
        before = len(passes(soad.log()))
        time.sleep(4.0)
        got = passes(soad.log())[before:]
        assert 3 <= len(got) <= 8, (got, soad.log())
        assert got.count(3) >= 3, (got, soad.log())
        for i in range(3):
            assert soad.count(r"s%d: idle for" % i) == 0
    finally:
        for s in held:
            s.close()
    for i in range(3):
        soad.wait_log(r"s%d: pid \d+ stopped" % i, timeout=10)
