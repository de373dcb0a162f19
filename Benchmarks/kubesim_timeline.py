#!/usr/bin/env python3
"""How busy kubesim was: reads the timeline KUBESIM_TIMELINE=FILE made it write (one [start, end, thread CPU
seconds, method] per request, from its request line read to its answer sent) and prints, for each burst of requests
(requests closer than --gap seconds to the previous one's end), its requests, wall span, the time with at least one
request in flight, the simulator's CPU for them, and the idle time (span minus in flight): the time the simulator
waited for its client.

usage: KUBESIM_TIMELINE=/tmp/t.json tools/testenv/testenv.py run --services kube,git -- Benchmarks/reconcile.py ...
       Benchmarks/kubesim_timeline.py /tmp/t.json [--gap 0.2] [--min 100]
"""
import argparse
import json


def bursts(entries, gap):
    out, cur, end = [], [], None
    for e in sorted(entries):
        if cur and e[0] - end > gap:
            out.append(cur)
            cur = []
        cur.append(e)
        end = e[1] if not cur[:-1] else max(end, e[1])
    if cur:
        out.append(cur)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("timeline")
    ap.add_argument("--gap", type=float, default=0.2, help="seconds without a request that end a burst")
    ap.add_argument("--min", type=int, default=100, help="bursts of fewer requests are not shown")
    a = ap.parse_args()
    with open(a.timeline) as f:
        entries = [tuple(e) for e in json.load(f)]
    print("%9s %8s %9s %9s %9s %7s %10s  methods" % ("requests", "span s", "busy s", "cpu s", "idle s", "idle%", "cpu ms/req"))
    for b in bursts(entries, a.gap):
        if len(b) < a.min:
            continue
        span = max(e[1] for e in b) - b[0][0]
        busy, cur_s, cur_e = 0.0, None, None
        for s, e, _, _ in b:
            if cur_e is None or s > cur_e:
                if cur_e is not None:
                    busy += cur_e - cur_s
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
        busy += cur_e - cur_s
        cpu = sum(e[2] for e in b)
        methods = {}
        for e in b:
            methods[e[3]] = methods.get(e[3], 0) + 1
        print("%9d %8.3f %9.3f %9.3f %9.3f %6.1f%% %10.3f  %s" % (
            len(b), span, busy, cpu, span - busy, 100 * (span - busy) / span if span else 0, 1000 * cpu / len(b),
            " ".join("%s %d" % kv for kv in sorted(methods.items()))))


if __name__ == "__main__":
    main()
