#!/usr/bin/env python3
"""Runs ccp_routing_bench and prints median ns/op, allocations and the routing ratios.

    python3 bench/routing_ratios.py build-bench/bench/ccp_routing_bench [-- extra flags]

The binary runs with --benchmark_repetitions=N (--repetitions, default 5),
--benchmark_report_aggregates_only=true and --benchmark_enable_random_interleaving=true:
repetitions of all benchmarks are shuffled, so on a shared machine a baseline and a
forwarding path sample the same stretch of load. Every figure is the median of the N
repetitions (medians read with bench/ratios.py's helper). Ratios compare benchmarks of
the same run (STYLE.md rule 14), for each forwarding path (proxy link->bus, proxy
bus->link, agent link->endpoint):

    forwarding / BM_CopyFrame200        target <= 10  (a hop costs a few frame copies)
    BM_JsonParseEnvelope / forwarding   target >= 20  (a router never parses JSON)

and the proxy's fan-out to ccp://agent/all as ns per target for 10, 100 and 1000
agents: growth is linear when the cost per target is roughly constant, reported as
`linear` when the largest is at most LINEAR_SPREAD times the smallest.

Targets are reported, not asserted: the exit status is non-zero only when the binary
cannot be run, fails, prints no readable JSON, or lacks a benchmark a ratio needs.
CPU time by default (the build machine is shared); --time real uses wall time instead.
"""

import argparse
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratios import medians  # noqa: E402  (bench/ratios.py, next to this file)


def run(binary, repetitions, extra):
    cmd = [
        binary,
        "--benchmark_format=json",
        f"--benchmark_repetitions={repetitions}",
        "--benchmark_report_aggregates_only=true",
        "--benchmark_enable_random_interleaving=true",
    ] + extra
    print("$ " + " ".join(cmd), file=sys.stderr)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    except OSError as e:
        sys.exit(f"routing_ratios.py: cannot run {binary}: {e}")
    if proc.returncode != 0:
        sys.exit(f"routing_ratios.py: {binary} exited with status {proc.returncode}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        sys.exit(f"routing_ratios.py: {binary} printed no readable JSON: {e}")


COPY = "BM_CopyFrame200"
JSON = "BM_JsonParseEnvelope"
# The forwarding paths the ratios are about (the *LongSubject, *LongId, *SwapHost,
# *10kAgents and *10kAgentsSpread variants are printed in the table, for their allocations
# and for scale, but carry no target).
FORWARDING = ["BM_ProxyLinkToBus", "BM_ProxyBusToLink", "BM_AgentLinkToEndpoint",
              "BM_AgentEndpointToLink"]
FAN_OUT = "BM_ProxyFanOutAll"
FAN_OUT_SIZES = [10, 100, 1000]
# Largest / smallest ns per target still called linear: per-target work is a map lookup
# and a vector append, which may slow somewhat once 1000 targets outgrow the caches.
LINEAR_SPREAD = 1.5


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", help="path to ccp_routing_bench")
    ap.add_argument("--time", choices=["cpu", "real"], default="cpu",
                    help="which time to report (default: cpu)")
    ap.add_argument("--repetitions", type=int, default=5,
                    help="repetitions of each benchmark (default: 5)")
    ap.add_argument("extra", nargs="*", help="extra flags for the binary, after --")
    args = ap.parse_args()

    report = run(args.binary, args.repetitions, args.extra)
    time_key = "cpu_time" if args.time == "cpu" else "real_time"
    table = medians(report, time_key)
    if not table:
        sys.exit("routing_ratios.py: no median aggregates in the report")

    ctx = report.get("context", {})
    print(f"{ctx.get('date', '?')}  {ctx.get('num_cpus', '?')} x {ctx.get('mhz_per_cpu', '?')} MHz"
          f"  load {ctx.get('load_avg', '?')}"
          f"  library_build_type={ctx.get('library_build_type', '?')}"
          f"  median of {args.repetitions}, {args.time} time")
    # Coefficient of variation of the repetitions: how much the shared machine shook them.
    cv = {b["run_name"]: float(b[time_key]) for b in report.get("benchmarks", [])
          if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "cv"}
    width = max(len(n) for n in table)
    print(f"{'benchmark':<{width}}  {'ns/op':>10}  {'cv':>6}  {'allocs/iter':>11}")
    for name in sorted(table):
        ns, allocs = table[name]
        a = "?" if allocs is None else f"{allocs:.2f}"
        c = f"{cv[name]:.1%}" if name in cv else "?"
        print(f"{name:<{width}}  {ns:>10.1f}  {c:>6}  {a:>11}")

    missing = [n for n in [COPY, JSON] + FORWARDING if n not in table]
    missing += [f"{FAN_OUT}/{k}" for k in FAN_OUT_SIZES if f"{FAN_OUT}/{k}" not in table]

    print()
    rows = []
    for fwd in FORWARDING:
        if fwd in table and COPY in table:
            r = table[fwd][0] / table[COPY][0]
            rows.append((f"{fwd} / {COPY}", r, f"target <= 10: {'met' if r <= 10 else 'MISSED'}"))
    for fwd in FORWARDING:
        if fwd in table and JSON in table:
            r = table[JSON][0] / table[fwd][0]
            rows.append((f"{JSON} / {fwd}", r, f"target >= 20: {'met' if r >= 20 else 'MISSED'}"))
    # Scale, no target: the bus->link path with 10,000 agents attached, every frame for one
    # host and frames spread over 1,024 hosts (the route lookup out of cache).
    one = "BM_ProxyBusToLink"
    for big in ["BM_ProxyBusToLink10kAgents", "BM_ProxyBusToLink10kAgentsSpread"]:
        if big in table and one in table:
            rows.append((f"{big} / {one}", table[big][0] / table[one][0], "scale, no target"))
    if rows:
        lwidth = max(len(label) for label, _, _ in rows)
        for label, r, verdict in rows:
            print(f"{label:<{lwidth}}  {r:>8.1f}  {verdict}")

    per_target = {}
    for k in FAN_OUT_SIZES:
        name = f"{FAN_OUT}/{k}"
        if name in table:
            ns, allocs = table[name]
            per_target[k] = ns / k
            a = "?" if allocs is None else f"{allocs / k:.3f}"
            print(f"{name} per target: {ns / k:>8.2f} ns  allocs/target {a}")
    if len(per_target) == len(FAN_OUT_SIZES):
        spread = max(per_target.values()) / min(per_target.values())
        verdict = "linear" if spread <= LINEAR_SPREAD else "NOT linear"
        print(f"{FAN_OUT} ns/target max/min: {spread:.2f}  {verdict}"
              f" (linear when <= {LINEAR_SPREAD:g})")
        # ns per target include the per-frame work (read_header, ...) shared by all
        # targets, which inflates the small sizes; the marginal cost between two sizes
        # is the cost of one more target alone.
        for a, b in zip(FAN_OUT_SIZES, FAN_OUT_SIZES[1:]):
            marginal = (per_target[b] * b - per_target[a] * a) / (b - a)
            print(f"{FAN_OUT} marginal ns/target {a}->{b}: {marginal:.2f}")

    if missing:
        sys.exit("routing_ratios.py: benchmarks the ratios need are missing: " + ", ".join(missing))


if __name__ == "__main__":
    main()
