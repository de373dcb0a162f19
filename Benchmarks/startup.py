#!/usr/bin/env python3
"""Start-up time of `fluxs version --client` next to `kubectl version --client`,
measured in the same run (interleaved, median of N). Goal: fluxs at most one
third of kubectl's time.

usage: Benchmarks/startup.py [--runs N] [--fluxs PATH]
       (without --fluxs it builds the release binary first)
"""
import argparse
import os
import statistics
import subprocess
import sys

from benchlib import fluxs_binary
import time



def timed(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--fluxs")
    a = ap.parse_args()
    fluxs = fluxs_binary(a.fluxs)
    cmds = {"fluxs": [fluxs, "version", "--client"], "kubectl": ["kubectl", "version", "--client"]}
    for c in cmds.values():  # warm the page cache
        timed(c)
    samples = {k: [] for k in cmds}
    for _ in range(a.runs):
        for k, c in cmds.items():
            samples[k].append(timed(c))
    med = {k: statistics.median(v) for k, v in samples.items()}
    for k in cmds:
        print("%-8s median %7.2f ms  (min %.2f, max %.2f, %d runs)" % (k, med[k] * 1000, min(samples[k]) * 1000,
                                                                     max(samples[k]) * 1000, a.runs))
    ratio = med["fluxs"] / med["kubectl"]
    print("ratio fluxs/kubectl: %.3f  (goal <= 0.333: %s)" % (ratio, "met" if ratio <= 1 / 3 else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
