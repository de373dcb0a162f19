#!/usr/bin/env python3
"""Kustomization reconcile cost next to kubectl, in the same run, for N ConfigMaps in one Kustomization:

  first    `fluxs create kustomization` (build, dry run, apply)   vs  `kubectl apply --server-side` of the same objects
  no-op    `fluxs reconcile kustomization` of the same revision   (ratio to fluxs's first apply)
  1%       `fluxs reconcile kustomization` after 1% of the objects changed in Git (ratio to fluxs's first apply)

with the API requests of each step (the simulator's /__sim/counts; against a real cluster the `--verbose` request
lines) and fluxs's peak memory. Goals (issue 13): first <= 0.5 of kubectl; no-op <= 0.1 of first and <= 1 request per
object; 1% <= 0.15 of first; the largest size within 5.5 times the 10x smaller one's first apply; peak memory
<= 100 MB at 5,000 objects.

The no-op is run NOOP_RUNS times and the 1% change CHANGE_RUNS times (another 1% of the objects each time): the
figures are their medians, as one run's wall time on a shared machine follows its load (the first apply is run
once, next to kubectl's once).

fluxs runs with flux's client-side rate limit (--kube-api-qps 50, --kube-api-burst 300) unless --qps/--burst say
otherwise; kubectl sets none.

usage: tools/testenv/testenv.py run --services kube,git -- Benchmarks/reconcile.py [--sizes 100,1000,5000]
           [--qps Q] [--burst B] [--fluxs PATH]
       FLUXS_BENCH_KUBECONFIG=<kubeconfig of a real cluster>: measured there instead of the simulator (only the
       Flux CRDs are installed there; no controllers)
       (without --fluxs it builds the release binary first)
"""
import argparse
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchlib import fluxs_binary

REQUEST_LINE = re.compile(r"^\s+(GET|PATCH|POST|PUT|DELETE) https?://\S+ \d{3}", re.M)


def run(cmd, env=None, cwd=None, stdin=None):
    r = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, text=True)
    if r.returncode != 0:
        sys.exit("%s failed (%d):\n%s%s" % (" ".join(cmd), r.returncode, r.stdout[-2000:], r.stderr[-4000:]))
    return r


def sim_cpu():
    """CPU seconds the local simulator has used (from /proc; the test environment's pids.json), or None."""
    if os.environ.get("FLUXS_BENCH_KUBECONFIG"):
        return None
    try:
        with open(os.path.join(os.environ["FLUXS_TESTENV_DIR"], "pids.json")) as f:
            pid = json.load(f)["kube"]
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (KeyError, OSError, ValueError):
        return None


# CPU seconds of each measured run: the client's (rusage) and the simulator's, by label; printed after the table
# (wall times on a shared machine follow the load, CPU seconds much less).
CPU = {}


def measured(cmd, env=None, label=None):
    """Seconds, peak RSS (MB) and stderr of one run."""
    s0 = sim_cpu()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    took = time.perf_counter() - t0
    s1 = sim_cpu()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("%s failed (%d):\n%s" % (" ".join(cmd), p.returncode, err[-4000:]))
    if label:
        CPU[label] = (usage.ru_utime + usage.ru_stime, s1 - s0 if s0 is not None and s1 is not None else None)
    return took, usage.ru_maxrss / 1024.0, err


class Sim:
    """The simulator's request counts, by user agent product."""

    def __init__(self):
        self.server = os.environ["FLUXS_TEST_KUBE_SERVER"]
        self.token = os.environ["FLUXS_TEST_KUBE_ADMIN_TOKEN"]
        self.ctx = ssl.create_default_context(cafile=os.environ["FLUXS_TEST_KUBE_CA"])

    def call(self, method):
        req = urllib.request.Request(self.server + "/__sim/counts", method=method, headers={"Authorization": "Bearer " + self.token})
        with urllib.request.urlopen(req, context=self.ctx) as r:
            return json.load(r)

    def reset(self):
        self.call("DELETE")

    def count(self, agent):
        return sum(e["count"] for e in self.call("GET")["counts"] if e["agent"] == agent)


NOOP_RUNS = 5
CHANGE_RUNS = 3


