#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) in build-fuzz/ and runs each for a bounded time.
#
#   bash scripts/fuzz.sh [--time S] [--jobs N] [TARGET...]   each TARGET (default: all) S seconds
#   bash scripts/fuzz.sh --seeds                              rewrite fuzz/corpus/ from valid encodings
#   bash scripts/fuzz.sh --build                              build only
#
# --time S   seconds per target (default 60); --jobs N   targets run at once (default 1).
# Each target reads fuzz/corpus/TARGET/ (the seeds in the repository) and build-fuzz/
# corpus/TARGET/ (what earlier runs found, kept between runs); new inputs go to the latter.
# A crash or a broken check is saved as build-fuzz/crashes/TARGET/crash-<sha1> (a timeout
# as timeout-*, an out-of-memory as oom-*); replay it with build-fuzz/fuzz/TARGET FILE.
# Prints executions and exec/s per target; exit status 1 when a target found something.
# CCP_FUZZ_DIR=DIR builds and keeps corpora and crashes in DIR instead of build-fuzz/.
#
# Toolchain: clang 16 and its runtimes (Debian packages, installed by install-deps.sh
# --fuzz) with the system's libstdc++; CMakeLists.txt says why (CCP_BUILD_FUZZ).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

all_targets=(address_fuzz frame_fuzz batch_fuzz control_fuzz scenario_fuzz proxy_fuzz agent_fuzz)
time_s=60
jobs=1
mode=run
targets=()
while (($# > 0)); do
  case $1 in
    --time) time_s=${2:?--time needs seconds}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    --seeds) mode=seeds; shift ;;
    --build) mode=build; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *)
      if [[ " ${all_targets[*]} " != *" $1 "* ]]; then
        echo "fuzz.sh: unknown target '$1' (targets: ${all_targets[*]})" >&2
        exit 2
      fi
      targets+=("$1"); shift ;;
  esac
done
((${#targets[@]} > 0)) || targets=("${all_targets[@]}")
[[ $time_s =~ ^[0-9]+$ && $jobs =~ ^[1-9][0-9]*$ ]] || { usage >&2; exit 2; }

bash scripts/install-deps.sh --fuzz

dir=${CCP_FUZZ_DIR:-build-fuzz}  # the build and what the runs keep
# _GLIBCXX_ASSERTIONS: bounds checks in the standard library (an operator[] past a
# string_view's end, which ASan does not see when it stays inside a buffer).
flags="-O1 -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS"
flags+=" -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
# Debug: assert() stays on (the codec asserts its own invariants); -O1 keeps it fast.
cmake -S . -B "$dir" -G Ninja -DCCP_BUILD_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_COMPILER=clang++-16 "-DCMAKE_CXX_FLAGS=$flags" >/dev/null

if [[ $mode == seeds ]]; then
  cmake --build "$dir" --parallel 2 --target fuzz_seeds
  rm -rf fuzz/corpus
  "$dir"/fuzz/fuzz_seeds fuzz/corpus
  mkdir -p fuzz/corpus/scenario_fuzz
  for s in graceful-proxy-drain any-with-empty-proxies negative-misroute stall-busiest-proxy; do
    cp "scenarios/$s.json" fuzz/corpus/scenario_fuzz/
  done
  echo "fuzz.sh: wrote fuzz/corpus/ ($(find fuzz/corpus -type f | wc -l) files)"
  exit 0
fi

cmake --build "$dir" --parallel 2 --target "${targets[@]}"
[[ $mode == build ]] && exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# Runs one target; its log is build-fuzz/logs/TARGET.log.
run_one() {
  local t=$1
  mkdir -p "$dir/corpus/$t" "$dir/crashes/$t" "$dir/logs"
  local dict=()
  [[ -f fuzz/$t.dict ]] && dict=("-dict=fuzz/$t.dict")  # the target's tokens, when it has some
  nice -n 10 "$dir/fuzz/$t" "$dir/corpus/$t" "fuzz/corpus/$t" "${dict[@]}" \
    -max_total_time="$time_s" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/crashes/$t/" >"$dir/logs/$t.log" 2>&1
}

pids=()
status=()
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  echo "fuzz.sh: $t for ${time_s}s"
  run_one "$t" &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then status[$i]=ok; else status[$i]=FAILED; failed=1; fi
done

printf '\n%-14s %-7s %12s %10s %8s %7s\n' TARGET RESULT EXECUTIONS EXEC/S COVERAGE CORPUS
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  log=$dir/logs/$t.log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "$dir/corpus/$t" -type f | wc -l)
  printf '%-14s %-7s %12s %10s %8s %7s\n' "$t" "${status[$i]}" "${execs:--}" "${rate:--}" \
    "${cov:--}" "$corpus"
done
if ((failed)); then
  for i in "${!targets[@]}"; do
    [[ ${status[$i]} == ok ]] && continue
    t=${targets[$i]}
    echo
    echo "fuzz.sh: $t found a problem ($dir/logs/$t.log):"
    grep -E -A30 'ERROR: |fuzz check failed|runtime error|deadly signal' "$dir/logs/$t.log" | head -50  || true
    ls "$dir/crashes/$t/"
  done
  exit 1
fi
