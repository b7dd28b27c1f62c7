#!/usr/bin/env bash
# A fleet started the way the package's units start it (`ccp CMD --config FILE` with
# `--secret-file`/`--token-file` from the credentials directory), on a nats-server with the
# repository's per-host permissions (dist/nats/ccp-nats.conf) and TLS, and one agent with a
# wrong token. Checks: both sides log why; the proxy's /metrics counts the refusal and
# `promtool check metrics` accepts it (when promtool is installed: Debian's `prometheus`);
# the good agent attaches, and `ccp request` over TLS with a NATS user reaches its endpoint.
#
#   bash tests/app/secure_fleet_test.sh CCP_BINARY SOURCE_DIR
#
# Everything listens on 127.0.0.1; every process started is stopped by its PID on exit.
set -euo pipefail
ccp=$1
src=$2
certs=$src/tests/net/certs
nats_server=${CCP_NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[[ -x $nats_server ]] || { echo "secure_fleet_test: no nats-server" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if ((rc != 0)); then
    for f in "$tmp"/*.log; do echo "--- $(basename "$f")"; tail -n 30 "$f"; done >&2
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "secure_fleet_test: $*" >&2; exit 1; }

# A free port on 127.0.0.1 (none answers there; the next process takes it at once).
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  fail "no free port"
}

# Waits up to $1 seconds until the command that follows succeeds.
within() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    (($(date +%s) < deadline)) || return 1
    sleep 0.2
  done
}

has_line() {  # FILE PART... : one line of FILE holds every PART
  local file=$1
  shift
  local line
  while IFS= read -r line; do
    local all=1
    for part in "$@"; do [[ $line == *"$part"* ]] || { all=0; break; }; done
    ((all)) && return 0
  done <"$file"
  return 1
}

names=()
start() {  # NAME CMD... : a daemon, its output in NAME.log
  local name=$1
  shift
  "$@" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

# SIGTERM to every process at once, as a machine's shutdown does: each ccp daemon must exit
# 0 within 10 s (a proxy drains), whatever the bus does meanwhile.
stop_all() {
  local i status
  for p in "${pids[@]}"; do kill -TERM "$p"; done
  for ((i = 0; i < ${#pids[@]}; i++)); do
    status=0
    wait "${pids[i]}" || status=$?
    [[ ${names[i]} == nats ]] || ((status == 0)) || fail "${names[i]} exited $status on SIGTERM"
  done
  pids=()
}

nats_port=$(free_port)
proxy_port=$(free_port)
proxy_mon=$(free_port)
bad_mon=$(free_port)

# The repository's configuration, with TLS and a loopback listen address added.
{
  cat "$src/dist/nats/ccp-nats.conf"
  cat <<CONF
listen: 127.0.0.1:$nats_port
tls {
  cert_file: "$certs/proxy.pem"
  key_file: "$certs/proxy.key"
}
CONF
} >"$tmp/nats.conf"
start nats "$nats_server" -c "$tmp/nats.conf"
within 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$nats_port" 2>/dev/null || fail "nats-server did not start"
bus=tls://127.0.0.1:$nats_port

# Credentials, as LoadCredential= hands them to the units (%d).
printf 'change-me-proxy\n' >"$tmp/proxy.nats"
printf 'change-me-mgmt\n' >"$tmp/mgmt.nats"
printf 'change-me-host-1\n' >"$tmp/host1.nats"
printf 'change-me-host-2\n' >"$tmp/host2.nats"
printf 's3cret-for-agents\n' >"$tmp/proxy.secret"
printf 's3cret-for-agents\n' >"$tmp/agent1.token"
printf 'not-the-secret\n' >"$tmp/agent2.token"
chmod 600 "$tmp"/*.nats "$tmp"/*.secret "$tmp"/*.token

cat >"$tmp/proxy.json" <<JSON
{ "address": "ccp://proxy/127.0.0.1/p1", "listen": "127.0.0.1:$proxy_port",
  "backbone": "$bus", "nats-user": "proxy", "nats-password-file": "$tmp/proxy.nats",
  "nats-ca": "$certs/ca.pem", "monitor": "127.0.0.1:$proxy_mon" }
JSON
cat >"$tmp/mgmt.json" <<JSON
{ "address": "ccp://mgmt/127.0.0.1/m1", "backbone": "$bus", "nats-user": "mgmt",
  "nats-password-file": "$tmp/mgmt.nats", "nats-ca": "$certs/ca.pem" }
JSON
for h in 1 2; do
  mon=""
  ((h == 2)) && mon=", \"monitor\": \"127.0.0.1:$bad_mon\""
  cat >"$tmp/agent$h.json" <<JSON
{ "address": "ccp://agent/10.0.0.$h/agent", "proxy": ["ws://127.0.0.1:$proxy_port"],
  "host-bus": "$bus", "nats-user": "host-10.0.0.$h", "nats-password-file": "$tmp/host$h.nats",
  "nats-ca": "$certs/ca.pem"$mon }
JSON
done
cat >"$tmp/endpoint-e1.json" <<JSON
{ "address": "ccp://endpoint/10.0.0.1/e1", "host-bus": "$bus", "nats-user": "host-10.0.0.1",
  "nats-password-file": "$tmp/host1.nats", "nats-ca": "$certs/ca.pem",
  "answer": ["status={\"ok\":true}"] }
JSON

# The units' command lines (packaging/systemd), with %d = $tmp.
start proxy "$ccp" proxy --config "$tmp/proxy.json" --secret-file "$tmp/proxy.secret"
start mgmt "$ccp" mgmt --config "$tmp/mgmt.json"
start agent1 "$ccp" agent --config "$tmp/agent1.json" --token-file "$tmp/agent1.token"
start agent2 "$ccp" agent --config "$tmp/agent2.json" --token-file "$tmp/agent2.token"
start endpoint-e1 "$ccp" endpoint --config "$tmp/endpoint-e1.json"

within 20 has_line "$tmp/proxy.log" "attached self=ccp://proxy/127.0.0.1/p1" \
  "peer=ccp://agent/10.0.0.1/agent" || fail "the agent with the right token did not attach"
within 20 has_line "$tmp/proxy.log" "agent refused" "agent=ccp://agent/10.0.0.2/agent" \
  'reason="HTTP 401: credentials refused"' || fail "the proxy did not log the refusal"
within 20 has_line "$tmp/agent2.log" "dial failed self=ccp://agent/10.0.0.2/agent" "HTTP 401" ||
  fail "the refused agent did not log why"

metrics=$(curl -fsS "http://127.0.0.1:$proxy_mon/metrics") || fail "no /metrics on the proxy"
refusals=$(grep -E '^ccp_refusals_total\{.*stage="upgrade".*reason="credentials"' <<<"$metrics" |
  awk '{ s += $NF } END { print s + 0 }')
((refusals >= 1)) || fail "/metrics counts no credential refusal: $(grep refusals <<<"$metrics")"
bad_metrics=$(curl -fsS "http://127.0.0.1:$bad_mon/metrics") || fail "no /metrics on the agent"
failures=$(grep -E '^ccp_dial_failures_total' <<<"$bad_metrics" | awk '{ s += $NF } END { print s + 0 }')
((failures >= 1)) || fail "the refused agent's /metrics counts no failed dial"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$bad_mon/readyz") == 503 ]] ||
  fail "the refused agent's /readyz is not 503"
if command -v promtool >/dev/null; then
  promtool check metrics <<<"$metrics" || fail "promtool rejects the proxy's /metrics"
  promtool check metrics <<<"$bad_metrics" || fail "promtool rejects the agent's /metrics"
else
  echo "secure_fleet_test: promtool not installed (Debian package prometheus): skipped its check"
fi

# Management over TLS with its NATS user reaches the endpoint behind the good agent.
out=$("$ccp" request ccp://endpoint/10.0.0.1/e1 status --backbone "$bus" --nats-user mgmt \
  --nats-password-file "$tmp/mgmt.nats" --nats-ca "$certs/ca.pem" --timeout 5s 2>&1) ||
  fail "ccp request over TLS failed: $out"
[[ $out == *'"ok":true'* ]] || fail "unexpected answer: $out"
# Without TLS the server turns the client away.
if "$ccp" request ccp://endpoint/10.0.0.1/e1 status --backbone "nats://127.0.0.1:$nats_port" \
  --nats-user mgmt --nats-password-file "$tmp/mgmt.nats" --timeout 2s >/dev/null 2>&1; then
  fail "a plaintext client was served by a TLS-only nats-server"
fi
stop_all
echo "secure_fleet_test: ok (refusals=$refusals, agent dial failures=$failures)"
