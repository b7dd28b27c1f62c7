#!/usr/bin/env python3
"""Runs ccp_sim_bench and prints each simulator figure next to its target.

    python3 bench/sim_report.py build-sbench/bench/ccp_sim_bench [-- extra flags]

The targets (one core, Release build, trace hashed but not written):

    event queue alone (BM_EventQueue, median of 5)   >= 5,000,000 events/s
      (the engine's sim::event_queue; the std::priority_queue it replaced is shown too)
    hops per wall second, 1000-host fleet under load >= 1,000,000 (median of 3)
    idle 1000-host fleet, one simulated hour         <= 10 s of wall time
    10,000-host / 100,000-endpoint fleet             >= 5x real time (20 s simulated)
    heap bytes per simulated process after build     <= 8 KiB

Each line says MET or MISSED. The judged figures are wall-time figures, as the targets
are; the build machine is shared, so each is followed by the same figure computed from
the benchmark thread's CPU time, and the engine's events/s is shown next to the queue
alone, the baseline measured in the same run (STYLE.md rule 14).

Targets are reported, not asserted: the exit status is non-zero only when the binary
cannot be run, exits with an error, prints no readable JSON, or reports a failed
benchmark. A figure whose benchmark was filtered out is printed as `not run`.
"""

import argparse
import json
import subprocess
import sys

# Multipliers from Google Benchmark's time_unit to seconds.
UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}

# Benchmarks by the start of their run name (the rest carries min_time, repeats, ...).
QUEUE_SMALL = "BM_EventQueue/5000/"
QUEUE_LARGE = "BM_EventQueue/130000/"
# The std::priority_queue the engine used before sim::event_queue, same load (comparison).
OLD_QUEUE = {QUEUE_SMALL: "BM_EventQueueStdPriorityQueue/5000/",
             QUEUE_LARGE: "BM_EventQueueStdPriorityQueue/130000/"}
IDLE = "BM_IdleFleet1000Hour/"
HOPS = "BM_HopsFleet1000/"
FLEET10K = "BM_Fleet10k/"
MEMORY = "BM_MemoryPerProcess/"
PREFIXES = [QUEUE_SMALL, QUEUE_LARGE, IDLE, HOPS, FLEET10K, MEMORY] + list(OLD_QUEUE.values())


