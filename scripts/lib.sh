# Shared helpers for scripts/up.sh and scripts/test.sh (sourced, not run).

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs Debian packages that are missing (one apt-get update per run). Needs root.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    return 1
  fi
  log "installing ${missing[*]}"
  if [ -z "${FLUID_APT_UPDATED:-}" ]; then
    apt-get update -q >/dev/null
    export FLUID_APT_UPDATED=1
  fi
  # Tests start the daemons they need (PostgreSQL, sshd, libvirtd) themselves, privately; a package's
  # own service start would only leave a system daemon running, so policy-rc.d denies it meanwhile.
  local policy=/usr/sbin/policy-rc.d own_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  [ -n "$own_policy" ] && rm -f "$policy"
  return "$status"
}

# Guest image builds download Debian packages, which needs apt's package lists.
ensure_apt_lists() {
  compgen -G "/var/lib/apt/lists/*_Packages" >/dev/null && return 0
  [ "$(id -u)" -eq 0 ] || { echo "apt package lists are missing; run: sudo apt-get update" >&2; return 1; }
  log "apt-get update"
  apt-get update -q >/dev/null
  export FLUID_APT_UPDATED=1
}

# npm ci when node_modules is missing or older than the lockfile.
ensure_node_modules() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies"
    npm ci --no-audit --no-fund
  fi
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Starts a private PostgreSQL cluster on a loopback port; sets PG_DIR and PG_URL. Stop with stop_postgres.
start_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PG_DIR=$(mktemp -d /tmp/fluid-pg.XXXXXX)
  local port
  port=$(free_port)
  chmod 755 "$PG_DIR"
  local run=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1
  "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/pg.log" -w \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  PG_RUN=("${run[@]}")
  PG_BIN=$bin
}

stop_postgres() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
