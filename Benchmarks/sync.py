#!/usr/bin/env python3
"""`fluxs sync` of 10 Kustomizations x 100 ConfigMaps (each Kustomization depending on the one before, half of
them; a dependency chain and parallel branches), against the test environment's API simulator and git server:

  first   sync with --concurrency 1  vs  --concurrency 4          (fresh namespaces each, 1000 objects created)
  no-op   sync when nothing changed  vs  the first sync           (same objects, all unchanged)
  no-op   sync --concurrency 4       vs  what a CI script does today: `fluxs reconcile source git` and
                                          `fluxs reconcile kustomization` for each object, one after the other

Printed as ratios (no timing assertions anywhere). There is no reference tool with a sync of its own: flux
reconciles through the controllers, so the baseline is fluxs's own one-object-at-a-time loop.

usage: tools/testenv/testenv.py run --services kube,git -- Benchmarks/sync.py [--runs N] [--fluxs PATH]
       (without --fluxs it builds the release binary first)
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import fluxs_binary, require_testenv, run_quiet, timed_quiet

KS = 10
OBJECTS = 100


run = run_quiet
timed = timed_quiet


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fluxs")
    a = ap.parse_args()
    require_testenv()
    fluxs = fluxs_binary(a.fluxs)
    tmp = tempfile.mkdtemp(prefix="fluxs-bench-sync-")
    try:
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        run(["git", "init", "-q", "-b", "main", work])
        for k in range(KS):
            d = os.path.join(work, "ks-%02d" % k)
            os.makedirs(d)
            for i in range(OBJECTS):
                with open(os.path.join(d, "cm-%03d.yaml" % i), "w") as f:
                    f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ks%02d-cm-%03d\ndata:\n  index: \"%d\"\n" % (k, i, i))
        run(["git", "-C", work, "add", "-A"])
        run(["git", "-C", work, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "bench"])
        bare = os.path.join(os.environ["FLUXS_TEST_GIT_ROOT"], "bench-sync-%d.git" % os.getpid())
        run(["git", "init", "-q", "--bare", "-b", "main", bare])
        run(["git", "-C", work, "push", "-q", bare, "main"])
        url = "%s/git/%s" % (os.environ["FLUXS_TEST_GIT_HTTP"], os.path.basename(bare))
        run([fluxs, "install"])
        env = dict(os.environ)
        env["FLUXS_STORAGE_PATH"] = os.path.join(tmp, "storage")
        counter = [0]

        def fresh():
            counter[0] += 1
            ns = "bench-sync-%d-%d" % (os.getpid(), counter[0])
            apps = ns + "-apps"
            for n in (ns, apps):
                run(["kubectl", "create", "namespace", n])
            docs = ["apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: fleet\n  namespace: %s\n"
                    "spec:\n  interval: 1m\n  url: %s\n  ref:\n    branch: main\n" % (ns, url)]
            for k in range(KS):
                dep = "  dependsOn:\n  - name: ks-%02d\n" % (k - 1) if k % 2 == 1 else ""
                docs.append("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ks-%02d\n"
                            "  namespace: %s\nspec:\n  interval: 10m\n  path: ./ks-%02d\n  prune: true\n  targetNamespace: %s\n"
                            "  sourceRef:\n    kind: GitRepository\n    name: fleet\n%s" % (k, ns, k, apps, dep))
            run(["kubectl", "apply", "-f", "-"], stdin="---\n".join(docs))
            return ns, apps

        samples = {"first --concurrency 1": [], "first --concurrency 4": [], "no-op --concurrency 4": [], "no-op one by one": []}
        spaces = []
        for _ in range(a.runs):
            for c in (1, 4):
                ns, apps = fresh()
                spaces += [ns, apps]
                samples["first --concurrency %d" % c].append(timed([fluxs, "sync", "-n", ns, "--concurrency", str(c)], env))
            samples["no-op --concurrency 4"].append(timed([fluxs, "sync", "-n", ns, "--concurrency", "4"], env))
            t0 = time.perf_counter()
            run([fluxs, "reconcile", "source", "git", "fleet", "-n", ns], env)
            for k in range(KS):
                run([fluxs, "reconcile", "kustomization", "ks-%02d" % k, "-n", ns], env)
            samples["no-op one by one"].append(time.perf_counter() - t0)

        med = {k: statistics.median(v) for k, v in samples.items()}
        print("sync of %d Kustomizations x %d ConfigMaps (%d runs)" % (KS, OBJECTS, a.runs))
        for k, v in samples.items():
            print("  %-24s median %8.1f ms  (min %.1f, max %.1f)" % (k, med[k] * 1000, min(v) * 1000, max(v) * 1000))
        print("  ratio first --concurrency 4 / --concurrency 1: %.2f" % (med["first --concurrency 4"] / med["first --concurrency 1"]))
        print("  ratio no-op / first (--concurrency 4):        %.2f" % (med["no-op --concurrency 4"] / med["first --concurrency 4"]))
        print("  ratio no-op sync / one-by-one reconciles:     %.2f  (goal <= 1: %s)" % (
            med["no-op --concurrency 4"] / med["no-op one by one"], "met" if med["no-op --concurrency 4"] <= med["no-op one by one"] else "NOT met"))
        for n in spaces:
            subprocess.run(["kubectl", "delete", "namespace", n, "--wait=false"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(bare, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
