#!/usr/bin/env python3
"""bench/report.py -- gathers the JSON every benchmark of `make bench`
wrote into bench/results/ and writes bench/results/latest.json (the
figures other tools read) and bench/results/latest.md (a table a person
reads), plus the scaling plot (bench/results/scaling.png, with gnuplot)
when the run measured more than one scale.

Headline figures are the conservative ones: of the two query directions,
the smaller PostgreSQL/matcher ratio and the larger matcher/floor ratio, at
the largest scale compared.

Usage: python3 bench/report.py MODE   (smoke or full)
"""
import glob
import json
import os
import platform
import subprocess
import sys
import time

RES = "bench/results"
DIRS = [("worker_to_jobs", "worker → top 20 jobs"),
        ("job_to_workers", "job → top 50 workers")]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def sh(cmd):
    try:
        out = subprocess.run(cmd, shell=True, capture_output=True, text=True,
                             timeout=20)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.0f GiB" % (kb / 1048576)
    except (OSError, ValueError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "gcc": sh("gcc --version"),
        "lmdb": sh("dpkg-query -W -f='${Version}' liblmdb-dev"),
        "nng": sh("dpkg-query -W -f='${Version}' libnng-dev"),
        "libuv": sh("dpkg-query -W -f='${Version}' libuv1-dev"),
        "postgresql": sh("/usr/lib/postgresql/15/bin/postgres --version"),
        "nginx": sh("/usr/sbin/nginx -v"),
        "wrk": sh("wrk -v 2>&1 | head -1"),
        "revision": sh("git describe --always --dirty"),
    }


def fmt(x, nd=2):
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "**NO**"
    if isinstance(x, int):
        return "{:,}".format(x)
    if x >= 100:
        return "{:,.0f}".format(x)
    return ("{:.%df}" % nd).format(x)


def size_bytes(text):
    """PostgreSQL's pg_size_pretty ("680 MB") in bytes."""
    units = {"bytes": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30,
             "TB": 1 << 40}
    try:
        n, u = text.split()
        return int(float(n) * units[u])
    except (AttributeError, ValueError, KeyError):
        return None


def memory(d):
    """The LMDB file's bytes on disk (the store the bench queried, kept in
    bench/work/pg) and PostgreSQL's database size."""
    mem = dict(d.get("memory") or {})
    if "lmdb_bytes" not in mem:
        words = d.get("data", "").split()
        opt = {words[i]: words[i + 1] for i in range(len(words) - 1)
               if words[i].startswith("--")}
        f = os.path.join("bench/work/pg", "data-%s-%s-%s" % (
            d["workers"], opt.get("--jobs", "?"), opt.get("--counties", "?")),
            "db", "data.mdb")
        try:
            mem["lmdb_bytes"] = os.stat(f).st_blocks * 512
        except OSError:
            pass
    if "pg_bytes" not in mem:
        pb = size_bytes((d.get("pg_load") or {}).get("database_size"))
        if pb:
            mem["pg_bytes"] = pb
    return mem


