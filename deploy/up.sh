#!/usr/bin/env bash
# Installs what is missing, builds, and starts comityd on 127.0.0.1:7700 with an embedded RocksDB
# under ./data and the demo directory (development mode: plaintext on loopback only).
# Extra arguments are passed to comityd (e.g. --listen 127.0.0.1:7800).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
./deploy/build.sh
mkdir -p data
exec "${COMITY_BUILD_DIR:-build}/services/server/comityd" --config deploy/dev/comityd.textproto "$@"
