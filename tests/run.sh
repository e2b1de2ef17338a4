#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
COMITY_CMAKE_ARGS="-DCOMITY_WERROR=ON ${COMITY_CMAKE_ARGS:-}" ./deploy/build.sh
cd "${COMITY_BUILD_DIR:-build}"
ctest --output-on-failure -j2 "$@"
