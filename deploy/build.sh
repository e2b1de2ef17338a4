#!/usr/bin/env bash
# Configures and builds Comity into ./build (or $COMITY_BUILD_DIR). Used by up.sh and tests/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${COMITY_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${COMITY_BUILD_TYPE:-RelWithDebInfo}" \
  ${COMITY_CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j "${COMITY_JOBS:-2}"
