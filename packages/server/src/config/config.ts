import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { homedir, hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseDuration } from "../lib/durations.js";
import { loadQuotaDefaults, type QuotaLimits, quotaFlagSpec, quotaUsage } from "./quotas.js";

export interface ListenAddress {
  host: string;
  port: number;
}

export interface OAuthProviderConfig {
  clientId: string;
  clientSecret: string;
  /** Overridable so tests can stand in for the provider; defaults are the real endpoints. */
  authorizeUrl: string;
  tokenUrl: string;
  apiBaseUrl: string;
}

export interface ServerConfig {
  listen: ListenAddress;
  grpcListen: ListenAddress;
  database: { kind: "pglite"; dataDir: string } | { kind: "postgres"; url: string };
  /** This process's name among the replicas sharing one PostgreSQL (its `replicas` row). */
  replicaId: string;
  migrate: boolean;
  grpc: { insecure: true } | { insecure: false; certFile: string; keyFile: string };
  /** The externally visible origin of the REST API (e.g. https://fluid.example.com), if known. */
  publicUrl: string | undefined;
  corsOrigins: string[];
  trustedProxies: string[];
  secureCookies: boolean;
  sessionTtlMs: number;
  /** How long a replica trusts its memory of an API key and org membership (see AccessCache). */
  accessCacheTtlMs: number;
  encryptionKey: Buffer | undefined;
  insecureDev: boolean;
  docs: boolean;
  /** The built dashboard (packages/web/dist), served at `/` when it exists. */
  webDir: string;
  /** Longest a client may take to send a request's headers; the connection then gets 408. */
  headersTimeoutMs: number;
  /** Longest a client may take to send a whole request, body included; the connection then gets 408. */
  requestTimeoutMs: number;
  heartbeatIntervalMs: number;
  missedHeartbeats: number;
  defaultTtlMs: number;
  maxTtlMs: number;
  hostLostGraceMs: number;
  reaperIntervalMs: number;
  cpuOvercommit: number;
  /** Per-org limits for orgs without their own (org_quotas). */
  quotas: QuotaLimits;
  oauth: { github?: OAuthProviderConfig; google?: OAuthProviderConfig };
  /** Bearer token /metrics asks for; without one only loopback clients may scrape. */
  metricsToken: string | undefined;
  log: { level: string };
}

