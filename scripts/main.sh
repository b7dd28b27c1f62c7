#!/usr/bin/env bash
# The main job: installs what is missing, builds the `ccp` executable in build/ (Release),
# and runs the whole scenario suite in the deterministic simulator (`ccp sim scenarios/`):
# one line per scenario (pass/fail, key figures, trace hash) and a summary. A failing
# scenario prints the exact command that replays it. Exit status: 0 when all pass.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCCP_BUILD_TESTS=OFF \
  -DCCP_BUILD_BENCH=OFF >/dev/null
cmake --build build-release --target ccp
exec build-release/app/ccp sim scenarios/ "$@"
