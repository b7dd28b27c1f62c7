#!/usr/bin/env bash
# Builds ccp and runs its tests (installing what is missing first).
#
#   bash scripts/test.sh              all tests, incl. `integration`, in build/ (RelWithDebInfo)
#   bash scripts/test.sh --sanitize   unit tests (-LE "integration|sim") under ASan+UBSan, build-asan/
#   bash scripts/test.sh --tsan       tests labelled `net` and `nats` under TSan, build-tsan/
#
# Exit status: 0 when every selected test passed, non-zero otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

mode=all
case "${1-}" in
  "") ;;
  --sanitize) mode=asan ;;
  --tsan) mode=tsan ;;
  -h | --help) usage; exit 0 ;;
  *) echo "test.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
esac
if (($# > 1)); then echo "test.sh: one option at most" >&2; usage >&2; exit 2; fi

bash scripts/install-deps.sh

ctest_args=()
build_targets=()
case $mode in
  all)
    dir=build
    cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCP_BUILD_TESTS=ON -DCCP_BUILD_BENCH=ON)
    ;;
  asan)
    dir=build-asan
    cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DCCP_BUILD_TESTS=ON -DCCP_BUILD_BENCH=OFF
      "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer")
    ctest_args=(-LE "integration|sim")  # the scenario suite runs in the Release main job
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
    ;;
  tsan)
    dir=build-tsan
    cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DCCP_BUILD_TESTS=ON -DCCP_BUILD_BENCH=OFF
      # -Wno-tsan: Asio's fenced blocks use atomic_thread_fence, which TSan does not model
      # (a compile-time warning; no race report comes from them in our runs).
      "-DCMAKE_CXX_FLAGS=-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan")
    ctest_args=(-L "^(net|nats)$")
    # Only the binaries of those tests: the runtime in one process, and the NATS bus.
    build_targets=(--target ccp_net_tests ccp_nats_tests)
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
    ;;
esac

cmake -S . -B "$dir" -G Ninja "${cmake_args[@]}"
cmake --build "$dir" "${build_targets[@]}"
ctest --test-dir "$dir" --output-on-failure -j2 "${ctest_args[@]}"
