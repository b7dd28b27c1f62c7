#!/usr/bin/env bash
# Builds the .deb and checks it (issue 26, item 7).
#
#   bash scripts/package.sh [BUILD_DIR]             build, then check without installing
#   bash scripts/package.sh --install [BUILD_DIR]   also dpkg -i it (root), check, dpkg -P
#
# BUILD_DIR defaults to build/ (RelWithDebInfo, shared with the tests); the package's
# binary is stripped by CPack. Checks: the package holds the binary, the man page, the
# completion, the four units and their example configs (as conffiles); the binary is
# stripped and prints its version; each example config is one its command accepts
# (it exits 1, cannot reach the bus given on the command line, never 2, a usage error);
# `systemd-analyze verify` has nothing to say about any unit. With --install, the same
# on the installed files, and `ccp --version` from PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

install=0
if [[ ${1-} == --install ]]; then install=1; shift; fi
dir=${1:-build}
fail() { echo "package.sh: $*" >&2; exit 1; }

if [[ ! -f $dir/CMakeCache.txt ]]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$dir" --target ccp ccp_docs
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$dir/CMakeCache.txt")
rm -f "$dir"/ccp_*.deb
(cd "$dir" && cpack -G DEB >/dev/null)
deb=$(ls "$dir"/ccp_"$version"_*.deb)
echo "package.sh: built $deb ($(du -h "$deb" | cut -f1))"

contents=$(dpkg-deb -c "$deb")
for f in usr/bin/ccp usr/share/man/man1/ccp.1.gz usr/share/bash-completion/completions/ccp \
  usr/lib/systemd/system/ccp-proxy.service usr/lib/systemd/system/ccp-agent.service \
  usr/lib/systemd/system/ccp-mgmt.service usr/lib/systemd/system/ccp-endpoint@.service \
  etc/ccp/proxy.json etc/ccp/agent.json etc/ccp/mgmt.json etc/ccp/endpoint-sample.json; do
  grep -q " \./$f\$" <<<"$contents" || fail "$deb lacks /$f"
done
[[ $(dpkg-deb -f "$deb" Depends) == *libnats* ]] || fail "Depends does not name libnats"
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
[[ $(wc -l <<<"$conffiles") == 4 && $conffiles == *"/etc/ccp/proxy.json"* ]] ||
  fail "conffiles: $conffiles"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
if command -v readelf >/dev/null && readelf -S "$root/usr/bin/ccp" | grep -q '\.debug_info'; then
  fail "usr/bin/ccp is not stripped"
fi

# check_tree ROOT CCP UNITDIR: what a user of the installed (or extracted) files meets.
check_tree() {
  local root=$1 ccp=$2 units=$3
  [[ $("$ccp" --version) == "ccp $version" ]] || fail "$ccp --version: $("$ccp" --version)"
  local dead=nats://127.0.0.1:1 rc
  for c in proxy:backbone agent:host-bus mgmt:backbone endpoint-sample:host-bus; do
    local name=${c%%:*} bus=${c#*:} cmd=${c%%[-:]*} extra=()
    [[ $cmd == proxy ]] && extra=(--listen 127.0.0.1:0)
    rc=0
    err=$("$ccp" "$cmd" --config "$root/etc/ccp/$name.json" "--$bus" "$dead" "${extra[@]}" 2>&1 \
      >/dev/null) || rc=$?
    [[ $rc == 1 && $err == *"no NATS server reachable"* ]] ||
      fail "$name.json: ccp $cmd exit $rc, expected 1 (bus unreachable): $err"
  done
  if command -v systemd-analyze >/dev/null; then
    local tmp
    tmp=$(mktemp -d)
    for u in "$units"/ccp-*.service; do
      local name
      name=$(basename "$u")
      name=${name/@.service/@sample.service}
      # The units run /usr/bin/ccp: point them at the binary under test.
      sed "s|/usr/bin/ccp|$ccp|" "$u" >"$tmp/$name"
    done
    local said
    said=$(cd "$tmp" && systemd-analyze verify --man=no ./*.service 2>&1) || fail "$said"
    rm -rf "$tmp"
    [[ -z $said ]] || fail "systemd-analyze verify: $said"
  else
    echo "package.sh: no systemd-analyze; the units are not verified" >&2
  fi
}
check_tree "$root" "$root/usr/bin/ccp" "$root/usr/lib/systemd/system"
echo "package.sh: contents, version, example configs and units ok"

if ((install)); then
  ((EUID == 0)) || fail "--install needs root"
  dpkg -i "$deb" >/dev/null
  check_tree / "$(command -v ccp)" /usr/lib/systemd/system
  [[ $(command -v ccp) == /usr/bin/ccp ]] || fail "ccp on PATH is $(command -v ccp)"
  dpkg -P ccp >/dev/null  # purge: the conffiles in /etc/ccp go too
  echo "package.sh: dpkg -i, checks on the installed files, dpkg -P ok"
fi