/** The dashboard's build output in this checkout: src/config and dist/config both sit three levels below packages/. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL("../../../web/dist", import.meta.url));

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const flagSpec = {
  listen: { type: "string" },
  "grpc-listen": { type: "string" },
  "data-dir": { type: "string" },
  migrate: { type: "boolean" },
  insecure: { type: "boolean" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "public-url": { type: "string" },
  "cors-origin": { type: "string", multiple: true },
  "trusted-proxy": { type: "string", multiple: true },
  "insecure-dev": { type: "boolean" },
  "no-docs": { type: "boolean" },
  "replica-id": { type: "string" },
  ...quotaFlagSpec,
  "metrics-token": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export const usage = `Usage: fluid-server [options]
       fluid-server quota show|set ORG …   per-org limits (fluid-server quota --help)

Options (each also readable from the environment variable in brackets):
  --listen HOST:PORT        REST API address [FLUID_LISTEN] (default 127.0.0.1:8080)
  --grpc-listen HOST:PORT   host stream (gRPC) address [FLUID_GRPC_LISTEN] (default 127.0.0.1:9090)
  --data-dir DIR            embedded PGlite data directory [FLUID_DATA_DIR]
                            (default $XDG_DATA_HOME/fluid/server); ignored when DATABASE_URL is set
  --migrate                 apply pending migrations at start [FLUID_AUTO_MIGRATE=1]
  --insecure                plaintext gRPC (no TLS) for the host stream [FLUID_GRPC_INSECURE=1]
  --tls-cert FILE           TLS certificate for the host stream [FLUID_TLS_CERT]
  --tls-key FILE            TLS private key for the host stream [FLUID_TLS_KEY]
  --public-url URL          external URL of the API, e.g. https://fluid.example.com [FLUID_PUBLIC_URL];
                            browser writes must come from it (without it: from the listen address, or
                            localhost/127.0.0.1/[::1] when listening on loopback or a wildcard)
  --cors-origin URL         browser origin allowed to call the API (repeatable) [FLUID_CORS_ORIGINS, comma list]
  --trusted-proxy CIDR      proxy whose X-Forwarded-For is believed (repeatable) [FLUID_TRUSTED_PROXIES]
  --insecure-dev            allow storing secrets without FLUID_ENCRYPTION_KEY (development only)
  --no-docs                 do not serve the API docs UI at /v1/docs [FLUID_DOCS=0]
  --replica-id NAME         this replica's name among those sharing one PostgreSQL [FLUID_REPLICA_ID]
                            (letters, digits, . _ -, up to 64; default: hostname-pid-random)
  --metrics-token TOKEN     /metrics (Prometheus) requires \`Authorization: Bearer TOKEN\` [FLUID_METRICS_TOKEN];
                            without it /metrics answers loopback clients only

${quotaUsage}
Environment only:
  DATABASE_URL              PostgreSQL connection URL (selects PostgreSQL instead of PGlite)
  FLUID_ENCRYPTION_KEY      32-byte key (64 hex chars or base64) for secrets at rest
  FLUID_WEB_DIR             the built dashboard to serve at / (default: packages/web/dist of this checkout)
  FLUID_SECURE_COOKIES      auto|true|false (auto: Secure when --public-url is https)
  FLUID_SESSION_TTL         browser session lifetime (default 7d)
  FLUID_HEADERS_TIMEOUT     longest a client may take to send request headers (default 10s), then 408
  FLUID_REQUEST_TIMEOUT     longest a client may take to send a whole request, body included (default 60s), then 408
  FLUID_HEARTBEAT_INTERVAL  expected host heartbeat interval (default 10s); 3 missed mark a host OFFLINE
  FLUID_DEFAULT_TTL         sandbox lease when a request gives none (default 24h)
  FLUID_MAX_TTL             longest lease a request or extension may ask for (default 7d)
  FLUID_HOST_LOST_GRACE     how long an OFFLINE host keeps its sandboxes before they end as host_lost (default 10m)
  FLUID_CPU_OVERCOMMIT      vCPUs placed per host CPU (default 4)
  FLUID_REAPER_INTERVAL     how often leases, silent hosts and lost hosts are checked (default 5s)
  FLUID_GITHUB_CLIENT_ID / FLUID_GITHUB_CLIENT_SECRET, FLUID_GOOGLE_CLIENT_ID / FLUID_GOOGLE_CLIENT_SECRET
  FLUID_LOG_LEVEL           trace|debug|info|warn|error (default info); logs are JSON lines on stdout
`;

type Env = Record<string, string | undefined>;

export function parseListen(text: string): ListenAddress | undefined {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const host = (match[1] ?? "").replace(/^\[|\]$/g, "");
  const port = Number(match[2]);
  if (port > 65535) return undefined;
  return { host, port };
}

/**
 * True for a bare IP or an IP/prefix CIDR, v4 or v6. A /0 prefix is refused: Fastify's proxy
 * matcher rejects it at startup, and believing X-Forwarded-For from anyone defeats its purpose.
 */
export function isIpOrCidr(text: string): boolean {
  const [address, prefix, ...rest] = text.split("/");
  if (rest.length > 0 || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) >= 1 && Number(prefix) <= (family === 4 ? 32 : 128);
}

function httpOrigin(text: string): string | undefined {
  try {
    const url = new URL(text);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

function parseKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, "hex");
  const decoded = Buffer.from(trimmed, "base64");
  return decoded.length === 32 ? decoded : undefined;
}

