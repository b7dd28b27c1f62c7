#!/usr/bin/env bash
# Prints the trace hash of every bundled scenario at every seed, one line each:
#   bash scripts/trace-hashes.sh [CCP] [SEEDS]     (defaults: build/app/ccp, 1..8)
# A change that must not change behaviour (a refactoring of the host code) shows the same
# lines before and after:  diff <(bash scripts/trace-hashes.sh old/ccp) <(bash scripts/trace-hashes.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ccp=${1:-build/app/ccp}
seeds=${2:-1..8}
[[ -x $ccp ]] || { echo "trace-hashes.sh: no executable $ccp" >&2; exit 2; }
for f in scenarios/*.json; do
  # A failing scenario exits 1 but still prints its hash: every line counts here.
  "$ccp" sim "$f" --seeds "$seeds" | sed -n "s|^[A-Z]* .*seed=\([0-9]*\).* hash=\([0-9a-f]*\).*|$(basename "$f") \1 \2|p" || true
done
