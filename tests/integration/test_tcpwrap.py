"""tcp_wrappers checks in proxy mode (issue 7): soad's verdicts equal
tcpdmatch's, hosts_options act on a throwaway process and never on the
master, a slow reverse lookup holds only its own client, refusals are
logged one line each, and a killed helper costs one refused connection.

Names must resolve the same way for soad and for tcpdmatch, and one must
resolve slowly, so both run in a private mount namespace (unshare -m)
where /etc/hosts and /etc/resolv.conf are the test's own: the resolver is
a small DNS server on a 127.53.x.y address run by this module, which can hold its
answer for one address back.
"""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import (FDSERVER, SOAD, Soad, alive, free_port, proc_children,
                      retry, svc)

HOSTS = """127.0.0.1\tlocalhost
127.0.0.2\ttwo.wrap.test two
127.0.0.5\tliar.wrap.test
::1\tlocalhost ip6-localhost
"""

# Reverse and forward names only the DNS server knows.  127.0.0.4
# claims liar.wrap.test, which /etc/hosts puts at 127.0.0.5: PARANOID.
PTR = {"127.0.0.3": "three.wrap.test", "127.0.0.4": "liar.wrap.test",
       "127.0.0.9": "slow.wrap.test"}
A = {"three.wrap.test": "127.0.0.3", "slow.wrap.test": "127.0.0.9"}


class Resolver:
    """A UDP DNS server answering PTR and A for the names above,
    NXDOMAIN for everything else; answers for addresses in `delay` are
    sent that many seconds late (from a thread: others are not held)."""

    def __init__(self):
        self.delay = {}
        self.asked = set()      # addresses whose PTR was asked for
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Port 53 is fixed (resolv.conf has no port): an address of our
        # own, so that two runs on one machine do not collide.
        for _ in range(100):
            self.addr = "127.53.%d.%d" % tuple(os.urandom(2))
            try:
                self.sock.bind((self.addr, 53))
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no free address for the test resolver")
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @staticmethod
    def qname(msg):
        labels, i = [], 12
        while msg[i]:
            labels.append(msg[i + 1:i + 1 + msg[i]].decode().lower())
            i += 1 + msg[i]
        qtype = struct.unpack("!H", msg[i + 1:i + 3])[0]
        return ".".join(labels), qtype, i + 5

    @staticmethod
    def encode(name):
        return b"".join(bytes([len(p)]) + p.encode()
                        for p in name.split(".")) + b"\0"

    def answer(self, msg):
        name, qtype, end = self.qname(msg)
        rdata, wait = None, 0
        if name.endswith(".in-addr.arpa"):
            addr = ".".join(reversed(name.split(".")[:4]))
            self.asked.add(addr)
            if addr in PTR:
                wait = self.delay.get(addr, 0)
                rdata = (12, self.encode(PTR[addr])) if qtype == 12 else b""
        elif name in A:
            rdata = (1, socket.inet_aton(A[name])) if qtype == 1 else b""
        flags = 0x8180 if rdata is not None else 0x8183
        an = 1 if isinstance(rdata, tuple) else 0
        out = msg[:2] + struct.pack("!HHHHH", flags, 1, an, 0, 0) + \
            msg[12:end]
        if an:
            out += struct.pack("!HHHIH", 0xc00c, rdata[0], 1, 60,
                               len(rdata[1])) + rdata[1]
        return out, wait

    def serve(self):
        while True:
            try:
                msg, peer = self.sock.recvfrom(512)
                out, wait = self.answer(msg)
            except (OSError, IndexError, struct.error):
                continue
            if wait:
                threading.Timer(wait, self.sock.sendto, (out, peer)).start()
            else:
                self.sock.sendto(out, peer)


