#!/usr/bin/python3
"""report.py - raw TSV of one bench part -> markdown tables (stdlib only).

usage: report.py cold|warm|idle RAW.tsv
       report.py proxy RAW.tsv BULK.tsv
       report.py nowait RAW.tsv

Medians everywhere; a ratio is computed per repetition/round (both sides
measured in the same repetition/round) and the median of those is reported.
"""
import csv
import statistics
import sys
from collections import defaultdict


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def f(x, nd=2):
    if x is None:
        return "n/a"
    if abs(x) >= 10000:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


def cold(rs):
    by = defaultdict(dict)       # (server, mode) -> rep -> row
    for r in rs:
        by[r["server"], r["mode"]][int(r["rep"])] = r
    names = {"c": "C (tests/fdserver)", "py": "Python (http.server)"}
    out = ["| server | mode | n | cold median ms | min | max | warm req median ms |",
           "|---|---|---:|---:|---:|---:|---:|"]
    servers = [s for s in ("c", "py") if any(k[0] == s for k in by)]
    modes = ("soad", "sd-activate", "standalone")
    for s in servers:
        for m in modes:
            d = by.get((s, m), {})
            c = [float(r["cold_us"]) / 1e3 for r in d.values()]
            w = [float(r["warm_us"]) / 1e3 for r in d.values()]
            if c:
                out.append(f"| {names[s]} | {m} | {len(c)} | {f(med(c))} | "
                           f"{f(min(c))} | {f(max(c))} | {f(med(w), 3)} |")
    out += ["", "Activation cost = activated cold TTFB minus the server's own "
            "standalone start-to-ready (spawn -> first byte):", "",
            "| server | activator | difference of medians ms | median of per-rep "
            "ratios activated/standalone | median of per-rep ratios vs sd-activate |",
            "|---|---|---:|---:|---:|"]
    for s in servers:
        st = by.get((s, "standalone"), {})
        sd = by.get((s, "sd-activate"), {})
        for m in ("soad", "sd-activate"):
            a = by.get((s, m), {})
            if not a or not st:
                continue
            diff = med([float(r["cold_us"]) for r in a.values()]) - \
                med([float(r["cold_us"]) for r in st.values()])
            ratio = med([float(a[k]["cold_us"]) / float(st[k]["cold_us"])
                         for k in a if k in st])
            vs = med([float(a[k]["cold_us"]) / float(sd[k]["cold_us"])
                      for k in a if k in sd])
            out.append(f"| {names[s]} | {m} | {f(diff / 1e3)} | {f(ratio, 3)} | "
                       f"{f(vs, 3)} |")
    return out


