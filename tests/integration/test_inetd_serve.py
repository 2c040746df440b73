"""soad -i serves a classic inetd.conf with real clients, and the soad.conf
that soad -C makes of it serves the same ports the same way."""
import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

from conftest import SOAD, Soad, free_port, talk


def free_both():
    """A port free for TCP and UDP on 127.0.0.1."""
    for _ in range(50):
        p = free_port()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            u.close()
    raise RuntimeError("no port")


def udp(port, data=b"x"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(data, ("127.0.0.1", port))
    try:
        return s.recvfrom(4096)[0]
    except socket.timeout:
        return None
    finally:
        s.close()


@pytest.fixture
def inetd_conf(tmp_path):
    """A Debian/netkit-style inetd.conf on free ports, with hosts files."""
    # Internal services are known by their names, as inetd knows them,
    # so they listen on their own ports (on 127.0.0.1 only).
    ports = {"echo": 7, "daytime": 13, "chargen": 19, "time": 37,
             "finger": free_both(), "tftp": free_both()}
    allow = os.path.join(str(tmp_path), "hosts.allow")
    deny = os.path.join(str(tmp_path), "hosts.deny")
    with open(allow, "w") as f:
        f.write("ALL: 127.0.0.1\n")
    with open(deny, "w") as f:
        f.write("ALL: ALL\n")
    tftproot = os.path.join(str(tmp_path), "tftp")
    os.mkdir(tftproot)
    os.chmod(str(tmp_path), 0o755)
    os.chmod(tftproot, 0o755)
    with open(os.path.join(tftproot, "f.txt"), "w") as f:
        f.write("via inetd.conf\n")
    os.chmod(os.path.join(tftproot, "f.txt"), 0o644)
    text = """# test inetd.conf: OpenBSD's host:service form, then Debian's lines
127.0.0.1:echo\tstream\ttcp\tnowait\troot\tinternal
127.0.0.1:echo\tdgram\tudp\twait\troot\tinternal
127.0.0.1:daytime\tstream\ttcp\tnowait\troot\tinternal
127.0.0.1:chargen\tstream\ttcp\tnowait\troot\tinternal
127.0.0.1:time\tdgram\tudp\twait\troot\tinternal
127.0.0.1:
"""
    if os.path.exists("/usr/sbin/in.fingerd"):
        text += ("%d\tstream\ttcp\tnowait\tnobody\t/usr/sbin/tcpd\t"
                 "/usr/sbin/in.fingerd\n" % ports["finger"])
    if os.path.exists("/usr/sbin/in.tftpd"):
        text += ("%d\tdgram\tudp\twait\troot\t/usr/sbin/in.tftpd\t"
                 "in.tftpd --secure %s\n" % (ports["tftp"], tftproot))
    path = os.path.join(str(tmp_path), "inetd.conf")
    with open(path, "w") as f:
        f.write(text)
    glob = os.path.join(str(tmp_path), "globals.conf")
    with open(glob, "w") as f:
        f.write('hosts-allow = "%s"\nhosts-deny = "%s"\ntimeout = 5\n'
                % (allow, deny))
    return path, glob, ports, tftproot


def check_serving(ports, soad):
    assert talk(ports["echo"], b"hello") == b"hello"
    line = talk(ports["daytime"])
    assert line.endswith(b"\r\n") and len(line.split()) == 5, line
    s = socket.create_connection(("127.0.0.1", ports["chargen"]), 10)
    data = b""
    while len(data) < 148:
        data += s.recv(4096)
    s.close()
    assert data[:74] == bytes(range(32, 32 + 72)) + b"\r\n"
    assert udp(ports["echo"], b"ping") == b"ping"
    t = udp(ports["time"], b"")
    assert t is not None and abs(struct.unpack("!I", t)[0] -
                                 (int(time.time()) + 2208988800)) <= 2
    # hosts.deny: another client address is refused on nowait/internal.
    assert talk(ports["echo"], b"hello", source="127.0.0.2") == b""
    soad.wait_log(r"refused connection from 127\.0\.0\.2:\d+: denied by "
                  r"hosts_access for daemon echo")
    if os.path.exists("/usr/sbin/in.fingerd") and shutil.which("finger"):
        out = talk(ports["finger"], b"root\r\n").decode(errors="replace")
        assert "root" in out, out
        assert talk(ports["finger"], b"root\r\n", source="127.0.0.2") == b""
        soad.wait_log(r"denied by hosts_access for daemon in\.fingerd")


def tftp_get(port, dst, cwd):
    subprocess.run(["tftp", "127.0.0.1", str(port), "-c", "get", "f.txt",
                    dst], check=True, timeout=30, cwd=cwd)
    with open(dst) as f:
        return f.read()


def test_soad_i_serves_inetd_conf(soad, inetd_conf, tmp_path):
    path, glob, ports, root = inetd_conf
    # soad -f GLOBALS -i INETD.CONF
    with open(glob) as f:
        soad.start(f.read(), args=["-i", path])
    check_serving(ports, soad)
    if os.path.exists("/usr/sbin/in.tftpd") and shutil.which("tftp"):
        dst = os.path.join(str(tmp_path), "got")
        assert tftp_get(ports["tftp"], dst, str(tmp_path)) == \
            "via inetd.conf\n"


def test_soad_C_output_serves_the_same(tmp_path, inetd_conf):
    path, glob, ports, root = inetd_conf
    p = subprocess.run([SOAD, "-C", path], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    with open(glob) as f:
        converted = f.read() + p.stdout
    conv = os.path.join(str(tmp_path), "conv.conf")
    with open(conv, "w") as f:
        f.write(converted)
    chk = subprocess.run([SOAD, "-n", "-f", conv], capture_output=True,
                         text=True, timeout=30)
    assert chk.returncode == 0, chk.stderr + converted
    d = tmp_path / "run2"
    d.mkdir()
    s = Soad(d)
    try:
        s.start(converted)
        check_serving(ports, s)
    finally:
        s.stop()