def median_run(runs):
    """The run (seconds, peak RSS, requests) of the median time; peak RSS the largest of all."""
    ordered = sorted(runs, key=lambda r: r[0])
    mid = ordered[len(ordered) // 2]
    return mid[0], max(r[1] for r in runs), mid[2]


def configmaps(n, namespace=None, changed=(), value="changed"):
    out = []
    for i in range(n):
        ns = "  namespace: %s\n" % namespace if namespace else ""
        value_i = value if i in changed else "value-%d" % i
        out.append("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%05d\n%sdata:\n  index: \"%d\"\n  value: %s\n" % (i, ns, i, value_i))
    return "---\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--qps")
    ap.add_argument("--burst")
    ap.add_argument("--fluxs")
    a = ap.parse_args()
    for v in ("FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP", "KUBECONFIG"):
        if not os.environ.get(v):
            sys.exit("%s is not set: run this inside tools/testenv/testenv.py run -- ..." % v)
    fluxs = fluxs_binary(a.fluxs)
    real = os.environ.get("FLUXS_BENCH_KUBECONFIG")
    env = dict(os.environ)
    if real:
        env["KUBECONFIG"] = real
    sim = None if real else Sim()
    limits = []
    if a.qps:
        limits.append("--kube-api-qps=" + a.qps)
    if a.burst:
        limits.append("--kube-api-burst=" + a.burst)
    sizes = [int(s) for s in a.sizes.split(",")]

    tmp = tempfile.mkdtemp(prefix="fluxs-bench-")
    env["FLUXS_STORAGE_PATH"] = os.path.join(tmp, "storage")
    try:
        # The Flux CRDs (and, on the simulator, what `fluxs install` writes; no controller runs there).
        if real:
            docs = run([fluxs, "install", "--export"], env=env).stdout.split("\n---\n")
            crds = "\n---\n".join(d for d in docs if "\nkind: CustomResourceDefinition\n" in "\n" + d + "\n")
            run(["kubectl", "apply", "--server-side", "-f", "-"], env=env, stdin=crds)
        else:
            run([fluxs, "install"], env=env)
        rows = []
        for n in sizes:
            tag = "%d-%d" % (n, os.getpid())
            kns, fns, flux_ns = "kbench-" + tag, "fbench-" + tag, "fluxs-bench-" + tag
            for ns in (kns, fns, flux_ns):
                run(["kubectl", "create", "namespace", ns], env=env)
            # kubectl: the objects from one file.
            path = os.path.join(tmp, "kubectl-%d.yaml" % n)
            with open(path, "w") as f:
                f.write(configmaps(n, kns))
            if sim:
                sim.reset()
            k_first, _, k_err = measured(["kubectl", "apply", "--server-side", "--field-manager=bench", "-f", path], env,
                                         label=("kubectl", n))
            k_req = sim.count("kubectl") if sim else None
            # fluxs: the same objects from Git.
            work = os.path.join(tmp, "repo-%d" % n)
            os.makedirs(work)
            run(["git", "init", "-q", "-b", "main", work])
            with open(os.path.join(work, "configmaps.yaml"), "w") as f:
                f.write(configmaps(n))
            run(["git", "-C", work, "add", "-A"])
            run(["git", "-C", work, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "objects"])
            bare = os.path.join(os.environ["FLUXS_TEST_GIT_ROOT"], "bench-%s.git" % tag)
            run(["git", "clone", "-q", "--bare", work, bare])
            run([fluxs, "create", "source", "git", "fleet", "--url=%s/git/bench-%s.git" % (os.environ["FLUXS_TEST_GIT_HTTP"], tag),
                 "--branch=main", "--interval=1h", "-n", flux_ns] + limits, env=env)
            verbose = [] if sim else ["--verbose"]

            def step(cmd, label=None):
                if sim:
                    sim.reset()
                took, rss, err = measured([fluxs] + cmd + ["-n", flux_ns] + limits + verbose, env, label=label)
                req = sim.count("fluxs") if sim else len(REQUEST_LINE.findall(err))
                return took, rss, req

            first = step(["create", "kustomization", "app", "--source=GitRepository/fleet", "--path=./", "--prune=true",
                          "--interval=1h", "--target-namespace=" + fns], label=("first", n))
            noop = median_run([step(["reconcile", "kustomization", "app"]) for _ in range(NOOP_RUNS)])
            changes = []
            for k in range(CHANGE_RUNS):
                # the same 1% of the objects, with another value each time
                with open(os.path.join(work, "configmaps.yaml"), "w") as f:
                    f.write(configmaps(n, changed=set(range(0, n, 100)), value="changed-%d" % k))
                run(["git", "-C", work, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-am", "1%"])
                run(["git", "-C", work, "push", "-q", bare, "main"])
                run([fluxs, "reconcile", "source", "git", "fleet", "-n", flux_ns] + limits, env=env)
                changes.append(step(["reconcile", "kustomization", "app"]))
            change = median_run(changes)
            rows.append((n, k_first, k_req, first, noop, change))
            for ns in (kns, fns, flux_ns):
                subprocess.run(["kubectl", "delete", "namespace", ns, "--wait=false"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        print("Kustomization reconcile, %s, fluxs limits: %s; no-op and 1%%: medians of %d and %d runs" % (
            "cluster " + real if real else "API simulator", " ".join(limits) or "flux's defaults (qps 50, burst 300)",
            NOOP_RUNS, CHANGE_RUNS))
        print("%6s | %9s %9s %6s | %9s %6s %7s | %9s %6s %6s | %9s %6s %6s" % (
            "objects", "kubectl s", "fluxs s", "ratio", "no-op s", "ratio", "req/obj", "1% s", "ratio", "req", "peak MB", "", ""))
        goals = []  # (goal, figure, met): printed last, one line each

        def goal(cond, what, figure):
            goals.append((what, figure, cond))
            return "✔" if cond else "✗"
        for n, k_first, k_req, first, noop, change in rows:
            r1 = first[0] / k_first
            r2 = noop[0] / first[0]
            r3 = change[0] / first[0]
            peak = max(first[1], noop[1], change[1])
            g1 = goal(r1 <= 0.5, "%d objects: first apply <= 0.5 of kubectl's time" % n, "%.2f" % r1)
            g2 = goal(r2 <= 0.1, "%d objects: no-op <= 0.1 of the first apply" % n, "%.2f" % r2)
            g3 = goal(noop[2] <= n + 20, "%d objects: no-op <= 1 request per object (+20)" % n, "%d requests" % noop[2])
            g4 = goal(r3 <= 0.15, "%d objects: 1%% change <= 0.15 of the first apply" % n, "%.2f" % r3)
            g5 = goal(peak <= 100, "%d objects: peak memory <= 100 MB" % n, "%.1f MB" % peak) if n >= 5000 else ""
            print("%6d | %9.2f %9.2f %5.2f%s | %9.2f %5.2f%s %6.2f%s | %9.2f %5.2f%s %6d | %9.1f %s" % (
                n, k_first, first[0], r1, g1, noop[0], r2, g2, noop[2] / n, g3,
                change[0], r3, g4, change[2], peak, g5))
            print("%6s   requests: kubectl %s, fluxs first %d, no-op %d, 1%% %d" % ("", k_req if k_req is not None else "?", first[2], noop[2], change[2]))
            kc, ks = CPU.get(("kubectl", n), (0, None))
            fc, fs = CPU.get(("first", n), (0, None))
            print("%6s   CPU s: kubectl %.2f%s, fluxs first %.2f%s" % (
                "", kc, " + simulator %.2f" % ks if ks is not None else "", fc, " + simulator %.2f" % fs if fs is not None else ""))
            print("%6s   no-op: %.3f of the first apply (goal <= 0.1: %s), %d requests = %.3f per object (goal <= 1: %s)" % (
                "", r2, "met" if r2 <= 0.1 else "not met", noop[2], noop[2] / n, "met" if noop[2] <= n else "not met"))
        # Growth: at most 1.1 times linear (5,000 objects within 5.5 times the 1,000 figure).
        for small, big in zip(rows, rows[1:]):
            g = big[3][0] / small[3][0]
            limit = 1.1 * big[0] / small[0]
            mark = goal(g <= limit, "%d -> %d objects: first apply within %.1f times" % (small[0], big[0], limit), "x%.2f" % g)
            print("growth %d -> %d objects: first apply x%.2f %s (goal <= %.1f)" % (small[0], big[0], g, mark, limit))
        print()
        print("goals (issue 13):")
        for what, figure, met in goals:
            print("  %-7s %s: %s" % ("met" if met else "NOT MET", what, figure))
        print("all goals met" if all(m for _, _, m in goals) else
              "%d of %d goals not met" % (sum(1 for _, _, m in goals if not m), len(goals)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
