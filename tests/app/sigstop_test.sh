#!/usr/bin/env bash
# A hung proxy, with real processes: a nats-server on 127.0.0.1, 3 proxies, 6 agents with an
# endpoint each, and `ccp request ccp://endpoint/any ping` started every 200 ms with a 2 s
# deadline, plus one every 2 s whose deadline (40 s) outlives the stall. The proxy holding
# the most agents is stopped (SIGSTOP) for 30 s, then continued (SIGCONT).
#
# What README "A hung proxy" states, checked: every request started before the stop
# succeeds. During the stall the server keeps giving the stopped proxy its share of the
# `any` queue group (nats-server never pings out a stopped client that peers' heartbeats
# reach), until the senders route around it (2 s of silence): a short request fails only
# as a timeout, never `unreachable`, and only if it started within bound_ms of the stop; a
# request whose deadline outlives the stall succeeds (the resumed proxy hands back what it
# took). Every request started after SIGCONT succeeds, none ends `unreachable` (no stale
# view), and the resumed proxy is ready (/readyz) within 10 s. Prints the figures.
#
#   bash tests/app/sigstop_test.sh CCP_BINARY
#
# About 60 s (CTest label `real`, run alone). Everything listens on 127.0.0.1; every process
# started is stopped by its PID on exit (a stopped one is continued first).
set -euo pipefail
ccp=$1
nats_server=${CCP_NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[[ -x $nats_server ]] || { echo "sigstop_test: no nats-server" >&2; exit 1; }

stall_s=30
every_ms=200  # short requests (2 s deadline)
long_every=10  # every 10th start is also a long request (40 s deadline)
after_s=12     # load after SIGCONT
# README "A hung proxy": senders route `any` around a proxy silent for 2 s (its last
# heartbeat up to 1 s before the stop); a request started later than this succeeds.
bound_ms=3000
agents=6

tmp=$(mktemp -d)
pids=()
clients=()
cleanup() {
  local rc=$?
  for p in "${clients[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    kill -CONT "$p" 2>/dev/null || true
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if ((rc != 0)); then
    for f in "$tmp"/*.log; do echo "--- $(basename "$f")"; tail -n 20 "$f"; done >&2
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "sigstop_test: $*" >&2; exit 1; }

free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  fail "no free port"
}

within() {  # SECONDS CMD... : until CMD succeeds
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    (($(date +%s) < deadline)) || return 1
    sleep 0.2
  done
}

start() {  # NAME CMD... : a daemon, its output in NAME.log
  local name=$1
  shift
  "$@" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
}

now_ms() { date +%s%3N; }

nats_port=$(free_port)
start nats "$nats_server" -a 127.0.0.1 -p "$nats_port"
within 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$nats_port" 2>/dev/null || fail "nats-server did not start"
bus=nats://127.0.0.1:$nats_port

proxy_pid=()
mon=()
urls=()
for i in 1 2 3; do
  port=$(free_port)
  mon[i]=$(free_port)
  urls+=(--proxy "ws://127.0.0.1:$port")
  start "proxy-$i" "$ccp" proxy --address "ccp://proxy/127.0.0.1/p$i" --listen "127.0.0.1:$port" \
    --backbone "$bus" --monitor "127.0.0.1:${mon[i]}"
  proxy_pid[i]=${pids[-1]}
done
for h in $(seq "$agents"); do
  start "agent-$h" "$ccp" agent --address "ccp://agent/10.0.0.$h/agent" "${urls[@]}" \
    --host-bus "$bus"
  start "endpoint-$h" "$ccp" endpoint --address "ccp://endpoint/10.0.0.$h/e1" --host-bus "$bus"
done

all_answer() {
  "$ccp" request ccp://endpoint/all ping --backbone "$bus" -t 2s >"$tmp/all.out" 2>&1 &&
    grep -q "^$agents/$agents answered" "$tmp/all.out"
}
within 30 all_answer || { cat "$tmp/all.out" >&2; fail "the fleet did not come up"; }

attached() {  # PROXY-INDEX: its attached agents, from /metrics
  curl -s --max-time 2 "http://127.0.0.1:${mon[$1]}/metrics" |
    sed -n 's/^ccp_attached_links{.*} \([0-9]*\)$/\1/p' | head -1
}

# Requests: one client process each, started every $every_ms (and a long one every
# $long_every starts); each writes its exit status and output under $tmp/req (short) or
# $tmp/long, named by its start time (ms).
mkdir "$tmp/req" "$tmp/long"
one_request() {  # DIR DEADLINE START-MS
  set +e
  "$ccp" request ccp://endpoint/any ping --backbone "$bus" -t "$2" >"$tmp/$1/$3.out" 2>&1
  echo $? >"$tmp/$1/$3.rc"
}
starts=0
load_until() {  # MS-TIMESTAMP
  while (($(now_ms) < $1)); do
    local t
    t=$(now_ms)
    one_request req 2s "$t" &
    clients+=($!)
    if ((++starts % long_every == 0)); then
      one_request long 40s "$t" &
      clients+=($!)
    fi
    sleep "0.$(printf '%03d' "$every_ms")"
  done
}

load_until $(($(now_ms) + 5000))
busiest=1
for i in 2 3; do
  a=$(attached "$i") b=$(attached "$busiest")
  ((${a:-0} > ${b:-0})) && busiest=$i
done
held=$(attached "$busiest")
held=${held:-0}
((held > 0)) || fail "no proxy holds an agent"
stop_ms=$(now_ms)
kill -STOP "${proxy_pid[busiest]}"
echo "sigstop_test: SIGSTOP proxy p$busiest (holding $held of $agents agents) for ${stall_s}s"
load_until $((stop_ms + stall_s * 1000))
cont_ms=$(now_ms)
kill -CONT "${proxy_pid[busiest]}"
echo "sigstop_test: SIGCONT proxy p$busiest"
load_until $((cont_ms + after_s * 1000))
for p in "${clients[@]}"; do wait "$p" 2>/dev/null || true; done  # each ends by its deadline
clients=()

ready() { curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${mon[busiest]}/readyz" | grep -q 200; }
within 10 ready || fail "the resumed proxy p$busiest is not ready 10 s after SIGCONT"

before=0 during=0 failed_during=0 after=0 long_n=0
bad=()
for rc_file in "$tmp"/req/*.rc; do
  t=$(basename "$rc_file" .rc)
  rc=$(<"$rc_file")
  out=$(tail -n 3 "$tmp/req/$t.out")
  if ((t < stop_ms)); then
    ((++before))
    ((rc == 0)) || bad+=("before the stop: request at $((t - stop_ms)) ms exited $rc: $out")
  elif ((t < cont_ms)); then
    ((++during))
    if ((rc != 0)); then
      ((++failed_during))
      [[ $out == *"outcome: timeout"* ]] ||
        bad+=("during the stall: request at $((t - stop_ms)) ms from the stop did not time out: $out")
      ((t - stop_ms < bound_ms)) ||
        bad+=("during the stall: request at $((t - stop_ms)) ms from the stop failed, past the ${bound_ms} ms bound: $out")
    fi
  else
    ((++after))
    ((rc == 0)) || bad+=("after SIGCONT: request at $((t - cont_ms)) ms from SIGCONT exited $rc: $out")
  fi
done
for rc_file in "$tmp"/long/*.rc; do
  t=$(basename "$rc_file" .rc)
  ((t >= stop_ms && t < cont_ms)) || continue
  ((++long_n))
  (($(<"$rc_file") == 0)) ||
    bad+=("long request at $((t - stop_ms)) ms from the stop failed: $(tail -n 3 "$tmp/long/$t.out")")
done
last_failed=-1
for rc_file in "$tmp"/req/*.rc; do
  t=$(basename "$rc_file" .rc)
  ((t >= stop_ms && t < cont_ms && $(<"$rc_file") != 0 && t - stop_ms > last_failed)) &&
    last_failed=$((t - stop_ms))
done
echo "sigstop_test: short requests: $before before the stop (all ok), $during during the" \
  "${stall_s} s stall ($failed_during timed out, the last started ${last_failed} ms after the" \
  "stop), $after after SIGCONT; long requests started during the stall: $long_n"
((before > 0 && during > 0 && after > 0 && long_n > 0)) || fail "too few requests to judge"
((failed_during * 5 < during * 3)) ||
  bad+=("$failed_during of $during requests during the stall failed: more than a stopped proxy's share")
if ((${#bad[@]} > 0)); then
  printf 'sigstop_test: %s\n' "${bad[@]}" >&2
  fail "${#bad[@]} requests broke what README states"
fi
echo "sigstop_test: ok"
