#!/usr/bin/env bash
# `ccp real` as a user runs it, on tiny fleets: a passing run exits 0, a failing one 1, an
# unrealisable file 2 with the kinds named, a Ctrl-C'd run 2; and after each (and after
# the runner itself is SIGKILLed) nothing it started is left running: no `ccp real-node`
# of the run (their command lines name the run's folder) and no nats-server on any of the
# run's ports (a 3-node NATS cluster in tiny-cluster and tiny-long). Every wait is bounded.
# Usage: real_test.sh CCP
set -uo pipefail
ccp=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "real_test: $*" >&2; exit 1; }
top=$(mktemp -d /tmp/ccp-real-test-XXXXXX)
bg=()
cleanup() {  # only what this script started, by PID
  for p in "${bg[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$top"
}
trap cleanup EXIT

# PIDs of processes whose command line names folder $1 (the run's real-node processes).
named() {
  local pid
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [[ $pid == $$ || $pid == $BASHPID ]] && continue
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "$1" && echo "$pid"
  done
}
# Fails when anything of run folder $1 is still running (after a bounded grace of 5 s for
# processes that are being reaped).
no_leftovers() {
  local dir=$1 ports="" k p
  # nats://127.0.0.1:P1[,127.0.0.1:P2...]: every node's client port
  [[ -f $dir/nats-url ]] && ports=$(sed 's#^nats://##; s#,# #g; s#[^ ]*:##g' "$dir/nats-url")
  for ((k = 0; k < 50; k++)); do
    local left open=""
    left=$(named "$dir")
    for p in $ports; do
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && open+=" $p"
    done
    [[ -z $left && -z $open ]] && return 0
    sleep 0.1
  done
  fail "$2: left running: pids [$(named "$dir" | tr '\n' ' ')] nats ports open [${open# }]"
}

# The leftover check itself fires: a process naming a folder is found.
probe=$top/probe
mkdir -p "$probe"
bash -c 'sleep 30; true' "$probe" &
bg+=($!)
sleep 0.2
[[ -n $(named "$probe") ]] || fail "the leftover check does not see a process naming its folder"
kill -KILL "${bg[-1]}"
wait "${bg[-1]}" 2>/dev/null

# The port check sees a server on any node of a cluster's nats-url, not only the first.
nats=$(command -v nats-server || echo /usr/sbin/nats-server)
ports=$top/portsfile cluster=$top/fake-run  # its command line must not name the run folder
mkdir -p "$ports" "$cluster"
"$nats" -a 127.0.0.1 -p -1 --ports_file_dir "$ports" >/dev/null 2>&1 &
bg+=($!)
for ((k = 0; k < 50; k++)); do
  compgen -G "$ports/*.ports" >/dev/null && break
  sleep 0.1
