#!/usr/bin/env bash
# Brings fluid up on this machine with embedded defaults: installs what it needs, builds, then runs
# the control plane on PGlite (data in $FLUID_DATA_DIR, default ~/.local/share/fluid/server) with
# REST on 127.0.0.1:8080 and the host stream on 127.0.0.1:9090 (plaintext, loopback only).
# Runs in the foreground; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_node_modules
log "building"
npm run build --silent

export FLUID_AUTO_MIGRATE=1
log "starting fluid-server (Ctrl-C to stop)"
exec node packages/server/bin/fluid-server.js \
  --listen "${FLUID_LISTEN:-127.0.0.1:8080}" \
  --grpc-listen "${FLUID_GRPC_LISTEN:-127.0.0.1:9090}" \
  --insecure
