#!/usr/bin/env bash
# A daemon that is stopping stays stopping: SIGTERM, then SIGTERM or SIGINT again and again
# until it exits, as `timeout` (child, then process group), systemd or an impatient operator
# may send them. Each run must exit 0, a clean stop; before app/net_common.cpp held the
# signals until exit, a signal that came after the daemon's run() returned killed it (143).
#
#   bash tests/app/stop_signals_test.sh CCP_BINARY
#
# The buses are a nats-server on 127.0.0.1 (closing a NATS connection makes the teardown
# long enough for a late signal to land in it); every process is stopped by its PID.
set -euo pipefail
ccp=$1
runs=${STOP_SIGNALS_RUNS:-5}
nats_server=${CCP_NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[[ -x $nats_server ]] || { echo "stop_signals_test: no nats-server" >&2; exit 1; }

tmp=$(mktemp -d)
pid=
nats_pid=
cleanup() {
  [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
  if [[ -n $nats_pid ]]; then
    kill -TERM "$nats_pid" 2>/dev/null || true
    wait "$nats_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "stop_signals_test: $*" >&2; exit 1; }

# NAME READY-TEXT SIGNAL CMD...: starts CMD, waits (10 s at most) until its output holds
# READY-TEXT, sends SIGTERM, then SIGNAL every few microseconds until it is gone.
storm() {
  local name=$1 ready=$2 sig=$3
  shift 3
  "$@" >"$tmp/$name.log" 2>&1 &
  pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q "$ready" "$tmp/$name.log" && break
    [[ -e /proc/$pid ]] || break  # exited at start: said below
    sleep 0.1
  done
  grep -q "$ready" "$tmp/$name.log" || { cat "$tmp/$name.log" >&2; fail "$name did not start"; }
  # READY-TEXT is printed just before the daemon installs its signal handlers (and then
  # says READY=1): a SIGTERM before that ends it by the default action, which is not what
  # is tested here.
  sleep 0.5
  kill -TERM "$pid"
  # Bounded: a clean stop takes well under a second; 200000 signals are seconds of this loop.
  for ((i = 0; i < 200000; i++)); do kill "-$sig" "$pid" 2>/dev/null || break; done
  local status=0
  wait "$pid" || status=$?
  pid=
  ((status == 0)) || { cat "$tmp/$name.log" >&2; fail "$name exited $status after SIGTERM then SIG$sig until it exited (expected 0)"; }
}

nats_port=
for _ in $(seq 200); do
  nats_port=$((20000 + RANDOM % 40000))
  (exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null || break
done
"$nats_server" -a 127.0.0.1 -p "$nats_port" >"$tmp/nats.log" 2>&1 &
nats_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null && break
  sleep 0.1
done
bus=nats://127.0.0.1:$nats_port

for ((r = 0; r < runs; r++)); do
  storm proxy "listening on" TERM "$ccp" proxy --address ccp://proxy/127.0.0.1/p1 \
    --listen 127.0.0.1:0 --backbone "$bus"
  storm endpoint "on host bus" INT "$ccp" endpoint --address ccp://endpoint/10.0.0.1/e1 \
    --host-bus "$bus"
  storm mgmt-hup "on nats" HUP "$ccp" mgmt --address ccp://mgmt/127.0.0.1/m1 --backbone "$bus"
done
echo "stop_signals_test: $runs runs of proxy, endpoint and mgmt: every one exited 0"
