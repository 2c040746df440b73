"""The internal services (echo, discard, chargen, daytime, time) served by
the master itself, over TCP and UDP, with the real binary and Python
socket clients.  Every answer is checked byte for byte against what the
RFCs say (862, 863, 864, 867, 868); datagram services also against the
inetd rules: one answer per request, none to broadcast destinations or
from source ports that could start a loop, and the answer leaves from
the address the request was sent to."""
import os
import re
import socket
import threading
import time

import pytest

from conftest import free_port, retry

TIME_OFFSET = 2208988800          # 1900-01-01 to 1970-01-01, RFC 868
KINDS = ("echo", "discard", "chargen", "daytime", "time")
DAYTIME_RE = re.compile(
    rb"^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|"
    rb"Sep|Oct|Nov|Dec) [ 123][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] "
    rb"[0-9]{4}\r\n$")


def chargen_line(n):
    """RFC 864 line N: characters N..N+71 (mod 95) of the 95 printable
    ASCII characters in order, the space being number 0; then CRLF."""
    return bytes(32 + (n + i) % 95 for i in range(72)) + b"\r\n"


def daytime_for(t):
    """ctime(3)'s layout of T in local time, with CRLF."""
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(t)).encode() \
        + b"\r\n"


def free_udp_port(host="127.0.0.1"):
    for _ in range(200):
        port = free_port(host)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free UDP port")


def conf(services, tcpwrap=False):
    """A soad.conf with one section per (name, kind, socktype, listen)."""
    out = []
    for name, kind, socktype, listen in services:
        out.append("""service %s {
  internal = %s
  socket-type = %s
  listen = { "%s" }%s
}
""" % (name, kind, socktype, listen,
            "" if tcpwrap else "\n  tcpwrap = no"))
    return "".join(out)


@pytest.fixture
def tcp_all(soad):
    """The five services over TCP on 127.0.0.1."""
    ports = dict((k, free_port()) for k in KINDS)
    soad.start(conf([("%s-tcp" % k, k, "stream", "127.0.0.1:%d" % ports[k])
                     for k in KINDS]))
    return ports


@pytest.fixture
def udp_all(soad):
    """The five services over UDP on every address (dual stack), plus a
    plain UDP discard on 127.0.0.1 whose port the loop test borrows."""
    ports = dict((k, free_udp_port()) for k in KINDS)
    ports["other"] = free_udp_port()
    svcs = [("%s-udp" % k, k, "dgram", "%d" % ports[k]) for k in KINDS]
    svcs.append(("other-udp", "discard", "dgram",
                 "127.0.0.1:%d" % ports["other"]))
    soad.start(conf(svcs))
    return ports