done
port=$(grep -o '127.0.0.1:[0-9]*' "$ports"/*.ports | sed 's/.*://')
[[ -n $port ]] || fail "the probe nats-server did not say its port"
echo "nats://127.0.0.1:1,127.0.0.1:$port,127.0.0.1:2" >"$cluster/nats-url"
(no_leftovers "$cluster" "probe" 2>/dev/null) && fail "the leftover check does not see a server on a cluster's second port"
kill -KILL "${bg[-1]}"
wait "${bg[-1]}" 2>/dev/null

# An unrealisable file: exit 2, the kinds and the file named, nothing started.
out=$("$ccp" real "$here/real/unrealisable.json" 2>&1)
rc=$?
[[ $rc == 2 ]] || fail "unrealisable: exit $rc, want 2: $out"
grep -q "unrealisable.json" <<<"$out" || fail "unrealisable: file not named: $out"
grep -q "latency_spike (/faults/1), slow_consumer (/faults/2)" <<<"$out" ||
  fail "unrealisable: kinds not named: $out"

# An endpoint_churn of part of a host's endpoints: exit 2, the fault and the rule named.
out=$("$ccp" real "$here/real/churn-partial-host.json" 2>&1)
rc=$?
[[ $rc == 2 ]] || fail "churn-partial-host: exit $rc, want 2: $out"
grep -q "churn-partial-host.json: /faults/0: endpoint_churn: .*multiple of endpoints_per_host (2)" \
  <<<"$out" || fail "churn-partial-host: rule not named: $out"

# A passing run: exit 0, the summary line, nothing left.
out=$(timeout 120 "$ccp" real "$here/real/tiny.json" --dir "$top/pass" 2>&1)
rc=$?
[[ $rc == 0 ]] || fail "tiny: exit $rc, want 0: $out"
grep -q "^PASS real-tiny seed=1 .* requests=[1-9][0-9]* ok=" <<<"$out" || fail "tiny: no PASS line: $out"
grep -q "^real: 1 passed, 0 failed" <<<"$out" || fail "tiny: no summary: $out"
no_leftovers "$top/pass/real-tiny" "a passing run"

# A run on a 3-node NATS cluster, two nodes killed in turn: exit 0, every node's port named
# in nats-url, nothing left.
out=$(timeout 120 "$ccp" real "$here/real/tiny-cluster.json" --dir "$top/cluster" 2>&1)
rc=$?
[[ $rc == 0 ]] || fail "tiny-cluster: exit $rc, want 0: $out"
grep -q "^PASS real-tiny-cluster seed=1 .* requests=[1-9][0-9]* ok=" <<<"$out" ||
  fail "tiny-cluster: no PASS line: $out"
grep -qE '^nats://127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+$' \
  "$top/cluster/real-tiny-cluster/nats-url" ||
  fail "tiny-cluster: nats-url does not list 3 nodes: $(cat "$top/cluster/real-tiny-cluster/nats-url")"
no_leftovers "$top/cluster/real-tiny-cluster" "a cluster run"

# A failing run: exit 1, the failure named, nothing left.
out=$(timeout 120 "$ccp" real "$here/real/tiny-fails.json" --dir "$top/fail" 2>&1)
rc=$?
[[ $rc == 1 ]] || fail "tiny-fails: exit $rc, want 1: $out"
grep -q "unreachable ratio .* < 0.9" <<<"$out" || fail "tiny-fails: failure not named: $out"
no_leftovers "$top/fail/real-tiny-fails" "a failing run"

# Ctrl-C during the fault phase, with a proxy and the NATS cluster's nodes stopped (SIGSTOP)
# and one node killed: exit 2.
interrupted() {  # interrupted SIGNAL NAME [FILE]: starts a long run, signals the runner once it runs
  local sig=$1 name=$2 dir=$top/$2 file=${3:-tiny-long} pid k
  "$ccp" real "$here/real/$file.json" --dir "$dir" >"$top/$name.out" 2>&1 &
  pid=$!
  bg+=($pid)
  echo "$pid" >"$top/$name.pid"
  for ((k = 0; k < 600; k++)); do  # until the fault phase has begun (bounded: 60 s)
    [[ -f $dir/real-$file/origin ]] && break
    sleep 0.1
  done
  [[ -f $dir/real-$file/origin ]] || fail "$name: the run did not start: $(cat "$top/$name.out")"
  sleep 2
  kill "-$sig" "$pid"
  for ((k = 0; k < 300 && $(kill -0 "$pid" 2>/dev/null && echo 1 || echo 0) == 1; k++)); do
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "$name: the runner still runs 30 s after SIG$sig"
  wait "$pid"
  echo $? >"$top/$name.rc"
  no_leftovers "$dir/real-$file" "$name"
}
interrupted INT ctrl-c
[[ $(cat "$top/ctrl-c.rc") == 2 ]] || fail "ctrl-c: exit $(cat "$top/ctrl-c.rc"), want 2: $(cat "$top/ctrl-c.out")"
grep -q "interrupted" "$top/ctrl-c.out" || fail "ctrl-c: not said: $(cat "$top/ctrl-c.out")"
interrupted TERM sigterm
[[ $(cat "$top/sigterm.rc") == 2 ]] || fail "sigterm: exit $(cat "$top/sigterm.rc"), want 2"
# The runner SIGKILLed: it cleans nothing, its children die with it (parent-death signal).
interrupted KILL sigkill

# Network namespaces (partition_proxy, half_open): none of a run's namespaces, veths or
# nftables tables (named by the runner's PID) is left after a failing run or a Ctrl-C; a
# SIGKILLed runner leaves them, and the next run that makes namespaces removes them and
# says so. Needs root, ip and nft (scripts/install-deps.sh installs nftables).
netns_of() {  # what of runner PID $1 exists: namespaces, links, root nftables tables
  ls /run/netns 2>/dev/null | grep -E "^ccp-$1-[a-z][0-9]+$"
  ip -o link show | sed -E 's/^[0-9]+: ([^:@]+).*/\1/' | grep -E "^ccp$1[a-z][0-9]+$"
  nft list tables | grep -E "^table ip ccp_$1$"
}
if [[ $(id -u) != 0 ]] || ! command -v nft >/dev/null || ! command -v ip >/dev/null; then
  echo "real_test: network namespace checks skipped (need root, ip and nft)"
  echo "real_test: ok"
  exit 0