def run(binary, extra):
    cmd = [binary, "--benchmark_format=json"] + extra
    print("$ " + " ".join(cmd), file=sys.stderr)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    except OSError as e:
        sys.exit(f"sim_report.py: cannot run {binary}: {e}")
    if proc.returncode != 0:
        sys.exit(f"sim_report.py: {binary} exited with status {proc.returncode}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        sys.exit(f"sim_report.py: {binary} printed no readable JSON: {e}")


def results(report):
    """Prefix -> the median aggregate when the benchmark repeated, else its one run."""
    single, median = {}, {}
    for b in report.get("benchmarks", []):
        if b.get("error_occurred"):
            sys.exit(f"sim_report.py: {b.get('name')} failed: {b.get('error_message')}")
        name = b.get("run_name", b.get("name", ""))
        prefix = next((p for p in PREFIXES if name.startswith(p)), None)
        if prefix is None:
            continue
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                median[prefix] = b
        else:
            single.setdefault(prefix, b)
    return {**single, **median}


def seconds(b, key):
    return float(b[key]) * UNIT_S[b.get("time_unit", "ns")]


def verdict(ok):
    return "MET" if ok else "MISSED"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", help="path to ccp_sim_bench")
    ap.add_argument("extra", nargs="*", help="extra flags for the binary, after --")
    args = ap.parse_args()

    report = run(args.binary, args.extra)
    r = results(report)
    ctx = report.get("context", {})
    load = " ".join(f"{x:.2f}" for x in ctx.get("load_avg", []))
    print(f"{ctx.get('date', '?')}  {ctx.get('num_cpus', '?')} x {ctx.get('mhz_per_cpu', '?')} MHz"
          f"  load {load or '?'}  ccp_build={ctx.get('ccp_build', '?')}")
    if ctx.get("ccp_build") != "release":
        print("warning: not a Release (NDEBUG) build of ccp: the targets assume one")

    rows = []  # (figure, value, target, verdict, note)

    def row(figure, value, target, ok, note=""):
        rows.append((figure, value, target, "" if ok is None else verdict(ok), note))

    def not_run(figure, target):
        rows.append((figure, "not run", target, "", ""))

    queue_rate = {}  # the baseline of the engine figures, by queue size
    for name, label in [(QUEUE_SMALL, "5k pending"), (QUEUE_LARGE, "130k pending")]:
        figure = f"event queue alone, {label} (events/s)"
        if name not in r:
            not_run(figure, ">= 5.0M")
            continue
        rate = float(r[name]["items_per_second"])
        queue_rate[name] = rate
        note = "sim::event_queue of world::event"
        if OLD_QUEUE[name] in r:
            old = float(r[OLD_QUEUE[name]]["items_per_second"])
            note += f"; std::priority_queue before it: {old / 1e6:.2f}M"
        row(figure, f"{rate / 1e6:.2f}M", ">= 5.0M", rate >= 5e6, note)

    def queue_share(engine_rate, queue):
        """The queue alone's share of an engine event's time (same-run baseline)."""
        if queue not in queue_rate or engine_rate <= 0:
            return ""
        return f"queue alone is {engine_rate / queue_rate[queue]:.0%} of an event's time"

    if HOPS in r:
        b = r[HOPS]
        hops = float(b["hops"])
        rate = float(b["hops_per_second"])
        cpu = hops / seconds(b, "cpu_time")
        row("hops/s, 1000 hosts, 2 x 1000 req/s", f"{rate / 1e6:.2f}M", ">= 1.0M", rate >= 1e6,
            f"cpu time: {cpu / 1e6:.2f}M/s; {b['hop_share']:.0%} of events are hops;"
            f" ok ratio {b['ok_ratio']:.3f}")
        eps = float(b["events_per_second"])
        row("  engine events/s under load", f"{eps / 1e6:.2f}M", "", None,
            queue_share(eps, QUEUE_SMALL))
    else:
        not_run("hops/s, 1000 hosts, 2 x 1000 req/s", ">= 1.0M")

    if IDLE in r:
        b = r[IDLE]
        wall = float(b["wall_s_per_sim_hour"])
        row("idle 1000 hosts, wall s per simulated hour", f"{wall:.2f}", "<= 10", wall <= 10,
            f"cpu time: {seconds(b, 'cpu_time'):.2f} s; {float(b['events']) / 1e6:.1f}M events")
        eps = float(b["events_per_second"])
        row("  events/s through the whole engine (idle)", f"{eps / 1e6:.2f}M", "", None,
            queue_share(eps, QUEUE_SMALL))
    else:
        not_run("idle 1000 hosts, wall s per simulated hour", "<= 10")

    if FLEET10K in r:
        b = r[FLEET10K]
        factor = float(b["realtime_factor"])
        cpu_factor = float(b["simulated_s"]) / seconds(b, "cpu_time")
        row("10k hosts / 100k endpoints, x real time", f"{factor:.2f}", ">= 5", factor >= 5,
            f"cpu time: {cpu_factor:.2f}; second half {float(b['realtime_factor_second_half']):.2f};"
            f" {float(b['hops_per_second']) / 1e6:.2f}M hops/s")
        eps = float(b["events_per_second"])
        row("  engine events/s, 10k hosts", f"{eps / 1e6:.2f}M", "", None,
            queue_share(eps, QUEUE_LARGE))
    else:
        not_run("10k hosts / 100k endpoints, x real time", ">= 5")

    if MEMORY in r:
        b = r[MEMORY]
        per = float(b["bytes_per_process"])
        row("heap bytes per process, 1000 hosts built", f"{per:.0f}", "<= 8192", per <= 8192,
            f"attached (5 s): {float(b['bytes_per_process_attached']):.0f};"
            f" lone endpoint {float(b['endpoint_alone_bytes']):.0f},"
            f" lone agent {float(b['agent_alone_bytes']):.0f}")
        if FLEET10K in r:
            per10k = float(r[FLEET10K]["bytes_per_process"])
            row("heap bytes per process, 10k hosts built", f"{per10k:.0f}", "<= 8192", per10k <= 8192)
    else:
        not_run("heap bytes per process, 1000 hosts built", "<= 8192")

    widths = [max(len(str(x[i])) for x in rows) for i in range(4)]
    for figure, value, target, v, note in rows:
        line = (f"{figure:<{widths[0]}}  {value:>{widths[1]}}  {target:<{widths[2]}}"
                f"  {v:<{widths[3]}}  {note}")
        print(line.rstrip())


if __name__ == "__main__":
    main()