def proxy_mode_missing():
    """True only for a build whose config knows no proxy mode at all (a
    branch cut before it): anything else must run and pass."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write('hosts-allow = "/etc/hosts.allow"\nservice web {\n'
                '  listen = { "127.0.0.1:9" }\n  server = "%s"\n'
                '  mode = proxy\n}\n' % FDSERVER)
        f.flush()
        p = subprocess.run([SOAD, "-n", "-f", f.name], capture_output=True,
                           text=True, timeout=30)
    return "no such option 'hosts-allow'" in p.stderr or \
        "no such option 'mode'" in p.stderr


@pytest.fixture(scope="module")
def resolver():
    if proxy_mode_missing():
        pytest.skip("this build has no proxy mode (issue 7) yet")
    if shutil.which("tcpdmatch") is None:
        pytest.fail("tcpdmatch is missing (Debian: apt install tcpd)")
    r = Resolver()
    yield r
    r.sock.close()


class NsEnv:
    """The private /etc/hosts and /etc/resolv.conf, and the command
    prefix that runs something with them."""

    def __init__(self, d, resolver):
        self.dir = str(d)
        self.hosts = os.path.join(self.dir, "etc-hosts")
        self.resolv = os.path.join(self.dir, "etc-resolv.conf")
        with open(self.hosts, "w") as f:
            f.write(HOSTS)
        with open(self.resolv, "w") as f:
            f.write("nameserver %s\noptions timeout:30 attempts:1\n"
                    % resolver.addr)
        self.allow = os.path.join(self.dir, "hosts.allow")
        self.deny = os.path.join(self.dir, "hosts.deny")
        self.rules("", "")

    def prefix(self):
        return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /etc/hosts && '
                'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"',
                self.hosts, self.resolv]

    def rules(self, allow, deny):
        # Written aside and renamed: a check never sees half a file.
        for path, text in ((self.allow, allow), (self.deny, deny)):
            with open(path + ".new", "w") as f:
                f.write(text + ("\n" if text and text[-1] != "\n" else ""))
            os.rename(path + ".new", path)

    def tcpdmatch(self, daemon, client):
        """{address: True if granted} for CLIENT (a name or address)."""
        p = subprocess.run(self.prefix() + ["tcpdmatch", "-d", daemon,
                                            client],
                           cwd=self.dir, capture_output=True, text=True,
                           timeout=60)
        out, addr = {}, None
        for line in p.stdout.splitlines():
            m = re.match(r"client:\s+address\s+(\S+)", line)
            if m:
                addr = m.group(1)
            m = re.match(r"access:\s+(granted|denied)", line)
            if m:
                out[addr] = m.group(1) == "granted"
                addr = None
        assert out, "tcpdmatch %s %s said:\n%s%s" % (daemon, client,
                                                      p.stdout, p.stderr)
        return out


class NsSoad(Soad):
    """soad -d in the private namespace (the pid is soad's own: unshare
    and sh exec it)."""

    def __init__(self, tmp_path, ns):
        super().__init__(tmp_path)
        self.ns = ns

    def start(self, conf, args=(), wait=True):
        with open(self.conf, "w") as f:
            f.write(conf)
        self.logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(
            self.ns.prefix() + [SOAD, "-d", "-v", "-f", self.conf]
            + list(args), stdout=self.logf, stderr=subprocess.STDOUT)
        if wait:
            self.wait_log(r"started with \d+ service")
        return self


@pytest.fixture
def ns(tmp_path, resolver):
    resolver.delay.clear()
    resolver.asked.clear()
    return NsEnv(tmp_path, resolver)


@pytest.fixture
def wsoad(tmp_path, ns):
    s = NsSoad(tmp_path, ns)
    yield s
    s.stop()
    if hasattr(s, "logf"):
        s.logf.close()


def start_web(wsoad, ns, extra=""):
    """A proxy-mode service "web" on 127.0.0.1 and ::1: (port, port6)."""
    port, port6 = free_port(), free_port("::1")
    wsoad.start('hosts-allow = "%s"\nhosts-deny = "%s"\n%s' % (
        ns.allow, ns.deny, extra) + svc(
        "web", ("127.0.0.1:%d" % port, "[::1]:%d" % port6),
        extra="  mode = proxy\n  tcpwrap = yes"))
    return port, port6


def fetch(port, port6, source, timeout=20.0):
    """All the bytes the service (or a twist) sends for a GET from
    SOURCE; b"" when the connection is refused (closed or reset)."""
    v6 = ":" in source
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
    s.settimeout(timeout)
    data = b""
    try:
        s.bind((source, 0))
        s.connect(("::1", port6) if v6 else ("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return data


def served(data):
    return b"hello from" in data


# What soad's libwrap finds by reverse lookup for each client (checked
# both ways): tcpdmatch is asked by that name; a client without one by
# address ("name lookup fails").
CLIENTS = {"127.0.0.1": "localhost", "127.0.0.2": "two.wrap.test",
           "127.0.0.3": "three.wrap.test", "::1": "localhost",
           "127.0.0.6": None}

RULES = [
    ("", ""),
    ("", "ALL: ALL"),
    ("web: 127.0.0.1", "ALL: ALL"),
    ("web: 127.0.0.2 127.0.0.3", "web: ALL"),
    ("", "web: 127.0.0.2, 127.0.0.3"),
    ("web: 127.", "ALL: ALL"),
    ("web: 127. EXCEPT 127.0.0.2", "ALL: ALL"),
    ("web: 127.0.0.0/255.255.255.254", "ALL: ALL"),
    ("web: 127.0.0.0/255.255.255.252", "ALL: ALL"),
    ("web: 127.0.0.2/32, [::1]/128", "ALL: ALL"),
    ("web: 127.0.0.0/30", "ALL: ALL"),
    ("web: [::1]", "ALL: ALL"),
    ("web: [::]/0", "ALL: ALL"),
    ("ALL EXCEPT web: ALL", "ALL: ALL"),
    ("other: ALL", "web: ALL"),
    ("web, other: ALL EXCEPT 127.0.0.3", "ALL: ALL"),
    ("web: LOCAL", "ALL: ALL"),
    ("web: KNOWN", "ALL: ALL"),
    ("", "web: UNKNOWN"),
    ("", "web: PARANOID"),
    ("web: .wrap.test", "ALL: ALL"),
    ("web: two.wrap.test, localhost", "ALL: ALL"),
    ("web: ALL EXCEPT three.wrap.test", "ALL: ALL"),
    ("web: ALL EXCEPT .wrap.test EXCEPT two.wrap.test", "ALL: ALL"),
    ("web: ALL: deny", ""),
    ("web: 127.0.0.2: deny\nweb: ALL: allow", "ALL: ALL"),
    ("# web: ALL\n", "web: 127.0.0.1, [::1] \\\n  127.0.0.6"),
]

# Patterns that look at names only: comparable for the PARANOID client,
# which tcpdmatch can only be asked about by that name, without address
# (so not UNKNOWN, which also matches an unknown address).
NAME_RULES = [
    ("", ""),
    ("web: KNOWN", "ALL: ALL"),
    ("", "web: PARANOID"),
    ("web: .wrap.test", "ALL: ALL"),
    ("web: ALL EXCEPT PARANOID", "ALL: ALL"),
    ("web: liar.wrap.test", "ALL: ALL"),
]


def test_tcpwrap_table_matches_tcpdmatch(wsoad, ns):
    port, port6 = start_web(wsoad, ns)
    mismatches = []
    for allow, deny in RULES:
        ns.rules(allow, deny)
        for client, name in CLIENTS.items():
            want = ns.tcpdmatch("web", name or client)[client]
            got = served(fetch(port, port6, client))
            if got != want:
                mismatches.append("allow=%r deny=%r client %s: soad %s, "
                                  "tcpdmatch %s" % (allow, deny, client,
                                                    got, want))
    for allow, deny in NAME_RULES:
        ns.rules(allow, deny)
        want = list(ns.tcpdmatch("web", "paranoid").values())[0]
        got = served(fetch(port, port6, "127.0.0.4"))
        if got != want:
            mismatches.append("allow=%r deny=%r client 127.0.0.4 "
                              "(paranoid): soad %s, tcpdmatch %s"
                              % (allow, deny, got, want))
    assert not mismatches, "\n".join(mismatches) + "\n" + wsoad.log()
    # Every check ran outside the master.
    assert alive(wsoad.proc.pid)


def proc_state(pid):
    with open("/proc/%d/status" % pid) as f:
        st = f.read()
    with open("/proc/%d/stat" % pid) as f:
        nice = int(f.read().rsplit(") ", 1)[1].split()[16])
    with open("/proc/%d/environ" % pid, "rb") as f:
        env = f.read()
    return {"uid": re.search(r"^Uid:.*$", st, re.M).group(0),
            "gid": re.search(r"^Gid:.*$", st, re.M).group(0),
            "umask": re.search(r"^Umask:.*$", st, re.M).group(0),
            "nice": nice, "environ": env}


def test_tcpwrap_options_leave_master_alone(wsoad, ns, tmp_path):
    banners = tmp_path / "banners"
    banners.mkdir()
    (banners / "web").write_text("banner for %a\n")
    spawned = tmp_path / "spawned"
    ns.rules("web: 127.0.0.2: twist /bin/echo twisted %a %d\n"
             "web: 127.0.0.3: spawn /bin/echo spawned %a > " + str(spawned)
             + " : user nobody : group nogroup : nice 10 : setenv SOADT x"
             " : umask 077 : keepalive : banners " + str(banners) + "\n"
             "web: ALL", "")
    port, port6 = start_web(wsoad, ns)
    pid = wsoad.proc.pid
    before = proc_state(pid)

    assert served(fetch(port, port6, "127.0.0.1"))
    assert fetch(port, port6, "127.0.0.2") == b"twisted 127.0.0.2 web\n"
    data = fetch(port, port6, "127.0.0.3")
    assert data.startswith(b"banner for 127.0.0.3\r\n"), data
    assert served(data)
    retry(lambda: spawned.exists() and
          spawned.read_text() == "spawned 127.0.0.3\n", what="spawn")
    line = wsoad.wait_log(r"^soad: wrap: web: hosts_options .* ignored .*$")
    for word in ("nice", "umask", "setenv", "127.0.0.3"):
        assert word in line, line
    # A second round: still served, still twisted.
    assert fetch(port, port6, "127.0.0.2") == b"twisted 127.0.0.2 web\n"
    assert served(fetch(port, port6, "::1"))

    assert alive(pid) and wsoad.proc.poll() is None
    assert proc_state(pid) == before


def test_tcpwrap_slow_lookup_delays_nobody_else(wsoad, ns, resolver):
    resolver.delay["127.0.0.9"] = 4
    ns.rules("web: slow.wrap.test, localhost, two.wrap.test", "ALL: ALL")
    port, port6 = start_web(wsoad, ns)
    result = {}

    def slow():
        t = time.monotonic()
        result["data"] = fetch(port, port6, "127.0.0.9")
        result["took"] = time.monotonic() - t

    th = threading.Thread(target=slow)
    th.start()
    retry(lambda: "127.0.0.9" in resolver.asked, what="the slow lookup")
    for client in ("127.0.0.1", "127.0.0.2", "::1", "127.0.0.1"):
        t = time.monotonic()
        assert served(fetch(port, port6, client))
        assert time.monotonic() - t < 2.0, client
    assert th.is_alive(), "the slow client was not slow"
    th.join(30)
    assert served(result["data"]) and result["took"] >= 3.5, result


def test_tcpwrap_refusals_logged(wsoad, ns):
    ns.rules("", "web: 127.0.0.2, [::1]")
    port, port6 = start_web(wsoad, ns)
    for _ in range(3):
        assert fetch(port, port6, "127.0.0.2") == b""
    assert fetch(port, port6, "::1") == b""
    assert served(fetch(port, port6, "127.0.0.1"))
    pat = r"^soad: web: refused connection from \[?%s\b.*\bweb\b.*$"
    wsoad.wait_log(pat % re.escape("127.0.0.2"), n=3)
    wsoad.wait_log(pat % re.escape("::1"))
    assert wsoad.count(pat % re.escape("127.0.0.2")) == 3
    assert wsoad.count(r"refused connection from 127\.0\.0\.1\b") == 0


def helpers(master):
    return [p for p, _, _ in proc_children(master, "soad-wrap")]


def test_tcpwrap_killed_helper_refuses_and_is_replaced(wsoad, ns, resolver):
    resolver.delay["127.0.0.9"] = 60
    ns.rules("web: slow.wrap.test, localhost", "ALL: ALL")
    port, port6 = start_web(wsoad, ns)
    assert served(fetch(port, port6, "127.0.0.1"))
    result = {}

    def pending():
        t = time.monotonic()
        result["data"] = fetch(port, port6, "127.0.0.9", timeout=50)
        result["took"] = time.monotonic() - t

    th = threading.Thread(target=pending)
    th.start()
    # Its check holds a helper in the lookup.
    retry(lambda: "127.0.0.9" in resolver.asked, what="the slow lookup")
    old = helpers(wsoad.proc.pid)
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    th.join(20)
    assert not th.is_alive(), "the pending connection hung"
    assert result["data"] == b"" and result["took"] < 15, result
    wsoad.wait_log(r"^soad: wrap: helper pid \d+ killed by signal 9")
    wsoad.wait_log(r"^soad: web: refused connection from 127\.0\.0\.9\b")
    assert served(fetch(port, port6, "127.0.0.1"))
    new = helpers(wsoad.proc.pid)
    assert new and not set(new) & set(old)
    assert alive(wsoad.proc.pid)
