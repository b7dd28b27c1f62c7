#!/usr/bin/env bash
# Installs the Debian 12 packages that ccp needs to build, test and benchmark
# (`--fuzz`: those that the fuzz targets need instead, see below).
# Idempotent: it asks dpkg which packages are missing first, so on a machine that has
# them all it makes no network call. Needs root only when something is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  g++ cmake ninja-build pkg-config clang-format python3
  libboost1.81-dev     # Asio + Beast for net/ (1.74 lacks pieces of current Beast)
  nlohmann-json3-dev   # text/: JSON form of messages, scenario files
  libcli11-dev         # app/: the ccp command line (CLI11 2.1, header-only)
  libgtest-dev libgmock-dev librapidcheck-dev
  libbenchmark-dev
  libnats-dev nats-server   # net/ buses; integration tests start their own nats-server
  libssl-dev
  libgoogle-perftools-dev   # tcmalloc_minimal: the allocator of ccp and its benchmarks
  dpkg-dev groff-base systemd   # scripts/package.sh: the .deb's dependencies (dpkg-shlibdeps),
                                # the man page check, systemd-analyze verify on the units
  libspdlog-dev             # net/log.cpp: the daemons' log (levels, files, JSON lines)
  curl                      # tests/app/secure_fleet_test.sh reads the daemons' /metrics
  iproute2 nftables         # ccp real: partition_proxy and half_open in network namespaces
)

# `--fuzz`: only what scripts/fuzz.sh needs, so that other jobs do not download a second
# compiler. Debian 12's clang 14 cannot compile the tree's <expected>; clang 16 can (see
# CCP_BUILD_FUZZ in CMakeLists.txt), with its libFuzzer and sanitizer runtimes.
if [[ ${1-} == --fuzz ]]; then
  packages=(g++ cmake ninja-build nlohmann-json3-dev clang-16 libclang-rt-16-dev)
elif (($# > 0)); then
  echo "usage: bash scripts/install-deps.sh [--fuzz]" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  # Status-Abbrev is e.g. "ii ": the second letter 'i' means installed right now.
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ ${status:1:1} == i ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

if ((EUID != 0)); then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (sudo bash scripts/install-deps.sh) or install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
