#!/usr/bin/env bash
# Swarm runs and coverage marks, for CI:
#   bash scripts/swarm.sh [N] [SEED]     (defaults: 2000 runs from swarm seed 1)
# Runs the scenario suite and N swarm scenarios (random topology, workload and faults drawn
# from seeds SEED..SEED+N-1) in one `ccp sim`, so that the coverage marks of both count
# together: it fails when a run fails, naming its replay command and the scenario file it
# wrote under build/swarm/, and when a coverage mark of core/coverage.hpp was never hit.
# Fixed seeds by default, so that CI is repeatable and each mark is known to be reached;
# pass another SEED (e.g. $(date +%s)) to explore. Needs build/app/ccp.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${1:-2000}
seed=${2:-1}
ccp=build/app/ccp
[[ -x $ccp ]] || { echo "swarm.sh: build $ccp first (bash scripts/main.sh)" >&2; exit 2; }
mkdir -p build/swarm

rc=0
out=$("$ccp" sim scenarios/ --swarm "$n" --swarm-seed "$seed" --swarm-dir build/swarm \
  --marks --require-marks) || rc=$?
grep -v '^PASS' <<<"$out" || true  # failures with their replay commands, summary, marks
echo "swarm.sh: $n swarm runs from seed $seed, exit status $rc"
exit $rc
