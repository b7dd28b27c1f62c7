#!/usr/bin/env bash
# The main job: installs what is missing, builds the `ccp` executable in build/
# (RelWithDebInfo: optimised, and shared with scripts/test.sh so that CI builds it once),
# and runs the whole scenario suite in the deterministic simulator (`ccp sim scenarios/`):
# one line per scenario (pass/fail, key figures, trace hash) and a summary. A failing
# scenario prints the exact command that replays it. Exit status: 0 when all pass.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target ccp
exec build/app/ccp sim scenarios/ "$@"
