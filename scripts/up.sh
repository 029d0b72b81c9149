#!/usr/bin/env bash
# Brings the whole system up on this machine with embedded defaults: installs what it needs, builds,
# then runs the control plane (PGlite), a local sandbox daemon with its own host token and the default
# guest image, and logs the `fluid` CLI in (see scripts/up.ts). Foreground; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# ansible-core: the host runs ansible-playbook against sandboxes to verify change requests.
ensure_packages qemu-system-x86 qemu-utils busybox-static debootstrap cpio xz-utils e2fsprogs kmod iproute2 nftables \
  openssh-client ansible-core
ensure_apt_lists
ensure_node_modules
log "building"
npm run build --silent
exec node --import tsx scripts/up.ts
