#!/usr/bin/python3
"""conncount.py - the load for bench/conncount.sh (a helper, not a bench).

  conncount.py --noise N --noise-port P [--hold HOST:PORT]...
               [--churn HOST:PORT]...
  conncount.py --report RAW.tsv --clk-tck N --duration S --before COMMIT

Opens N established loopback connections that belong to no service:
listeners on 127.0.0.1:P..P+3 (N/4 connections each, so the ephemeral
port range is never the limit), both ends kept open by one child process
per port (so none needs more than N/2 fds); then one held connection per
--hold (GET /hold to tests/fdserver, which answers and keeps it open),
and one per --churn that is replaced by a
new one every second (open the new one, then close the old: the service
stays busy, but each connection soad found is gone a second later, so
each count must walk the table again).
Prints "ready" once everything is open, then sleeps until SIGTERM.

--report turns conncount.sh's raw TSV (per master: CPU ticks, context
switches, its log and the line the window starts at) into the markdown
table, reading the new code's passes from its -v log.
"""
import argparse
import csv
import os
import re
import resource
import signal
import socket
import statistics
import sys
import time


def hold(spec):
    host, port = spec.rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect((host, int(port)))
    s.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"held" not in got:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("hold %s: closed before the body" % spec)
        got += chunk
    return s


PASS = re.compile(r"counted in one pass \((\d+) by a held connection, "
                  r"(\d+) TCP sockets read, ([\d.]+) ms\)")
WHAT = {"before": "before (%s): unfiltered dump every 0.1 s",
        "after": "after: one held connection",
        "after-churn": "after: connection replaced every second "
                       "(a walk per count)"}


def med(xs, fmt="%.2f"):
    return fmt % statistics.median(xs) if xs else "-"


def report(a):
    print("| master | CPU s per minute | % of a core | context switches "
          "| counts | CPU per count | walks: wall ms (median) / TCP sockets "
          "read | lookups of a held connection: wall ms (median) |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    with open(a.report) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        cpu = int(r["ticks"]) / a.clk_tck
        with open(r["log"]) as f:
            lines = f.readlines()[int(r["from"]):]
        walks, looks, nread = [], [], []
        for line in lines:
            m = PASS.search(line)
            if not m:
                continue
            if int(m.group(1)):
                looks.append(float(m.group(3)))
            else:
                walks.append(float(m.group(3)))
                nread.append(int(m.group(2)))
        if r["name"] == "before":
            counts = a.duration * 10    # every timeout/10 by design
        else:
            counts = len(walks) + len(looks)
        print("| %s | %.2f | %.2f %% | %s | %d | %s | %s | %s |" % (
            WHAT[r["name"]].replace("%s", a.before), cpu * 60 / a.duration,
            100 * cpu / a.duration, r["ctxsw"], counts,
            "%.3f ms" % (1000 * cpu / counts) if counts else "-",
            "%s / %s (%d walks)" % (med(walks), med(nread, "%d"), len(walks))
            if walks else "-",
            "%s (%d)" % (med(looks, "%.3f"), len(looks)) if looks else "-"))


def noise(n, port, w):
    """Child: N connections to a listener of its own on PORT, both ends
    kept; writes "r" to W when they are open, then sleeps."""
    want = 2 * n + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4096)
    keep = [ls]
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        keep += [c, ls.accept()[0]]
    os.write(w, b"r")
    while True:
        time.sleep(3600)


def stop(kids, code=0):
    """Stop the noise children (by pid) and exit."""
    for pid, _ in kids:
        try:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    sys.exit(code)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report")
    ap.add_argument("--clk-tck", type=float, default=100)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--before", default="")
    ap.add_argument("--noise", type=int, default=0)
    ap.add_argument("--noise-port", type=int, default=21030)
    ap.add_argument("--hold", action="append", default=[])
    ap.add_argument("--churn", action="append", default=[])
    a = ap.parse_args()
    if a.report:
        report(a)
        return
    # The noise lives in 4 child processes, one listener port each, so no
    # process needs more than ~N/2 fds (the hard RLIMIT_NOFILE may be low
    # and not raisable in a container).
    per = (a.noise + 3) // 4
    kids = []
    for i in range(4 if a.noise else 0):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                noise(min(per, a.noise - i * per), a.noise_port + i, w)
            finally:
                os._exit(1)
        os.close(w)
        kids.append((pid, r))
    signal.signal(signal.SIGTERM, lambda *_: stop(kids))
    for pid, r in kids:
        if os.read(r, 1) != b"r":
            stop(kids, 1)
    keep = []
    for spec in a.hold:
        keep.append(hold(spec))
    churn = {spec: hold(spec) for spec in a.churn}
    print("ready %d noise connections, %d held, %d churned" % (
        a.noise, len(a.hold), len(a.churn)), flush=True)
    while True:
        time.sleep(1.0 if churn else 3600)
        for spec, old in churn.items():
            churn[spec] = hold(spec)
            old.close()


if __name__ == "__main__":
    main()
