#!/usr/bin/env python3
"""Runs ccp_codec_bench and prints median ns/op per benchmark and the ratios that matter.

    python3 bench/ratios.py build-bench/bench/ccp_codec_bench [-- extra benchmark flags]

The binary runs with --benchmark_format=json --benchmark_repetitions=5
--benchmark_report_aggregates_only=true; every figure is the median of the 5 repetitions.
Ratios compare benchmarks of the same run (STYLE.md rule 14):

    nlohmann parse / read_header   target >= 20  (a router reads headers, never JSON)
    nlohmann parse / decode        reported
    read_header / memcpy           reported      (header work against copying the frame)

Targets are reported, not asserted: the exit status is non-zero only when the binary
cannot be run, fails, prints no readable JSON, or lacks a benchmark a ratio needs.
Times are CPU time by default (the build machine is shared; descheduled time is not the
codec's); --time real uses wall time instead.
"""

import argparse
import json
import subprocess
import sys

# Multipliers from Google Benchmark's time_unit to nanoseconds.
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# (numerator, denominator, target or None): ratios of median times.
RATIOS = [
    ("BM_nlohmann_parse", "BM_read_header", 20.0),
    ("BM_nlohmann_parse", "BM_decode", None),
    ("BM_read_header", "BM_memcpy_frame", None),
]


def run(binary, extra):
    cmd = [
        binary,
        "--benchmark_format=json",
        "--benchmark_repetitions=5",
        "--benchmark_report_aggregates_only=true",
    ] + extra
    print("$ " + " ".join(cmd), file=sys.stderr)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    except OSError as e:
        sys.exit(f"ratios.py: cannot run {binary}: {e}")
    if proc.returncode != 0:
        sys.exit(f"ratios.py: {binary} exited with status {proc.returncode}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        sys.exit(f"ratios.py: {binary} printed no readable JSON: {e}")


def medians(report, time_key):
    """run_name -> (median ns/op, median allocs/iter or None), in report order."""
    out = {}
    for b in report.get("benchmarks", []):
        if b.get("error_occurred"):
            sys.exit(f"ratios.py: {b.get('name')} failed: {b.get('error_message')}")
        if b.get("run_type") != "aggregate" or b.get("aggregate_name") != "median":
            continue
        ns = float(b[time_key]) * UNIT_NS[b.get("time_unit", "ns")]
        out[b["run_name"]] = (ns, b.get("allocs_per_iter"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", help="path to ccp_codec_bench")
    ap.add_argument("--time", choices=["cpu", "real"], default="cpu",
                    help="which time to report (default: cpu)")
    ap.add_argument("extra", nargs="*", help="extra flags for the binary, after --")
    args = ap.parse_args()

    report = run(args.binary, args.extra)
    time_key = "cpu_time" if args.time == "cpu" else "real_time"
    table = medians(report, time_key)
    if not table:
        sys.exit("ratios.py: no median aggregates in the report")

    ctx = report.get("context", {})
    print(f"{ctx.get('date', '?')}  {ctx.get('num_cpus', '?')} x {ctx.get('mhz_per_cpu', '?')} MHz"
          f"  library_build_type={ctx.get('library_build_type', '?')}"
          f"  median of 5, {args.time} time")
    width = max(len(n) for n in table)
    print(f"{'benchmark':<{width}}  {'ns/op':>10}  {'allocs/iter':>11}")
    for name, (ns, allocs) in table.items():
        a = "?" if allocs is None else f"{allocs:.2f}"
        print(f"{name:<{width}}  {ns:>10.1f}  {a:>11}")

    print()
    missing = False
    lwidth = max(len(f"{n} / {d}") for n, d, _ in RATIOS)
    for num, den, target in RATIOS:
        label = f"{num} / {den}"
        if num not in table or den not in table:
            print(f"{label:<{lwidth}}  missing")
            missing = True
            continue
        r = table[num][0] / table[den][0]
        verdict = ""
        if target is not None:
            verdict = f"  target >= {target:g}: {'met' if r >= target else 'MISSED'}"
        print(f"{label:<{lwidth}}  {r:>8.1f}{verdict}")
    if missing:
        sys.exit("ratios.py: a benchmark the ratios need is missing from the report")


if __name__ == "__main__":
    main()