def warm(rs):
    tests = {"keepalive": "keep-alive", "close": "Connection: close"}
    out = ["wrk -t1 -c50, one run per target per round; master = soad's own "
           "utime+stime and context switches during the run (the direct rows "
           "show what the idle master did meanwhile).", "",
           "| server | test | target | req/s median | runs (by round) | ratio soad/direct "
           "(median of per-round) | latency avg ms | socket errors | master "
           "CPU ms/run | master us/req | master ctx switches/run |",
           "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    servers = []
    for r in rs:
        if r["server"] not in servers:
            servers.append(r["server"])
    for s in servers:
        for t in tests:
            by = defaultdict(dict)
            for r in rs:
                if r["server"] == s and r["test"] == t:
                    by[r["target"]][int(r["round"])] = r
            for target in ("direct", "soad"):
                d = by.get(target, {})
                if not d:
                    continue
                rps = [float(d[k]["rps"]) for k in sorted(d)]
                ratio = "1.000" if target == "direct" else f(med(
                    [float(d[k]["rps"]) / float(by["direct"][k]["rps"])
                     for k in d if k in by["direct"]]), 3)
                lat = med([float(r["lat_ms"]) for r in d.values()])
                err = sum(int(r["errors"]) for r in d.values())
                tick = [(int(r["master_ticks"]), int(r["clk_tck"]), int(r["requests"]))
                        for r in d.values()]
                cpu = med([t_ * 1000 / hz for t_, hz, _ in tick])
                per = med([t_ * 1e6 / hz / n for t_, hz, n in tick if n])
                cs = med([int(r["master_ctxsw"]) for r in d.values()])
                out.append(f"| {s} | {tests[t]} | {target} | {f(med(rps), 0)} | "
                           f"{' / '.join(f(x, 0) for x in rps)} | {ratio} | "
                           f"{f(lat, 3)} | {err} | {f(cpu, 0)} | {f(per, 2)} | {f(cs, 0)} |")
    return out


def idle(rs):
    out = ["| daemon | services | listening | start ms | VmRSS KiB | Pss KiB | "
           "Private KiB | fds | idle s | ctx switches (vol+nonvol) | wake-ups/min | "
           "CPU ticks idle | services started |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rs:
        sw = int(r["ctxsw"])
        out.append(f"| {r['daemon']} | {r['services']} | {r['listening']} | "
                   f"{r['start_ms']} | {r['rss_kb']} | {r['pss_kb']} | "
                   f"{r['private_kb']} | {r['fds']} | {r['idle_s']} | {sw} | "
                   f"{f(sw * 60 / float(r['idle_s']), 1)} | {r['cpu_ticks']} | "
                   f"{r['activated']} |")
    return out


def ratio_by_round(by, target, base):
    """median over rounds of by[target][round] / by[base][round]."""
    rs = [by[target][k] / by[base][k] for k in by[target]
          if k in by.get(base, {}) and by[base][k]]
    return med(rs)


PROXY_TESTS = {"c50": "wrk -t1 -c50 keep-alive, 256 B body",
               "c200": "wrk -t1 -c200 keep-alive, 256 B body",
               "close": "wrk -t1 -c50 `Connection: close` (a connection per request)"}


def proxy(rs, bulk):
    out = []
    order = list(dict.fromkeys(r["target"] for r in rs))
    for test in dict.fromkeys(r["test"] for r in rs):
        t = [r for r in rs if r["test"] == test]
        rps = defaultdict(dict)
        for r in t:
            rps[r["target"]][int(r["round"])] = float(r["rps"])
        out += ["", f"#### {test}: {PROXY_TESTS.get(test, test)}", "",
                "| target | req/s (median) | / direct | / haproxy | p50 ms | p99 ms | errors "
                "| master CPU us/req | helpers us/req | runs req/s |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for tg in order:
            x = [r for r in t if r["target"] == tg]
            if not x:
                continue
            def per(col):
                return med([int(r[col]) * 1e6 / int(r["clk_tck"]) / max(int(r["requests"]), 1)
                            for r in x])
            cpu = "n/a" if tg == "direct" else f(per("master_ticks"))
            hlp = f(per("helper_ticks")) if tg.startswith("soad") else "n/a"
            out.append(f"| {tg} | {f(med([float(r['rps']) for r in x]), 0)} "
                       f"| {f(ratio_by_round(rps, tg, 'direct'), 3)} "
                       f"| {f(ratio_by_round(rps, tg, 'haproxy'), 3)} "
                       f"| {f(med([int(r['p50_us']) / 1000 for r in x]), 3)} "
                       f"| {f(med([int(r['p99_us']) / 1000 for r in x]), 3)} "
                       f"| {sum(int(r['errors']) for r in x)} | {cpu} | {hlp} "
                       f"| {'/'.join(f(float(r['rps']), 0) for r in sorted(x, key=lambda r: int(r['round'])))} |")
    if bulk:
        mbs = defaultdict(dict)
        for r in bulk:
            if float(r["secs"]) > 0 and int(r["bytes"]) > 100 << 20:
                mbs[r["target"]][int(r["rep"])] = int(r["bytes"]) / float(r["secs"]) / 1e6
        out += ["", "#### bulk: GET 100 MiB with bench/fetch.c (1 MiB reads), connect -> EOF", "",
                "| target | seconds (median) | MB/s (median) | min | max | / direct | / haproxy | master CPU ms | reps ok |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for tg in order:
            x = [r for r in bulk if r["target"] == tg]
            if not x:
                continue
            v = list(mbs[tg].values())
            cpu = "n/a" if tg == "direct" else f(med([int(r["master_ticks"]) * 10.0 for r in x]), 0)
            out.append(f"| {tg} | {f(med([float(r['secs']) for r in x if float(r['secs']) > 0]), 3)} "
                       f"| {f(med(v), 0)} | {f(min(v) if v else None, 0)} | {f(max(v) if v else None, 0)} "
                       f"| {f(ratio_by_round(mbs, tg, 'direct'), 3)} | {f(ratio_by_round(mbs, tg, 'haproxy'), 3)} "
                       f"| {cpu} | {len(v)}/{len(x)} |")
    return out


def nowait(rs):
    out = []
    order = list(dict.fromkeys(r["target"] for r in rs))
    refs = [b for b in ("xinetd", "inetd-l", "ref-spawn") if b in order]
    for test in dict.fromkeys(r["test"] for r in rs):
        t = [r for r in rs if r["test"] == test]
        cps = defaultdict(dict)
        for r in t:
            cps[r["target"]][int(r["round"])] = float(r["cps"])
        out += ["", f"#### {test}: {t[0]['desc']}", "",
                "| superserver | conn/s (median) | " + " | ".join(f"/ {b}" for b in refs) +
                " | p50 ms | p99 ms | errors | master CPU us/conn | runs conn/s |",
                "|---|---:|" + "---:|" * len(refs) + "---:|---:|---:|---:|---|"]
        for tg in order:
            x = [r for r in t if r["target"] == tg]
            if not x:
                continue
            cpu = med([int(r["master_ticks"]) * 1e6 / int(r["clk_tck"]) / max(int(r["conns"]), 1) for r in x])
            out.append(f"| {tg} | {f(med([float(r['cps']) for r in x]), 0)} | " +
                       " | ".join(f(ratio_by_round(cps, tg, b), 3) for b in refs) +
                       f" | {f(med([float(r['p50_us']) / 1000 for r in x]), 3)} "
                       f"| {f(med([float(r['p99_us']) / 1000 for r in x]), 3)} "
                       f"| {sum(int(r['errors']) for r in x)} | {f(cpu, 1)} "
                       f"| {'/'.join(f(float(r['cps']), 0) for r in sorted(x, key=lambda r: int(r['round'])))} |")
    return out


if __name__ == "__main__":
    part, path = sys.argv[1], sys.argv[2]
    if part == "proxy":
        print("\n".join(proxy(rows(path), rows(sys.argv[3]) if len(sys.argv) > 3 else [])))
    else:
        print("\n".join({"cold": cold, "warm": warm, "idle": idle, "nowait": nowait}[part](rows(path))))
