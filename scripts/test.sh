#!/usr/bin/env bash
# The whole test suite, as CI runs it: system packages, npm install, build, static checks, a private
# PostgreSQL on loopback, then every vitest project (server tests run on PGlite and on PostgreSQL).
# Ends with one line "N passed, N failed[, N skipped]" and a non-zero exit on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# PostgreSQL for the server suite; QEMU, image-building tools, iproute2 and nftables for the daemon and e2e;
# Chromium for the dashboard's browser tests (e2e/web.test.ts); libvirt (the daemon and virsh only: libvirt-daemon-system would pull in systemd) and sshd for the source-host e2e.
ensure_packages postgresql chromium qemu-system-x86 qemu-utils busybox-static debootstrap cpio xz-utils e2fsprogs kmod \
  iproute2 nftables openssh-client ansible-core libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients \
  openssh-server openssl
ensure_apt_lists
ensure_node_modules

log "building"
npm run build --silent

status=0
log "static checks (biome, tsc, buf lint)"
if ! npm run check --silent; then
  echo "static checks failed" >&2
  status=1
fi

start_postgres
trap stop_postgres EXIT
export FLUID_TEST_DATABASE_URL="$PG_URL" FLUID_TEST_REQUIRE_POSTGRES=1

report=.test-report/vitest.json
mkdir -p .test-report
log "running tests"
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=1

node scripts/summarize-tests.mjs "$report" || status=1
exit "$status"