function csv(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

const REPLICA_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Unique per process even when two replicas share a hostname (containers) or a pid (restarts). */
export function defaultReplicaId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, "-")
      .slice(0, 40) || "replica";
  return `${host}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

export function defaultDataDir(env: Env): string {
  const base = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(base, "fluid", "server");
}

/** Reads flags and environment into a validated config; every problem is reported at once. */
export function loadConfig(argv: string[], env: Env): ServerConfig | { help: true } {
  const { values: flags } = parseArgs({ args: argv, options: flagSpec, strict: true, allowPositionals: false });
  if (flags.help) return { help: true };

  const problems: string[] = [];
  const truthy = (name: string): boolean | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === "") return undefined;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    problems.push(`${name} must be a boolean (1/0/true/false), got "${raw}"`);
    return undefined;
  };
  const duration = (name: string, fallbackMs: number, min = 1): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallbackMs;
    const ms = parseDuration(raw);
    if (ms === undefined || ms < min) {
      problems.push(`${name} must be a duration like 30s, 10m, 24h or 7d, got "${raw}"`);
      return fallbackMs;
    }
    return ms;
  };
  const listenFrom = (flag: string | undefined, name: string, fallback: string): ListenAddress => {
    const raw = flag ?? env[name] ?? fallback;
    const parsed = parseListen(raw);
    if (!parsed)
      problems.push(`${name === "FLUID_LISTEN" ? "--listen" : "--grpc-listen"} must be HOST:PORT, got "${raw}"`);
    return parsed ?? { host: "127.0.0.1", port: 0 };
  };

  const listen = listenFrom(flags.listen, "FLUID_LISTEN", "127.0.0.1:8080");
  const grpcListen = listenFrom(flags["grpc-listen"], "FLUID_GRPC_LISTEN", "127.0.0.1:9090");

  const databaseUrl = env.DATABASE_URL?.trim();
  let database: ServerConfig["database"];
  if (databaseUrl) {
    let ok = false;
    try {
      const url = new URL(databaseUrl);
      ok = url.protocol === "postgres:" || url.protocol === "postgresql:";
    } catch {
      ok = false;
    }
    if (!ok) problems.push("DATABASE_URL must be a postgres:// or postgresql:// URL");
    database = { kind: "postgres", url: databaseUrl };
  } else {
    database = { kind: "pglite", dataDir: flags["data-dir"] ?? env.FLUID_DATA_DIR ?? defaultDataDir(env) };
  }

  const replicaId = flags["replica-id"] ?? (env.FLUID_REPLICA_ID || defaultReplicaId());
  if (!REPLICA_ID.test(replicaId)) {
    problems.push(`--replica-id must be 1 to 64 letters, digits, dots, underscores or dashes, got "${replicaId}"`);
  }

  const insecure = flags.insecure ?? truthy("FLUID_GRPC_INSECURE") ?? false;
  const certFile = flags["tls-cert"] ?? env.FLUID_TLS_CERT;
  const keyFile = flags["tls-key"] ?? env.FLUID_TLS_KEY;
  let grpc: ServerConfig["grpc"] = { insecure: true };
  if (!insecure) {
    if (certFile && keyFile) grpc = { insecure: false, certFile, keyFile };
    else if (certFile || keyFile) problems.push("--tls-cert and --tls-key must be given together");
    else
      problems.push(
        "the host stream needs TLS: pass --tls-cert and --tls-key, or --insecure to accept plaintext gRPC (host tokens would cross the network unencrypted)",
      );
  }

  let publicUrl: string | undefined;
  const publicRaw = flags["public-url"] ?? env.FLUID_PUBLIC_URL;
  if (publicRaw) {
    publicUrl = httpOrigin(publicRaw);
    if (!publicUrl) problems.push(`--public-url must be an http(s) URL, got "${publicRaw}"`);
  }

  const corsOrigins: string[] = [];
  for (const raw of flags["cors-origin"] ?? csv(env.FLUID_CORS_ORIGINS)) {
    const origin = raw === "*" ? undefined : httpOrigin(raw);
    if (origin) corsOrigins.push(origin);
    else problems.push(`CORS origin must be an explicit http(s) origin (not "*"), got "${raw}"`);
  }

  const trustedProxies: string[] = [];
  for (const raw of flags["trusted-proxy"] ?? csv(env.FLUID_TRUSTED_PROXIES)) {
    if (isIpOrCidr(raw)) trustedProxies.push(raw);
    else problems.push(`trusted proxy must be an IP address or CIDR, got "${raw}"`);
  }

  let secureCookies = publicUrl?.startsWith("https:") ?? false;
  const secureRaw = env.FLUID_SECURE_COOKIES;
  if (secureRaw && secureRaw !== "auto") {
    const parsed = truthy("FLUID_SECURE_COOKIES");
    if (parsed !== undefined) secureCookies = parsed;
  }

  let encryptionKey: Buffer | undefined;
  if (env.FLUID_ENCRYPTION_KEY) {
    encryptionKey = parseKey(env.FLUID_ENCRYPTION_KEY);
    if (!encryptionKey) problems.push("FLUID_ENCRYPTION_KEY must be 32 bytes: 64 hex characters or base64");
  }

  const cpuOvercommitRaw = env.FLUID_CPU_OVERCOMMIT;
  let cpuOvercommit = 4;
  if (cpuOvercommitRaw) {
    cpuOvercommit = Number(cpuOvercommitRaw);
    if (!Number.isFinite(cpuOvercommit) || cpuOvercommit < 1 || cpuOvercommit > 64) {
      problems.push(`FLUID_CPU_OVERCOMMIT must be a number between 1 and 64, got "${cpuOvercommitRaw}"`);
      cpuOvercommit = 4;
    }
  }

  const oauth: ServerConfig["oauth"] = {};
  const provider = (name: "GITHUB" | "GOOGLE", defaults: Omit<OAuthProviderConfig, "clientId" | "clientSecret">) => {
    const clientId = env[`FLUID_${name}_CLIENT_ID`];
    const clientSecret = env[`FLUID_${name}_CLIENT_SECRET`];
    if (!clientId && !clientSecret) return undefined;
    if (!clientId || !clientSecret) {
      problems.push(`FLUID_${name}_CLIENT_ID and FLUID_${name}_CLIENT_SECRET must be set together`);
      return undefined;
    }
    if (!publicUrl) problems.push(`${name.toLowerCase()} sign-in needs --public-url for its callback address`);
    return {
      clientId,
      clientSecret,
      authorizeUrl: env[`FLUID_${name}_AUTHORIZE_URL`] ?? defaults.authorizeUrl,
      tokenUrl: env[`FLUID_${name}_TOKEN_URL`] ?? defaults.tokenUrl,
      apiBaseUrl: env[`FLUID_${name}_API_URL`] ?? defaults.apiBaseUrl,
    };
  };
  const github = provider("GITHUB", {
    authorizeUrl: "https://github.com/login/oauth/authorize",
    tokenUrl: "https://github.com/login/oauth/access_token",
    apiBaseUrl: "https://api.github.com",
  });
  if (github) oauth.github = github;
  const google = provider("GOOGLE", {
    authorizeUrl: "https://accounts.google.com/o/oauth2/v2/auth",
    tokenUrl: "https://oauth2.googleapis.com/token",
    apiBaseUrl: "https://openidconnect.googleapis.com",
  });
  if (google) oauth.google = google;

  const level = env.FLUID_LOG_LEVEL ?? "info";
  if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(level)) {
    problems.push(`FLUID_LOG_LEVEL must be one of trace, debug, info, warn, error, got "${level}"`);
  }

  const metricsToken = flags["metrics-token"] ?? (env.FLUID_METRICS_TOKEN || undefined);
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,256}$/.test(metricsToken)) {
    problems.push("--metrics-token must be 16 to 256 printable characters without spaces");
  }

  const docsEnv = truthy("FLUID_DOCS");
  const config: ServerConfig = {
    listen,
    grpcListen,
    database,
    replicaId,
    migrate: flags.migrate ?? truthy("FLUID_AUTO_MIGRATE") ?? false,
    grpc,
    publicUrl,
    corsOrigins,
    trustedProxies,
    secureCookies,
    sessionTtlMs: duration("FLUID_SESSION_TTL", 7 * 86_400_000, 60_000),
    accessCacheTtlMs: duration("FLUID_ACCESS_CACHE_TTL", 5_000, 0),
    encryptionKey,
    insecureDev: flags["insecure-dev"] ?? false,
    docs: !(flags["no-docs"] ?? docsEnv === false),
    webDir: env.FLUID_WEB_DIR || DEFAULT_WEB_DIR,
    headersTimeoutMs: duration("FLUID_HEADERS_TIMEOUT", 10_000, 100),
    requestTimeoutMs: duration("FLUID_REQUEST_TIMEOUT", 60_000, 100),
    heartbeatIntervalMs: duration("FLUID_HEARTBEAT_INTERVAL", 10_000, 100),
    missedHeartbeats: 3,
    defaultTtlMs: duration("FLUID_DEFAULT_TTL", 24 * 3_600_000, 60_000),
    maxTtlMs: duration("FLUID_MAX_TTL", 7 * 86_400_000, 60_000),
    hostLostGraceMs: duration("FLUID_HOST_LOST_GRACE", 10 * 60_000, 0),
    reaperIntervalMs: duration("FLUID_REAPER_INTERVAL", 5_000, 50),
    cpuOvercommit,
    quotas: loadQuotaDefaults(flags, env, problems),
    oauth,
    metricsToken,
    log: { level },
  };
  if (config.defaultTtlMs > config.maxTtlMs) problems.push("FLUID_DEFAULT_TTL must not exceed FLUID_MAX_TTL");
  if (config.headersTimeoutMs > config.requestTimeoutMs)
    problems.push("FLUID_HEADERS_TIMEOUT must not exceed FLUID_REQUEST_TIMEOUT");
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