def tcp_read_all(port, send=b"", timeout=10.0):
    """Send SEND, then EOF; everything the service sends until its EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        if send:
            s.sendall(send)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def udp_ask(port, data, dst="127.0.0.1", src="127.0.0.1", src_port=0,
            broadcast=False, timeout=2.0):
    """Send DATA from SRC:SRC_PORT to DST:PORT; (answer, its source) or
    (None, None) when nothing comes within TIMEOUT."""
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.bind((src, src_port))
        if broadcast:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.settimeout(timeout)
        s.sendto(data, (dst, port))
        try:
            answer, frm = s.recvfrom(65536)
        except socket.timeout:
            return None, None
        return answer, frm


# --- TCP ---

def test_tcp_echo_1mb(tcp_all):
    """RFC 862: every byte back, in order; a client that writes 1 MB
    before reading anything is held back by TCP, not buffered."""
    data = os.urandom(1 << 20)
    got = bytearray()
    with socket.create_connection(("127.0.0.1", tcp_all["echo"]), 10) as s:
        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send, daemon=True)
        t.start()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        t.join(10)
    assert bytes(got) == data


def test_tcp_discard(tcp_all):
    """RFC 863: everything read, nothing sent; closed at the client's
    EOF."""
    assert tcp_read_all(tcp_all["discard"], os.urandom(200000)) == b""


def test_tcp_chargen_pattern(tcp_all):
    """RFC 864: 72-character lines, each starting one character later,
    CRLF; the pattern goes on past one whole cycle of 95 lines."""
    want = b"".join(chargen_line(n) for n in range(200))
    with socket.create_connection(("127.0.0.1", tcp_all["chargen"]),
                                  10) as s:
        s.sendall(b"ignored\r\n")
        got = b""
        while len(got) < len(want):
            chunk = s.recv(65536)
            assert chunk, "chargen closed early"
            got += chunk
    assert got[:74] == (b" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMN"
                        b"OPQRSTUVWXYZ[\\]^_`abcdefg\r\n")
    assert got[:len(want)] == want


def test_tcp_chargen_reader_that_stops(soad, tcp_all):
    """A client that never reads costs no CPU: the master waits for the
    window to open instead of retrying; its EOF ends the service."""
    pid = soad.proc.pid
    with socket.create_connection(("127.0.0.1", tcp_all["chargen"]),
                                  10) as s:
        s.recv(100)
        time.sleep(0.3)                 # let the buffers fill

        def cpu():
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(") ", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / \
                os.sysconf("SC_CLK_TCK")
        c0 = cpu()
        time.sleep(1.0)
        assert cpu() - c0 < 0.2
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        while s.recv(65536):
            pass                        # drained, then EOF


def test_tcp_daytime(tcp_all):
    """RFC 867: one line, CRLF-terminated, then EOF: ctime(3)'s layout,
    as the BSD inetds send it."""
    t0 = int(time.time())
    got = tcp_read_all(tcp_all["daytime"])
    t1 = int(time.time())
    assert DAYTIME_RE.match(got), got
    assert got in [daytime_for(t) for t in range(t0, t1 + 1)]


def test_tcp_time(tcp_all):
    """RFC 868: 4 bytes, big-endian seconds since 1900, then EOF."""
    t0 = int(time.time())
    got = tcp_read_all(tcp_all["time"])
    t1 = int(time.time())
    assert len(got) == 4
    v = int.from_bytes(got, "big")
    assert (t0 + TIME_OFFSET) % 2**32 <= v <= (t1 + TIME_OFFSET) % 2**32


def test_tcp_many_clients(tcp_all):
    """Connections are served side by side by the master."""
    socks = [socket.create_connection(("127.0.0.1", tcp_all["echo"]), 10)
             for _ in range(20)]
    try:
        for i, s in enumerate(socks):
            s.sendall(b"client %d\n" % i)
        for i, s in enumerate(socks):
            want = b"client %d\n" % i
            got = b""
            while len(got) < len(want):
                got += s.recv(100)
            assert got == want
    finally:
        for s in socks:
            s.close()


# --- UDP ---

@pytest.mark.parametrize("dst,src", [("127.0.0.1", "127.0.0.1"),
                                     ("::1", "::1")])
def test_udp_echo(udp_all, dst, src):
    answer, frm = udp_ask(udp_all["echo"], b"hello, echo\x00\xff", dst, src)
    assert answer == b"hello, echo\x00\xff"
    assert frm[0] == dst and frm[1] == udp_all["echo"]


@pytest.mark.parametrize("dst,src", [("127.0.0.1", "127.0.0.1"),
                                     ("::1", "::1")])
def test_udp_one_byte_gets_full_answers(udp_all, dst, src):
    """A 1-byte request gets the whole daytime line, the 4 time bytes and
    a chargen datagram of at most 512 bytes of whole pattern lines."""
    t0 = int(time.time())
    answer, _ = udp_ask(udp_all["daytime"], b"x", dst, src)
    t1 = int(time.time())
    assert answer in [daytime_for(t) for t in range(t0, t1 + 1)]

    answer, _ = udp_ask(udp_all["time"], b"x", dst, src)
    t1 = int(time.time())
    v = int.from_bytes(answer, "big")
    assert len(answer) == 4
    assert (t0 + TIME_OFFSET) % 2**32 <= v <= (t1 + TIME_OFFSET) % 2**32

    answer, _ = udp_ask(udp_all["chargen"], b"x", dst, src)
    assert 0 < len(answer) <= 512 and len(answer) % 74 == 0
    first = answer[0] - 32
    assert answer == b"".join(chargen_line(first + n)
                              for n in range(len(answer) // 74))


def test_udp_time_empty_request(udp_all):
    """RFC 868 over UDP: the request is an empty datagram."""
    answer, _ = udp_ask(udp_all["time"], b"")
    assert answer is not None and len(answer) == 4


def test_udp_one_answer_per_request(udp_all):
    """Each request datagram draws exactly one answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        for i in range(10):
            s.sendto(b"%d" % i, ("127.0.0.1", udp_all["chargen"]))
        s.settimeout(2)
        got = [s.recv(1024) for _ in range(10)]
        assert all(0 < len(g) <= 512 for g in got)
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(1024)


