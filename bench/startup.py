#!/usr/bin/python3
"""Start-up cost at scale: exec -> every listener accepting, idle RSS, and
`soad -n` CPU time, for N services, beside the peers in the same run.

  bench/startup.py [--sizes 10,1000,10000] [--rounds 3] [--before SOAD]

Each round starts every daemon in turn (order rotated per round) with N
TCP services on 127.0.0.1 and polls a connect() to the LAST port (daemons
bind in config order), then reads VmRSS once it is up and stops it.
Peers: xinetd and openbsd-inetd unpacked by ../shared/peer-bench/setup.sh
under /tmp/soad-peers/root (skipped if absent), systemd-socket-activate.
--before names a second soad binary (e.g. an older build) to measure in
the same run.  Prints a markdown table of medians.  Not a test.
"""
import argparse
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PEERS = os.environ.get("PEERS_ROOT", "/tmp/soad-peers/root")
XINETD = os.path.join(PEERS, "usr/sbin/xinetd")
INETD = os.path.join(PEERS, "usr/sbin/inetd")
SDACT = "/usr/bin/systemd-socket-activate"
BASE = int(os.environ.get("STARTUP_PORT", "10000"))  # below ephemeral


def first(*paths):
    for p in paths:
        if os.access(p, os.X_OK):
            return p
    return paths[0]


SOAD = first(os.path.join(TOP, "soad"), os.path.join(TOP, "build/soad"))
FDSERVER = first(os.path.join(TOP, "tests/fdserver"),
                 os.path.join(TOP, "build/tests/fdserver"))


def soad_conf(n, base):
    out = ["timeout = 60\n"]
    for i in range(n):
        out.append('service s%d {\n  listen = { "127.0.0.1:%d" }\n'
                   '  server = "%s"\n}\n' % (i, base + i, FDSERVER))
    return "".join(out)


def xinetd_conf(n, base, d):
    out = ["defaults\n{\n  instances = UNLIMITED\n  log_type = FILE %s/x.log\n"
           "}\n" % d]
    for i in range(n):
        out.append("service b%d\n{\n  type = UNLISTED\n  socket_type = stream\n"
                   "  protocol = tcp\n  wait = no\n  user = root\n"
                   "  bind = 127.0.0.1\n  port = %d\n  server = /bin/cat\n}\n"
                   % (i, base + i))
    return "".join(out)


def inetd_conf(n, base):
    return "127.0.0.1:\n" + "".join(
        "%d\tstream\ttcp4\tnowait\troot\t/bin/cat\tcat\n" % (base + i)
        for i in range(n))


def command(daemon, binary, n, base, d):
    if daemon.startswith("soad"):
        p = os.path.join(d, "soad.conf")
        with open(p, "w") as f:
            f.write(soad_conf(n, base))
        return [binary, "-d", "-f", p]
    if daemon == "xinetd":
        p = os.path.join(d, "xinetd.conf")
        with open(p, "w") as f:
            f.write(xinetd_conf(n, base, d))
        return [XINETD, "-dontfork", "-f", p]
    if daemon == "openbsd-inetd":
        p = os.path.join(d, "inetd.conf")
        with open(p, "w") as f:
            f.write(inetd_conf(n, base))
        return [INETD, "-i", p]
    if daemon == "sd-activate":
        cmd = [SDACT, "--accept", "--inetd"]
        for i in range(n):
            cmd += ["-l", "127.0.0.1:%d" % (base + i)]
        return cmd + ["/bin/cat"]
    raise ValueError(daemon)


def accepting(port):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def one(daemon, binary, n, base):
    d = tempfile.mkdtemp(prefix="soad-startup-")
    cmd = command(daemon, binary, n, base, d)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not accepting(base + n - 1):
            if p.poll() is not None:
                raise RuntimeError("%s exited %s" % (daemon, p.returncode))
            if time.monotonic() - t0 > 120:
                raise RuntimeError("%s: not listening after 120 s" % daemon)
            time.sleep(0.001)
        up = time.monotonic() - t0
        time.sleep(1.0)  # let the start-up settle before reading RSS
        return up, rss_kib(p.pid)
    finally:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        shutil.rmtree(d, ignore_errors=True)
        time.sleep(0.3)


def check_cpu(binary, n):
    d = tempfile.mkdtemp(prefix="soad-n-")
    p = os.path.join(d, "soad.conf")
    with open(p, "w") as f:
        f.write(soad_conf(n, BASE))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([binary, "-n", "-f", p], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(d, ignore_errors=True)
    return (after.ru_utime - before.ru_utime) + \
        (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,1000,10000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", help="an older soad binary to compare")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    daemons = [("soad", SOAD)]
    if a.before:
        daemons.append(("soad-before", a.before))
    for name, path in (("xinetd", XINETD), ("openbsd-inetd", INETD),
                       ("sd-activate", SDACT)):
        if os.access(path, os.X_OK):
            daemons.append((name, path))
        else:
            print("skipping %s: %s missing" % (name, path), file=sys.stderr)
    sizes = [int(x) for x in a.sizes.split(",")]
    up = {}
    rss = {}
    for n in sizes:
        for r in range(a.rounds):
            order = daemons[r % len(daemons):] + daemons[:r % len(daemons)]
            for name, path in order:
                t, kib = one(name, path, n, BASE)
                up.setdefault((name, n), []).append(t)
                rss.setdefault((name, n), []).append(kib)
                print("n=%d round %d %s: %.3f s, %d KiB" % (n, r, name, t,
                                                           kib),
                      file=sys.stderr)
    print("machine: nproc=%d kernel=%s loadavg=%s" % (
        os.cpu_count(), os.uname().release,
        open("/proc/loadavg").read().split()[:3]))
    print()
    print("| daemon | " + " | ".join(
        "N=%d: all listening (ms) | RSS (MiB)" % n for n in sizes) + " |")
    print("|---|" + "---:|---:|" * len(sizes))
    for name, _ in daemons:
        cells = []
        for n in sizes:
            cells.append("%.1f" % (1000 * statistics.median(up[(name, n)])))
            cells.append("%.1f" % (statistics.median(rss[(name, n)]) / 1024))
        print("| %s | %s |" % (name, " | ".join(cells)))
    print()
    print("| binary | " + " | ".join("`-n` CPU s, N=%d" % n for n in sizes)
          + " |")
    print("|---|" + "---:|" * len(sizes))
    for name, path in daemons:
        if name.startswith("soad"):
            print("| %s | %s |" % (name, " | ".join(
                "%.3f" % statistics.median(check_cpu(path, n)
                                           for _ in range(3))
                for n in sizes)))


main()
