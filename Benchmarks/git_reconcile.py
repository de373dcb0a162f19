#!/usr/bin/env python3
"""GitRepository reconcile next to git, in the same run, on a 10,000-file repository served by the test
environment's `git http-backend`:

  first   `fluxs reconcile source git` with an empty storage (fetch + artifact)  vs  `git clone --depth 1`
  no-op   `fluxs reconcile source git` when nothing changed                        vs  `git ls-remote`

Goal: fluxs no slower than git for both (ratio <= 1). fluxs's numbers include its Kubernetes API calls
(annotate, status writes) against the local API simulator.

usage: tools/testenv/testenv.py run -- Benchmarks/git_reconcile.py [--runs N] [--files N] [--fluxs PATH]
       (without --fluxs it builds the release binary first)
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import fluxs_binary, require_testenv, run_quiet, timed_quiet

run = run_quiet
timed = timed_quiet


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--fluxs")
    a = ap.parse_args()
    require_testenv()
    fluxs = fluxs_binary(a.fluxs)

    tmp = tempfile.mkdtemp(prefix="fluxs-bench-")
    try:
        # A repository of N small YAML files in 100 folders, one commit.
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        run(["git", "init", "-q", "-b", "main", work])
        for i in range(a.files):
            d = os.path.join(work, "apps", "team-%02d" % (i % 100))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "cm-%05d.yaml" % i), "w") as f:
                f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%05d\n  namespace: default\n"
                        "data:\n  index: \"%d\"\n  team: team-%02d\n" % (i, i, i % 100))
        run(["git", "-C", work, "add", "-A"])
        run(["git", "-C", work, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "bench"])
        bare = os.path.join(os.environ["FLUXS_TEST_GIT_ROOT"], "bench-%d.git" % os.getpid())
        run(["git", "init", "-q", "--bare", "-b", "main", bare])
        run(["git", "-C", work, "push", "-q", bare, "main"])
        url = "%s/git/%s" % (os.environ["FLUXS_TEST_GIT_HTTP"], os.path.basename(bare))

        env = dict(os.environ)
        ns = "bench-%d" % os.getpid()
        run(["kubectl", "create", "namespace", ns])
        run([fluxs, "install"])
        storage = os.path.join(tmp, "storage")
        env["FLUXS_STORAGE_PATH"] = storage
        subprocess.run("%s create source git bench --url=%s --branch=main --interval=1m -n %s --export | kubectl apply -f -"
                       % (fluxs, url, ns), shell=True, check=True, stdout=subprocess.DEVNULL)
        reconcile = [fluxs, "reconcile", "source", "git", "bench", "-n", ns]

        # `git clone --depth 1` also writes a work tree (most of its time on a slow disk); `--no-checkout` shows the
        # transfer alone, printed for reference.
        first = {"fluxs": [], "git clone --depth 1": [], "  (--no-checkout)": []}
        noop = {"fluxs": [], "git ls-remote": []}
        for i in range(a.runs):
            shutil.rmtree(storage, ignore_errors=True)
            first["fluxs"].append(timed(reconcile, env))
            dest = os.path.join(tmp, "clone-%d" % i)
            first["git clone --depth 1"].append(timed(["git", "clone", "-q", "--depth", "1", url, dest]))
            shutil.rmtree(dest)
            first["  (--no-checkout)"].append(timed(["git", "clone", "-q", "--depth", "1", "--no-checkout", url, dest]))
            shutil.rmtree(dest)
            noop["fluxs"].append(timed(reconcile, env))
            noop["git ls-remote"].append(timed(["git", "ls-remote", url]))

        def report(title, samples, ref):
            print(title)
            med = {k: statistics.median(v) for k, v in samples.items()}
            for k, v in samples.items():
                print("  %-22s median %8.1f ms  (min %.1f, max %.1f, %d runs)" % (k, med[k] * 1000, min(v) * 1000, max(v) * 1000, len(v)))
            ratio = med["fluxs"] / med[ref]
            print("  ratio fluxs/%s: %.2f  (goal <= 1: %s)" % (ref, ratio, "met" if ratio <= 1 else "NOT met"))
            if "  (--no-checkout)" in med:
                print("  ratio fluxs/git clone --depth 1 --no-checkout: %.2f  (for reference)" % (med["fluxs"] / med["  (--no-checkout)"]))

        print("repository: %d files, %s" % (a.files, url))
        report("first reconcile (empty storage) vs clone:", first, "git clone --depth 1")
        report("no-op reconcile vs ls-remote:", noop, "git ls-remote")
        subprocess.run(["kubectl", "delete", "namespace", ns, "--wait=false"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(bare, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