fi
# The check fires: a namespace of this shell's PID is seen, then removed.
ip netns add "ccp-$$-t0" || fail "cannot make a namespace"
[[ -n $(netns_of $$) ]] || fail "the namespace check does not see ccp-$$-t0"
ip netns del "ccp-$$-t0"
[[ -z $(netns_of $$) ]] || fail "ccp-$$-t0 not removed"

out=$("$ccp" real "$here/real/both-netns-faults.json" 2>&1)
rc=$?
[[ $rc == 2 ]] || fail "both-netns-faults: exit $rc, want 2: $out"
grep -q "both-netns-faults.json: partition_proxy and half_open in one file" <<<"$out" ||
  fail "both-netns-faults: not named: $out"

"$ccp" real "$here/real/tiny-partition-fails.json" --dir "$top/nsfail" >"$top/nsfail.out" 2>&1 &
pid=$!  # the runner's own PID (its namespaces are named by it): no `timeout` in between
bg+=($pid)
for ((k = 0; k < 1200 && $(kill -0 "$pid" 2>/dev/null && echo 1 || echo 0) == 1; k++)); do
  sleep 0.1  # bounded: 120 s
done
kill -0 "$pid" 2>/dev/null && fail "tiny-partition-fails: still running after 120 s"
wait "$pid"
rc=$?
[[ $rc == 1 ]] || fail "tiny-partition-fails: exit $rc, want 1: $(cat "$top/nsfail.out")"
grep -q "^FAIL real-tiny-partition-fails .* requests=[1-9]" "$top/nsfail.out" ||
  fail "tiny-partition-fails: no FAIL line: $(cat "$top/nsfail.out")"
[[ -z $(netns_of "$pid") ]] || fail "a failing run left: $(netns_of "$pid" | tr '\n' ' ')"
no_leftovers "$top/nsfail/real-tiny-partition-fails" "a failing run in namespaces"

interrupted INT ns-ctrl-c tiny-long-netns
[[ $(cat "$top/ns-ctrl-c.rc") == 2 ]] || fail "ns-ctrl-c: exit $(cat "$top/ns-ctrl-c.rc"), want 2"
pid=$(cat "$top/ns-ctrl-c.pid")
[[ -z $(netns_of "$pid") ]] || fail "an interrupted run left: $(netns_of "$pid" | tr '\n' ' ')"

interrupted KILL ns-sigkill tiny-long-netns
pid=$(cat "$top/ns-sigkill.pid")
[[ -n $(netns_of "$pid") ]] || fail "a SIGKILLed runner left no namespace: the check below proves nothing"
out=$("$ccp" real "$here/real/tiny-partition-fails.json" --dir "$top/nsclean" 2>&1)
grep -q "ccp real: removed namespace ccp-$pid-h0 of a run that is gone" <<<"$out" ||
  fail "the stale namespace was not reported: $out"
[[ -z $(netns_of "$pid") ]] || fail "stale namespaces not removed: $(netns_of "$pid" | tr '\n' ' ')"
echo "real_test: ok"
