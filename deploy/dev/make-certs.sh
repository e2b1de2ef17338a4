#!/usr/bin/env bash
# Makes a development CA, a server certificate for localhost/127.0.0.1, and a client certificate
# for every member of the demo directory, under deploy/dev/certs/ (never committed).
# Usage: deploy/dev/make-certs.sh [OUT_DIR [DIRECTORY_FILE [NODE_ID]]]
#   DIRECTORY_FILE: whose members get certificates (default: the demo directory)
#   NODE_ID: also a node certificate, node.pem, for federation: spiffe://<its trust domain>/node/ID
# Relative paths are taken from deploy/dev.
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-certs}"
directory="${2:-directory.textproto}"
node="${3:-}"
mkdir -p "$out"
umask 077

if [ ! -f "$out/ca.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj "/CN=Comity development CA" -keyout "$out/ca.key" -out "$out/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
fi

# leaf NAME SUBJECT_ALT_NAME
leaf() {
  local name="$1" san="$2"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
    -keyout "$out/$name.key" -out "$out/$name.csr" 2>/dev/null
  openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" \
    -CAcreateserial -days 90 -out "$out/$name.pem" -extfile <(printf '%s\n' \
      "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=$san") 2>/dev/null
  rm -f "$out/$name.csr"
}

leaf server "DNS:localhost,IP:127.0.0.1,IP:::1"
# The key that signs the node's Merkle log checkpoints (an Ed25519 seed, 64 hex digits).
[ -f "$out/log.key" ] || openssl rand -hex 32 > "$out/log.key"
# One client certificate per principal in the demo directory: FR-CA-alice.pem, ...
for principal in $(grep -o 'principal: "spiffe://[^"]*' "$directory" | cut -d'"' -f2); do
  rest="${principal#spiffe://*/}"
  leaf "${rest/\//-}" "URI:$principal"
done
if [ -n "$node" ]; then
  domain=$(grep -o '^trust_domain: "[^"]*' "$directory" | cut -d'"' -f2)
  leaf node "URI:spiffe://$domain/node/$node,DNS:localhost,IP:127.0.0.1"
fi
echo "certificates in deploy/dev/$out: ca.pem, server.pem, one per member (e.g. FR-CA-alice.pem), log.key"
