#!/usr/bin/env bash
# Installs the Debian packages xgrad needs (only those missing), then configures and builds it in
# Release into build/ (or $XGRAD_BUILD_DIR). Safe to run again: it skips what is already done.
# Usage: [XGRAD_SETUP_PEERS=1] tools/setup.sh [extra cmake -D options...]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${XGRAD_BUILD_DIR:-$root/build}

packages=(
  build-essential cmake pkg-config
  libxtensor-dev xtl-dev libxsimd-dev libxtensor-blas-dev
  libopenblas-dev libopenblas-serial-dev libblis-serial-dev
  libhdf5-dev
  libboost-test-dev
  libcli11-dev
  libstb-dev
  python3-numpy python3-h5py   # the seed program and the h5py check of saved models
  valgrind                     # the memcheck test (tests/run_valgrind.cmake)
  libopenmpi-dev openmpi-bin   # xgrad::dist, data-parallel training under mpirun, and its tests
)

# The benchmarks' peers, optional (the library and its tests need none of them; a missing peer is
# reported in its benchmark row): XGRAD_SETUP_PEERS=1 tools/setup.sh also installs PyTorch and
# scikit-learn for /usr/bin/python3 (tools/bench_digits_peers.py) and libtorch (xgrad_bench_torch).
if [ "${XGRAD_SETUP_PEERS:-0}" = 1 ]; then
  packages+=(python3-torch python3-sklearn libtorch-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
echo "setup: built in $build"
