#!/usr/bin/env python3
"""`ccp request` to one endpoint, whole process, next to a raw libnats request client's
whole process, in the same run (issue 22: at most 3x).

    python3 bench/client/startup.py BUILD_DIR [--runs N]

Starts nats-server on a free loopback port, a real fleet (`ccp proxy`, `ccp agent` with one
sample endpoint on a NATS host bus) and the raw client's responder, then runs both clients
N times each, alternately, and prints the median and p90 wall time of each process (fork,
exec, connect, request, reply, exit) and the ratio of the medians. Exit status 0 when it
ran (whatever the ratio), 1 when the fleet did not come up.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nats_server():
    for c in (os.environ.get("CCP_NATS_SERVER"), shutil.which("nats-server"), "/usr/sbin/nats-server"):
        if c and os.path.exists(c):
            return c
    sys.exit("nats-server not found (set CCP_NATS_SERVER)")


def timed(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return (time.perf_counter() - t0) * 1000, r.returncode, r.stderr.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    ccp = os.path.join(a.build, "app", "ccp")
    raw = os.path.join(a.build, "bench", "ccp_raw_request")
    port, ws = free_port(), free_port()
    url = f"nats://127.0.0.1:{port}"
    procs = []
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        procs.append(subprocess.Popen([nats_server(), "-a", "127.0.0.1", "-p", str(port)], **quiet))
        time.sleep(0.3)
        procs.append(subprocess.Popen([ccp, "proxy", "--address", "ccp://proxy/127.0.0.1/p1",
                                       "--listen", f"127.0.0.1:{ws}", "--backbone", url], **quiet))
        procs.append(subprocess.Popen([ccp, "agent", "--address", "ccp://agent/10.0.0.1/agent",
                                       "--proxy", f"ws://127.0.0.1:{ws}", "--host-bus", url,
                                       "--endpoints", "e1"], **quiet))
        procs.append(subprocess.Popen([raw, "--nats", url, "--respond", "bench.echo"], **quiet))
        ccp_cmd = [ccp, "request", "ccp://endpoint/10.0.0.1/e1", "echo", '{"client":1}',
                   "--backbone", url, "-t", "2s"]
        raw_cmd = [raw, "--nats", url, "--subject", "bench.echo", "--timeout-ms", "2000"]
        for _ in range(50):  # the fleet is up when a request gets its answer
            if timed(ccp_cmd)[1] == 0 and timed(raw_cmd)[1] == 0:
                break
            time.sleep(0.2)
        else:
            print("the fleet did not answer within 10 s", file=sys.stderr)
            return 1
        times = {"raw": [], "ccp": []}
        failed = {"raw": 0, "ccp": 0}
        for _ in range(a.runs):
            for name, cmd in (("raw", raw_cmd), ("ccp", ccp_cmd)):
                ms, rc, err = timed(cmd)
                times[name].append(ms)
                failed[name] += rc != 0
        def line(name):
            t = sorted(times[name])
            p90 = t[min(len(t) - 1, int(0.9 * len(t)))]
            return f"{name:4} median {statistics.median(t):7.1f} ms  p90 {p90:7.1f} ms  failed {failed[name]}/{a.runs}"
        print(f"whole-process time, {a.runs} runs each, alternating")
        print(line("raw") + "   (libnats: connect, request, exit)")
        print(line("ccp") + "   (ccp request ccp://endpoint/10.0.0.1/e1 echo)")
        ratio = statistics.median(times["ccp"]) / statistics.median(times["raw"])
        print(f"ratio ccp/raw {ratio:.2f} (target <= 3)")
        return 0
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
