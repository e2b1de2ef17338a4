#!/usr/bin/env bash
# Installs what is missing, builds, makes development certificates, and starts comityd on
# 127.0.0.1:7700 with mutual TLS, an embedded RocksDB under ./data and the demo directory.
#   ./deploy/up.sh --insecure   plaintext development mode instead (loopback only)
# Other arguments are passed to comityd (e.g. --listen 127.0.0.1:7800).
set -euo pipefail
cd "$(dirname "$0")/.."
config=deploy/dev/comityd-tls.textproto
if [ "${1:-}" = "--insecure" ]; then
  config=deploy/dev/comityd.textproto
  shift
fi
./deploy/install-deps.sh
./deploy/build.sh
if [ "$config" = deploy/dev/comityd-tls.textproto ] && [ ! -f deploy/dev/certs/server.pem ]; then
  ./deploy/dev/make-certs.sh
fi
mkdir -p data
exec "${COMITY_BUILD_DIR:-build}/services/server/comityd" --config "$config" "$@"