def pg_runs():
    runs = []
    for p in glob.glob(os.path.join(RES, "pg-*.json")):
        d = load(p)
        if d and "workers" in d:
            d["memory"] = memory(d)
            words = d.get("data", "").split()
            if "--counties" in words:
                d.setdefault("counties",
                             words[words.index("--counties") + 1])
            runs.append(d)
    runs.sort(key=lambda d: d["workers"])
    return runs


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "smoke"
    out = {"mode": mode,
           "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
           "machine": machine()}
    md = []
    m = out["machine"]
    md += ["# songgang benchmarks (`make bench%s`)" %
           ("" if mode == "full" else "-smoke"), "",
           "%s · %s · %s cores · %s · Linux %s" %
           (out["date"], m["cpu"], m["cores"], m["memory"], m["kernel"]),
           "",
           "Versions: %s; LMDB %s; NNG %s; libuv %s; %s; %s; %s. "
           "songgang revision %s." %
           (m["gcc"], m["lmdb"], m["nng"], m["libuv"], m["postgresql"],
            m["nginx"], m["wrk"], m["revision"]),
           "",
           "Every peer runs on the same machine in the same run; the load "
           "generator shares the same cores. Nothing here is a pass/fail "
           "test except the comparison of result lists.", ""]

    # ---- Matcher vs PostgreSQL, the floor, scaling. ----
    runs = pg_runs()
    summary = []
    if runs:
        md += ["## Matcher vs PostgreSQL 15 (same data, same queries, "
               "same answers)", "",
               "| workers / jobs (counties) | query | matcher p50 / p99 ms | "
               "PostgreSQL p50 / p99 ms | p50 ratio | p99 ratio | "
               "matcher q/s (1 / 2 threads) | PostgreSQL q/s (1 / 2) | "
               "lists compared | identical |",
               "|---|---|---|---|---|---|---|---|---|---|"]
        for r in runs:
            for key, label in DIRS:
                d = r.get(key)
                if not d:
                    continue
                mt, pg = d["matcher"], d["postgres"]
                md.append("| %s / %s (%s) | %s | %s / %s | %s / %s | %s× | "
                          "%s× | %s / %s | %s / %s | %s | %s |" % (
                              fmt(r["workers"]), fmt(r["jobs"]),
                              r.get("counties", "?"), label,
                              fmt(mt["p50_ms"], 3), fmt(mt["p99_ms"], 3),
                              fmt(pg["p50_ms"]), fmt(pg["p99_ms"]),
                              fmt(d["p50_ratio"], 1), fmt(d["p99_ratio"], 1),
                              fmt(mt["qps_1"]), fmt(mt["qps_2"]),
                              fmt(pg["qps_1"], 1), fmt(pg["qps_2"], 1),
                              fmt(d["compared"]), fmt(d["identical"])))
        md.append("")
        top = runs[-1]
        dirs = [top[k] for k, _ in DIRS if k in top]
        out["matcher_vs_postgres"] = {
            "workers": top["workers"],
            "p50_ratio": min(d["p50_ratio"] for d in dirs),
            "p99_ratio": min(d["p99_ratio"] for d in dirs),
            "identical": all(r.get("identical") is True for r in runs),
            "compared": sum(d["compared"] for r in runs
                            for d in [r.get(k) for k, _ in DIRS] if d),
            "by_scale": [{"workers": r["workers"], "jobs": r["jobs"],
                          **{k: {"p50_ratio": r[k]["p50_ratio"],
                                 "p99_ratio": r[k]["p99_ratio"],
                                 "matcher_p50_ms": r[k]["matcher"]["p50_ms"],
                                 "postgres_p50_ms": r[k]["postgres"]["p50_ms"],
                                 "identical": r[k]["identical"]}
                             for k, _ in DIRS if k in r}} for r in runs],
        }
        fl = [(r, k, r[k]) for r in runs for k, _ in DIRS
              if k in r and "floor" in r[k]]
        if fl:
            md += ["## The floor: reading the same index entries, unscored",
                   "",
                   "| workers | query | entries read (mean) | floor p50 ms | "
                   "matcher p50 ms | matcher / floor |",
                   "|---|---|---|---|---|---|"]
            for r, k, d in fl:
                md.append("| %s | %s | %s | %s | %s | %s× |" % (
                    fmt(r["workers"]), dict(DIRS)[k],
                    fmt(d["matcher"].get("looked_at_mean")),
                    fmt(d["floor"]["p50_ms"], 4), fmt(d["matcher"]["p50_ms"], 4),
                    fmt(d["floor_ratio"], 1)))
            md.append("")
            tf = [d for r, k, d in fl if r is top]
            if tf:
                out["matcher_vs_floor"] = {
                    "workers": top["workers"],
                    "ratio": max(d["floor_ratio"] for d in tf),
                    "by_direction": {k: d["floor_ratio"] for r, k, d in fl
                                     if r is top},
                }
        summary.append(("Matcher ≥ 30× PostgreSQL at p50, province, "
                        "identical results",
                        "%s× (p50), %s× (p99) at %s workers; identical: %s" % (
                            fmt(out["matcher_vs_postgres"]["p50_ratio"], 1),
                            fmt(out["matcher_vs_postgres"]["p99_ratio"], 1),
                            fmt(top["workers"]),
                            fmt(out["matcher_vs_postgres"]["identical"]))))
        if "matcher_vs_floor" in out:
            summary.append(("Within 3× of the floor",
                            "%s× (worst direction)" %
                            fmt(out["matcher_vs_floor"]["ratio"], 1)))
        if len(runs) > 1:
            scaling(runs, md, out)

    # ---- Durable ingest. ----
    ing = []
    for p in glob.glob(os.path.join(RES, "ingest-*.json")):
        d = load(p)
        if d and "data" in d:
            ing.append(d)
    ing.sort(key=lambda d: d["data"]["workers"])
    if ing:
        md += ["## Durable ingest (every index and the push inbox; "
               "acknowledged after the durable commit)", "",
               "| workers / jobs | kind | one per commit /s | grouped (1,000 "
               "per commit) /s | ms per record (grouped) | events appended "
               "(grouped) |",
               "|---|---|---|---|---|---|"]
        for d in ing:
            for kind in ("workers", "jobs"):
                one = d["runs"]["one_per_commit"][kind]
                grp = d["runs"]["grouped"][kind]
                md.append("| %s / %s | %s | %s | %s | %s | %s |" % (
                    fmt(d["data"]["workers"]), fmt(d["data"]["jobs"]), kind,
                    fmt(one["per_s"]), fmt(grp["per_s"]),
                    fmt(grp["handle_ms_per_record"] +
                        grp["commit_s"] * 1000 / max(grp["records"], 1), 3),
                    fmt(grp["events"])))
            md.append("| %s / %s | bulk `songgang import` (no push) | | %s | "
                      "| |" % (fmt(d["data"]["workers"]),
                               fmt(d["data"]["jobs"]),
                               fmt(d["import"]["per_s"])))
        md.append("")
        big = ing[-1]
        out["ingest"] = {
            "workers": big["data"]["workers"],
            "durable_per_s": big["durable_per_s"],
            "workers_per_s": big["durable_per_s_workers"],
            "jobs_per_s": big["durable_per_s_jobs"],
            "one_per_commit_workers_per_s":
                big["runs"]["one_per_commit"]["workers"]["per_s"],
            "one_per_commit_jobs_per_s":
                big["runs"]["one_per_commit"]["jobs"]["per_s"],
            "bulk_import_per_s": big["import"]["per_s"],
            "job_ms": big.get("job_ms"),
            "worker_ms": big.get("worker_ms"),
        }
        summary.append(("≥ 10,000 durable upserts/s, grouped commits",
                        "%s/s mixed (workers %s/s, jobs %s/s with push to "
                        "50) at %s workers" % (
                            fmt(big["durable_per_s"]),
                            fmt(big["durable_per_s_workers"]),
                            fmt(big["durable_per_s_jobs"]),
                            fmt(big["data"]["workers"]))))

    # ---- Gateway vs nginx. ----
    h = load(os.path.join(RES, "http.json"))
    if h:
        md += ["## Gateway vs nginx (`GET /v1/workers/{id}/matches`, %s "
               "bytes; wrk, %s connections, %s s, keep-alive)" %
               (fmt(h["body_bytes"]), h["connections"], h["seconds"]), "",
               "| target | requests/s | p50 ms | p99 ms | non-2xx |",
               "|---|---|---|---|---|"]
        for name, label in (("embedded", "songgang serve (embedded)"),
                            ("embedded_nocache",
                             "songgang serve, response cache off"),
                            ("embedded_many",
                             "songgang serve, 1,000 different workers"),
                            ("split", "split: matcher + gateway over tcp"),
                            ("nginx", "nginx, static file of the same size")):
            x = h.get(name)
            if x:
                md.append("| %s | %s | %s | %s | %s |" % (
                    label, fmt(x["rps"]), fmt(x["p50_ms"], 3),
                    fmt(x["p99_ms"], 3), fmt(x["non_2xx"])))
        md.append("")
        out["gateway_vs_nginx"] = {k: v for k, v in h.items()}
        summary.append(("Gateway ≥ 0.8× nginx requests/s (embedded matches "
                        "path)", "%s× (split mode %s×)" % (
                            fmt(h["ratio"]), fmt(h.get("split_ratio")))))

    # ---- Push. ----
    p = load(os.path.join(RES, "push.json"))
    if p:
        rows = p if isinstance(p, list) else [
            v for _, v in sorted(p.items(), key=lambda kv: int(kv[0]))
            if isinstance(v, dict)]
        rows = [r for r in rows if "clients" in r]
        rows.sort(key=lambda r: r["clients"])
        if rows:
            md += ["## Push latency (POST acknowledged → `event: match` "
                   "received) and connection cost", "",
                   "| SSE clients | jobs posted | events | p50 ms | p99 ms | "
                   "max ms | missing | resident bytes per idle stream |",
                   "|---|---|---|---|---|---|---|---|"]
            for r in rows:
                md.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    fmt(r["clients"]), fmt(r.get("jobs")), fmt(r.get("events")),
                    fmt(r.get("p50_ms"), 2), fmt(r.get("p99_ms"), 2),
                    fmt(r.get("max_ms"), 2), fmt(r.get("missing", 0)),
                    fmt(r.get("rss_per_idle_sse_bytes"))))
            md.append("")
            big = rows[-1]
            out["push"] = {"clients": big["clients"], "p99_ms": big["p99_ms"],
                           "p50_ms": big.get("p50_ms"),
                           "missing": big.get("missing", 0),
                           "rss_per_idle_sse_bytes":
                               big.get("rss_per_idle_sse_bytes"),
                           "by_clients": rows}
            summary.append(("Push p99 ≤ 50 ms with 10,000 clients",
                            "%s ms with %s clients" % (
                                fmt(big["p99_ms"], 1), fmt(big["clients"]))))

    head = ["## Targets and where each stands", "",
            "| target | measured |", "|---|---|"]
    head += ["| %s | %s |" % s for s in summary]
    head.append("")
    i = next(k for k, line in enumerate(md) if line.startswith("## "))
    md = md[:i] + head + md[i:]
    with open(os.path.join(RES, "latest.json"), "w") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(RES, "latest.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


def scaling(runs, md, out):
    """Latency and memory against scale; a PNG with gnuplot."""
    md += ["## Scaling", "",
           "| workers / jobs (counties) | worker→jobs p50 / p99 ms "
           "(candidates) | job→workers p50 / p99 ms (candidates) | "
           "PostgreSQL p50 ms (w→j / j→w) | LMDB data file | "
           "PostgreSQL database |",
           "|---|---|---|---|---|---|"]
    pts = []
    for r in runs:
        a, b = r.get("worker_to_jobs"), r.get("job_to_workers")
        if not a or not b:
            continue
        mem = r.get("memory", {})
        md.append("| %s / %s (%s) | %s / %s (%s) | %s / %s (%s) | %s / %s | "
                  "%s | %s |" % (
                      fmt(r["workers"]), fmt(r["jobs"]), r.get("counties", "?"),
                      fmt(a["matcher"]["p50_ms"], 3),
                      fmt(a["matcher"]["p99_ms"], 3),
                      fmt(a["matcher"].get("looked_at_mean")),
                      fmt(b["matcher"]["p50_ms"], 3),
                      fmt(b["matcher"]["p99_ms"], 3),
                      fmt(b["matcher"].get("looked_at_mean")),
                      fmt(a["postgres"]["p50_ms"]), fmt(b["postgres"]["p50_ms"]),
                      mib(mem.get("lmdb_bytes")), mib(mem.get("pg_bytes"))))
        pts.append((r["workers"], a["matcher"]["p50_ms"],
                    b["matcher"]["p50_ms"], a["postgres"]["p50_ms"],
                    b["postgres"]["p50_ms"], a["matcher"]["p99_ms"],
                    b["matcher"]["p99_ms"]))
    md.append("")
    out["scaling"] = [{"workers": p[0], "matcher_w2j_p50_ms": p[1],
                       "matcher_j2w_p50_ms": p[2], "pg_w2j_p50_ms": p[3],
                       "pg_j2w_p50_ms": p[4], "matcher_w2j_p99_ms": p[5],
                       "matcher_j2w_p99_ms": p[6],
                       "memory": r.get("memory")}
                      for p, r in zip(pts, [r for r in runs
                                            if r.get("worker_to_jobs") and
                                            r.get("job_to_workers")])]
    dat = os.path.join(RES, "scaling.dat")
    with open(dat, "w") as f:
        f.write("# workers m_w2j_p50 m_j2w_p50 pg_w2j_p50 pg_j2w_p50 "
                "m_w2j_p99 m_j2w_p99 (ms)\n")
        for p in pts:
            f.write(" ".join(str(x) for x in p) + "\n")
    gp = """set terminal pngcairo size 900,560 font ",10"
set output "%(png)s"
set title "Query latency against scale (p50; same data and queries)"
set logscale xy
set xlabel "workers in the database"
set ylabel "milliseconds"
set key top left
set grid
plot "%(dat)s" using 1:2 with linespoints lw 2 title "songgang worker→jobs", \\
     "%(dat)s" using 1:3 with linespoints lw 2 title "songgang job→workers", \\
     "%(dat)s" using 1:4 with linespoints dt 2 title "PostgreSQL worker→jobs", \\
     "%(dat)s" using 1:5 with linespoints dt 2 title "PostgreSQL job→workers"
""" % {"png": os.path.join(RES, "scaling.png"), "dat": dat}
    try:
        subprocess.run(["gnuplot"], input=gp, text=True, check=True,
                       capture_output=True, timeout=60)
        md += ["![latency against scale](scaling.png)", ""]
    except (OSError, subprocess.SubprocessError) as e:
        md += ["(gnuplot failed: %s)" % e, ""]


def mib(x):
    return "–" if not x else "%s MiB" % fmt(x / 1048576.0, 0)


if __name__ == "__main__":
    main()
