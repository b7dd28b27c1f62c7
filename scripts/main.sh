#!/usr/bin/env bash
# The main job: installs what is missing, builds the `ccp` executable in build/, runs it.
#
# Until the simulator exists, the main job is a demonstration of `ccp addr`: it parses a
# few valid and a few invalid addresses and checks that ccp answers as documented
# (canonical form and exit 0 for valid ones, "error: ... at offset N" and exit 1 for the
# invalid ones). Exit status: 0 when ccp behaved as documented.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build --target ccp
ccp=build/app/ccp

# Runs `ccp addr ARGS...`, shows its output, and checks the exit status and that each
# argument got one line starting with PREFIX.
addr_expect() {
  local want_rc=$1 prefix=$2
  shift 2
  local out rc=0
  out=$("$ccp" addr "$@") || rc=$?
  local shown=() a
  for a in "$@"; do [[ $a =~ ^[][A-Za-z0-9:/._-]+$ ]] && shown+=("$a") || shown+=("'$a'"); done
  echo "\$ $ccp addr ${shown[*]}"
  echo "$out"
  echo "(exit $rc)"
  echo
  local lines bad
  lines=$(grep -c '' <<<"$out")
  bad=$(grep -vc "^$prefix" <<<"$out" || true)
  if ((rc != want_rc || lines != $# || bad != 0)); then
    echo "main.sh: expected exit $want_rc and $# lines starting with '$prefix'" >&2
    return 1
  fi
}

demo_addr() {
  echo "== valid addresses: canonical form, exit 0"
  addr_expect 0 'ccp://' \
    ccp://endpoint/10.0.0.7/billing-1 ccp://proxy/any ccp://agent/all \
    ccp://endpoint/WEB.Example.COM/any 'ccp://endpoint/[2001:DB8::1]/all' ccp://mgmt/any
  echo "== invalid addresses: what is wrong and where, exit 1"
  addr_expect 1 'error: ' \
    ccp://bogus/all http://proxy/any ccp://agent ccp://endpoint/10.0.0.7/ 'ccp://endpoint/h/a b'
  echo "main.sh: ccp addr behaved as documented"
}

# ---- THE MAIN JOB: the simulator issue replaces the next line with
# ---- `build/app/ccp sim scenarios/` (and may then delete addr_expect and demo_addr above).
demo_addr
