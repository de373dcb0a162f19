#!/usr/bin/env python3
"""`fluxs kustomize build` next to `kubectl kustomize`, in the same run, on
(a) a tree of 1,000 resources across 50 nested kustomizations with patches and generators, and
(b) a trivial one-file kustomization. Checks that both print the same text and reports fluxs's peak memory.
Goal: fluxs at least 3x faster on (a) and 10x on (b).

usage: Benchmarks/kustomize_build.py [--runs N] [--fluxs PATH]   (without --fluxs it builds the release binary)
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

from benchlib import fluxs_binary
import tempfile
import time



def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def make_big(root):
    overlays = []
    for t in range(50):
        base = os.path.join(root, "teams", "t%02d" % t)
        res = []
        for i in range(19):
            name = "app-%02d-%02d" % (t, i)
            write(os.path.join(base, name + ".yaml"),
                  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 1\n  selector:\n"
                  "    matchLabels: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n"
                  "      containers:\n      - name: app\n        image: nginx:1.25\n        envFrom:\n"
                  "        - configMapRef: {name: settings}\n" % (name, name, name))
            res.append(name + ".yaml")
        write(os.path.join(base, "patch.yaml"),
              "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%02d-00\nspec:\n  replicas: 3\n" % t)
        write(os.path.join(base, "kustomization.yaml"),
              "resources:\n%s\nnamePrefix: t%02d-\ncommonLabels:\n  team: t%02d\nconfigMapGenerator:\n- name: settings\n"
              "  literals: [TEAM=t%02d, LEVEL=info]\npatches:\n- path: patch.yaml\nimages:\n- name: nginx\n  newTag: \"1.26\"\n"
              % ("".join("- %s\n" % r for r in res), t, t, t))
        overlays.append("teams/t%02d" % t)
    write(os.path.join(root, "kustomization.yaml"),
          "resources:\n%s\nnamespace: prod\ncommonAnnotations:\n  owner: platform\n" % "".join("- %s\n" % o for o in overlays))


def timed(cmd):
    t0 = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--fluxs")
    a = ap.parse_args()
    fluxs = fluxs_binary(a.fluxs)
    tmp = tempfile.mkdtemp(prefix="fluxs-kbench-")
    try:
        big = os.path.join(tmp, "big")
        make_big(big)
        small = os.path.join(tmp, "small")
        write(os.path.join(small, "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\ndata:\n  a: b\n")
        write(os.path.join(small, "kustomization.yaml"), "resources:\n- cm.yaml\n")
        for title, d, goal in (("(a) 1,000 resources, 50 kustomizations", big, 3.0), ("(b) one-file kustomization", small, 10.0)):
            f_times, k_times = [], []
            same = True
            for _ in range(a.runs):
                tf, of = timed([fluxs, "kustomize", "build", d])
                tk, ok = timed(["kubectl", "kustomize", d])
                f_times.append(tf)
                k_times.append(tk)
                same = same and of == ok
            fm, km = statistics.median(f_times), statistics.median(k_times)
            print(title)
            print("  fluxs kustomize build  median %8.1f ms" % (fm * 1000))
            print("  kubectl kustomize      median %8.1f ms" % (km * 1000))
            print("  speed-up kubectl/fluxs: %.1fx  (goal >= %.0fx: %s); identical output: %s"
                  % (km / fm, goal, "met" if km / fm >= goal else "NOT met", "yes" if same else "NO"))
        # fluxs's peak memory, measured in a fresh child so kubectl's runs do not count
        r = subprocess.run(["/usr/bin/env", "python3", "-c",
                            "import resource,subprocess,sys; subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,check=True); "
                            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)", fluxs, "kustomize", "build", big],
                           stdout=subprocess.PIPE, check=True)
        print("fluxs peak memory on (a): %.1f MiB" % (int(r.stdout) / 1024))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