def test_udp_discard_sends_nothing(udp_all):
    answer, _ = udp_ask(udp_all["discard"], b"drop me", timeout=0.5)
    assert answer is None


def test_udp_reply_from_the_address_asked(udp_all):
    """The service is bound to every address: a request to 127.0.0.2 is
    answered from 127.0.0.2, never from 127.0.0.1."""
    answer, frm = udp_ask(udp_all["echo"], b"ping", "127.0.0.2",
                          "127.0.0.1")
    assert answer == b"ping"
    assert frm == ("127.0.0.2", udp_all["echo"])


def test_udp_loop_source_port_refused(soad, udp_all):
    """A request whose source port is a UDP service of this config (here
    the plain discard service's) is not answered, and the refusal is
    logged; the same client on an ephemeral port is answered."""
    for k in ("echo", "chargen", "daytime", "time"):
        answer, _ = udp_ask(udp_all[k], b"x", "127.0.0.1", "127.0.0.2",
                            src_port=udp_all["other"], timeout=0.5)
        assert answer is None, k
    soad.wait_log(r"echo-udp: refused datagram from 127\.0\.0\.2:%d"
                  % udp_all["other"])
    answer, _ = udp_ask(udp_all["echo"], b"x", "127.0.0.1", "127.0.0.2")
    assert answer == b"x"


@pytest.mark.skipif(os.geteuid() != 0, reason="binding a port below 1024 "
                    "needs root")
def test_udp_privileged_source_port_refused(udp_all):
    """Source ports below 1024 belong to well-known services (another
    host's echo or chargen): never answered."""
    for port in range(1000, 1024):
        try:
            answer, _ = udp_ask(udp_all["echo"], b"x", "127.0.0.1",
                                "127.0.0.2", src_port=port, timeout=0.5)
        except OSError:
            continue
        assert answer is None
        return
    pytest.skip("no free port in 1000-1023 on 127.0.0.2")


def test_udp_broadcast_destination_ignored(udp_all):
    """A request to lo's broadcast address is not answered."""
    for k in ("echo", "chargen", "daytime", "time"):
        answer, _ = udp_ask(udp_all[k], b"x", "127.255.255.255",
                            "127.0.0.1", broadcast=True, timeout=0.5)
        assert answer is None, k
    answer, _ = udp_ask(udp_all["echo"], b"x")
    assert answer == b"x"


def test_udp_ipv4_only_listener(soad):
    """On one IPv4 address (no dual stack) too."""
    port = free_udp_port()
    soad.start(conf([("daytime-udp", "daytime", "dgram",
                      "127.0.0.1:%d" % port)]))
    answer, frm = udp_ask(port, b"x")
    assert DAYTIME_RE.match(answer)
    assert frm == ("127.0.0.1", port)
