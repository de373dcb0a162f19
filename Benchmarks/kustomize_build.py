#!/usr/bin/env python3
"""`fluxs kustomize build` next to `kubectl kustomize`, in the same run, on
(a) a tree of 1,000 resources across 50 nested kustomizations with patches and generators, and
(b) a trivial one-file kustomization. Checks that both print the same text and reports fluxs's peak memory.
Goal: fluxs at least 3x faster on (a) and 10x on (b).

Then growth (issue 11): trees of N resources in N/20 bases (patches, generators, labels, prefixes, images) at each
--sizes, the time and peak memory of fluxs and kubectl (kubectl skipped above 5,000), their ratio, and fluxs's growth
against the 1,000 figure. Goals: 5,000 within 5.5x the 1,000 time, 10,000 under 2 s, memory growing linearly,
identical output at every size.

Instruction counts (valgrind's callgrind on a stripped copy of the binary) show the growth without timing noise.
Memory is linear when peak(N)/peak(1,000) <= 1.1 x N/1,000.

usage: Benchmarks/kustomize_build.py [--runs N] [--fluxs PATH] [--sizes 100,1000,5000,10000] [--no-instructions]
       [--growth-only]
       (without --fluxs it builds the release binary)
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


def make_sized(root, n, width=5, common_labels=False):
    """N resources (19 Deployments and a generated ConfigMap per base) in N/20 bases under one overlay that sets a
    namespace and an annotation. Each base has a name prefix, a patch, an image tag and a team label: `labels` with
    includeSelectors, or `commonLabels` (the 1,000-resource tree of (a)). Names are numbered with `width` digits."""
    overlays = []
    for t in range(max(1, n // 20)):
        team = "t%0*d" % (width, t)
        base = os.path.join(root, "teams", team)
        res = []
        for i in range(19):
            name = "app-%0*d-%02d" % (width, t, i)
            write(os.path.join(base, name + ".yaml"),
                  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 1\n  selector:\n"
                  "    matchLabels: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n"
                  "      containers:\n      - name: app\n        image: nginx:1.25\n        envFrom:\n"
                  "        - configMapRef: {name: settings}\n" % (name, name, name))
            res.append(name + ".yaml")
        write(os.path.join(base, "patch.yaml"),
              "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%0*d-00\nspec:\n  replicas: 3\n" % (width, t))
        labels = ("commonLabels:\n  team: %s\n" if common_labels else "labels:\n- pairs: {team: %s}\n  includeSelectors: true\n") % team
        write(os.path.join(base, "kustomization.yaml"),
              "resources:\n%s\nnamePrefix: %s-\n%sconfigMapGenerator:\n- name: settings\n  literals: [TEAM=%s, LEVEL=info]\n"
              "patches:\n- path: patch.yaml\nimages:\n- name: nginx\n  newTag: \"1.26\"\n"
              % ("".join("- %s\n" % r for r in res), team, labels, team))
        overlays.append("teams/" + team)
    write(os.path.join(root, "kustomization.yaml"),
          "resources:\n%s\nnamespace: prod\ncommonAnnotations:\n  owner: platform\n" % "".join("- %s\n" % o for o in overlays))


def make_big(root):
    """(a): 1,000 resources in 50 bases with commonLabels."""
    make_sized(root, 1000, width=2, common_labels=True)


def measured(cmd):
    """Wall time, peak RSS (KiB) and output of one run, measured in a fresh child."""
    r = subprocess.run([sys.executable, "-c",
                        "import resource,subprocess,sys,time; t=time.perf_counter(); "
                        "p=subprocess.run(sys.argv[1:],stdout=subprocess.PIPE,stderr=subprocess.DEVNULL,check=True); "
                        "d=time.perf_counter()-t; sys.stderr.write('%f %d\\n' % (d, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
                        "sys.stdout.buffer.write(p.stdout)"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    t, rss = r.stderr.decode().split()[-2:]
    return float(t), int(rss), r.stdout


def instructions(fluxs, d):
    """Instructions `fluxs kustomize build d` executes (valgrind's callgrind, total Ir), or None without valgrind.
    perf stat -e instructions has no hardware counter in most VMs; callgrind counts the same on any machine and is
    repeatable, so growth shows without timing noise. The binary is a stripped copy: valgrind 3.19 cannot read the
    DWARF 5 debug info of a Swift release build."""
    if not shutil.which("valgrind"):
        return None
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", fluxs, "kustomize", "build", d],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    for line in r.stderr.decode().splitlines():
        if "Collected :" in line:
            return int(line.split(":")[-1].strip())
    return None


def growth(fluxs, tmp, sizes, count_instructions):
    print("growth: N resources in N/20 bases (patches, generators, labels, prefixes, images)")
    print("  %7s  %8s %9s  %9s %11s  %7s  %7s  %14s %7s  %s" % ("N", "fluxs s", "fluxs MiB", "kubectl s", "kubectl MiB", "ratio",
                                                                "growth", "instructions", "growth", "same"))
    stripped = None
    if count_instructions and shutil.which("valgrind"):
        stripped = os.path.join(tmp, "fluxs-stripped")
        subprocess.run(["strip", "-o", stripped, fluxs], check=True)
    figures, counts, same_all = {}, {}, []
    for n in sizes:
        d = os.path.join(tmp, "n%d" % n)
        make_sized(d, n)
        tf, mf, of = measured([fluxs, "kustomize", "build", d])
        if n <= 5000:
            tk, mk, ok = measured(["kubectl", "kustomize", d])
            same = "yes" if of == ok else "NO"
            same_all.append((n, of == ok))
            kt, km, ratio = "%9.2f" % tk, "%11.1f" % (mk / 1024), "%6.1fx" % (tk / tf)
        else:
            kt, km, ratio, same = "%9s" % "skipped", "%11s" % "-", "%7s" % "-", "-"
        figures[n] = (tf, mf)
        g = "%6.2fx" % (tf / figures[1000][0]) if 1000 in figures else "%7s" % "-"
        ins, ig = "%14s" % "-", "%7s" % "-"
        if stripped:
            c = instructions(stripped, d)
            if c is not None:
                counts[n] = c
                ins = "%14s" % format(c, ",")
                if 1000 in counts:
                    ig = "%6.2fx" % (c / counts[1000])
        print("  %7d  %8.2f %9.1f  %s %s  %s  %s  %s %s  %s" % (n, tf, mf / 1024, kt, km, ratio, g, ins, ig, same))
        shutil.rmtree(d, ignore_errors=True)
    if 1000 in figures and 5000 in figures:
        f = figures[5000][0] / figures[1000][0]
        print("  5,000 vs 1,000: %.2fx the time (goal <= 5.5x: %s)" % (f, "met" if f <= 5.5 else "NOT met")
              + ("; %.2fx the instructions" % (counts[5000] / counts[1000]) if 1000 in counts and 5000 in counts else ""))
    if 10000 in figures:
        t = figures[10000][0]
        print("  10,000: %.2f s (goal < 2 s: %s)" % (t, "met" if t < 2 else "NOT met"))
    if 1000 in figures and len(figures) > 1:
        # Linear memory: peak(N) / peak(1,000) at most 1.1 * N / 1,000 for every N above 1,000 (a fixed start-up
        # footprint makes a linear program's ratio smaller than N / 1,000, never larger).
        worst = [(n, figures[n][1] / figures[1000][1], 1.1 * n / 1000) for n in sorted(figures) if n > 1000]
        if worst:
            ok = all(r <= lim for _, r, lim in worst)
            print("  memory: " + ", ".join("peak(%d)/peak(1,000) = %.2f (limit %.1f)" % w for w in worst)
                  + " (goal linear, ratio <= 1.1 x N/1,000: %s)" % ("met" if ok else "NOT met"))
    if same_all:
        ok = all(s for _, s in same_all)
        print("  identical output to kubectl at %s: %s" % (", ".join(format(n, ",") for n, _ in same_all), "met" if ok else "NOT met"))


def timed(cmd):
    t0 = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--fluxs")
    ap.add_argument("--sizes", default="100,1000,5000,10000")
    ap.add_argument("--no-instructions", action="store_true", help="skip the callgrind instruction counts")
    ap.add_argument("--growth-only", action="store_true", help="only the growth table")
    a = ap.parse_args()
    fluxs = fluxs_binary(a.fluxs)
    tmp = tempfile.mkdtemp(prefix="fluxs-kbench-")
    try:
        if not a.growth_only:
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
        growth(fluxs, tmp, [int(x) for x in a.sizes.split(",") if x], not a.no_instructions)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
