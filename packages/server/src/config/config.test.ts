import { randomBytes } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_WEB_DIR, loadConfig, type ServerConfig } from "./config.js";

type Env = Record<string, string | undefined>;

/** Loads a config that must be valid; `--insecure` is added so only the aspect under test varies. */
function load(argv: string[] = [], env: Env = {}): ServerConfig {
  const config = loadConfig(["--insecure", ...argv], env);
  if ("help" in config) throw new Error("unexpected --help result");
  return config;
}

/** The problems a config that must be invalid reports (no implicit `--insecure`). */
function problems(argv: string[], env: Env = {}): string[] {
  try {
    loadConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

const insecureProblems = (argv: string[], env: Env = {}) => problems(["--insecure", ...argv], env);

describe("loadConfig", () => {
  describe("defaults", () => {
    it("with no flags and no environment (beyond --insecure) every setting has its documented default", () => {
      expect(load([], { XDG_DATA_HOME: "/srv/data" })).toEqual({
        listen: { host: "127.0.0.1", port: 8080 },
        grpcListen: { host: "127.0.0.1", port: 9090 },
        database: { kind: "pglite", dataDir: "/srv/data/fluid/server" },
        replicaId: expect.stringMatching(/^[A-Za-z0-9._-]+-\d+-[0-9a-f]{6}$/),
        migrate: false,
        grpc: { insecure: true },
        publicUrl: undefined,
        corsOrigins: [],
        trustedProxies: [],
        secureCookies: false,
        sessionTtlMs: 7 * 86_400_000,
        accessCacheTtlMs: 5_000,
        encryptionKey: undefined,
        insecureDev: false,
        docs: true,
        webDir: DEFAULT_WEB_DIR,
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 60_000,
        heartbeatIntervalMs: 10_000,
        missedHeartbeats: 3,
        defaultTtlMs: 24 * 3_600_000,
        maxTtlMs: 7 * 86_400_000,
        hostLostGraceMs: 10 * 60_000,
        reaperIntervalMs: 5_000,
        cpuOvercommit: 4,
        quotas: { sandboxes: null, vcpus: null, memoryMb: null, snapshotBytes: null },
        oauth: {},
        metricsToken: undefined,
        log: { level: "info" },
      } satisfies ServerConfig);
    });

    it("without XDG_DATA_HOME the data dir is under ~/.local/share", () => {
      expect(load().database).toEqual({
        kind: "pglite",
        dataDir: join(homedir(), ".local", "share", "fluid", "server"),
      });
    });

    it("empty environment values count as unset", () => {
      const config = load([], {
        DATABASE_URL: "",
        FLUID_SESSION_TTL: "",
        FLUID_CPU_OVERCOMMIT: "",
        FLUID_ENCRYPTION_KEY: "",
        FLUID_AUTO_MIGRATE: "",
        XDG_DATA_HOME: "/d",
      });
      expect(config).toMatchObject({
        database: { kind: "pglite", dataDir: "/d/fluid/server" },
        sessionTtlMs: 7 * 86_400_000,
        accessCacheTtlMs: 5_000,
        cpuOvercommit: 4,
        encryptionKey: undefined,
        migrate: false,
      });
    });
  });

  describe("listen addresses", () => {
    it("--listen and --grpc-listen take HOST:PORT, including a bracketed IPv6 host", () => {
      const config = load(["--listen", "0.0.0.0:80", "--grpc-listen", "[::1]:9090"]);
      expect(config.listen).toEqual({ host: "0.0.0.0", port: 80 });
      expect(config.grpcListen).toEqual({ host: "::1", port: 9090 });
    });

    it("FLUID_LISTEN and FLUID_GRPC_LISTEN are read when the flags are absent, and the flags win over them", () => {
      const env = { FLUID_LISTEN: "10.0.0.1:8000", FLUID_GRPC_LISTEN: "[fd00::5]:7000" };
      expect(load([], env)).toMatchObject({
        listen: { host: "10.0.0.1", port: 8000 },
        grpcListen: { host: "fd00::5", port: 7000 },
      });
      expect(load(["--listen", "127.0.0.1:1"], env).listen).toEqual({ host: "127.0.0.1", port: 1 });
    });

    it.each([
      ["no port", "localhost"],
      ["empty host", ":8080"],
      ["port above 65535", "127.0.0.1:65536"],
      ["non-numeric port", "127.0.0.1:http"],
      ["unbracketed IPv6", "::1:9090"],
      ["bracketed IPv6 without port", "[::1]"],
      ["empty", ""],
    ])("--listen with %s is refused, naming the flag and the value", (_case, value) => {
      expect(insecureProblems(["--listen", value])).toEqual([`--listen must be HOST:PORT, got "${value}"`]);
    });

    it("a bad --grpc-listen is reported under its own flag name", () => {
      expect(insecureProblems(["--grpc-listen", "nowhere"])).toEqual([
        '--grpc-listen must be HOST:PORT, got "nowhere"',
      ]);
    });
  });

  describe("database", () => {
    it.each(["postgres://fluid:pw@db.internal:5432/fluid", "postgresql://db.internal/fluid?sslmode=require"])(
      "DATABASE_URL %s selects PostgreSQL and overrides --data-dir",
      (url) => {
        expect(load(["--data-dir", "/ignored"], { DATABASE_URL: url }).database).toEqual({ kind: "postgres", url });
      },
    );

    it.each(["mysql://root@db/fluid", "db.internal:5432", "not a url"])(
      "DATABASE_URL %s is refused: only postgres:// or postgresql:// URLs",
      (url) => {
        expect(insecureProblems([], { DATABASE_URL: url })).toEqual([
          "DATABASE_URL must be a postgres:// or postgresql:// URL",
        ]);
      },
    );

    it("database-url-required-no-default-creds: without DATABASE_URL the server uses PGlite in the data dir, never a built-in credentialed URL", () => {
      const config = load([], { XDG_DATA_HOME: "/x" });
      expect(config.database).toEqual({ kind: "pglite", dataDir: "/x/fluid/server" });
      expect(JSON.stringify(config)).not.toMatch(/postgres(ql)?:\/\//);
    });

    it("--data-dir wins over FLUID_DATA_DIR, which wins over the XDG default", () => {
      const env = { FLUID_DATA_DIR: "/from-env", XDG_DATA_HOME: "/xdg" };
      expect(load([], env).database).toEqual({ kind: "pglite", dataDir: "/from-env" });
      expect(load(["--data-dir", "/from-flag"], env).database).toEqual({ kind: "pglite", dataDir: "/from-flag" });
    });

    it("automigrate-default-false: migrations run only when asked by --migrate or FLUID_AUTO_MIGRATE", () => {
      expect(load().migrate).toBe(false);
      expect(load(["--migrate"]).migrate).toBe(true);
      expect(load([], { FLUID_AUTO_MIGRATE: "1" }).migrate).toBe(true);
      expect(load([], { FLUID_AUTO_MIGRATE: "false" }).migrate).toBe(false);
    });
  });

  describe("replica id", () => {
    it("--replica-id wins over FLUID_REPLICA_ID; without either each process gets hostname-pid-random", () => {
      expect(load(["--replica-id", "a"], { FLUID_REPLICA_ID: "b" }).replicaId).toBe("a");
      expect(load([], { FLUID_REPLICA_ID: "b" }).replicaId).toBe("b");
      const first = load().replicaId;
      expect(first).toContain(`-${process.pid}-`);
      expect(load().replicaId).not.toBe(first);
    });

    it.each(["", "has space", "x".repeat(65), "a/b"])("replica id %j is refused with the allowed form", (id) => {
      expect(insecureProblems(["--replica-id", id])).toEqual([
        `--replica-id must be 1 to 64 letters, digits, dots, underscores or dashes, got "${id}"`,
      ]);
    });
  });

  describe("host stream TLS", () => {
    it("grpc-tls-required-unless-explicit-insecure: without TLS files or --insecure startup fails, naming both fixes", () => {
      const [problem, ...others] = problems([]);
      expect(others).toEqual([]);
      expect(problem).toMatch(/host stream needs TLS/);
      expect(problem).toContain("--tls-cert and --tls-key");
      expect(problem).toContain("--insecure");
    });

    it("grpc-tls-required-unless-explicit-insecure: FLUID_GRPC_INSECURE=0 does not count as opting in", () => {
      expect(problems([], { FLUID_GRPC_INSECURE: "0" })).toEqual([expect.stringMatching(/host stream needs TLS/)]);
    });

    it("FLUID_GRPC_INSECURE=1 opts into plaintext like --insecure", () => {
      expect(loadConfig([], { FLUID_GRPC_INSECURE: "1" })).toMatchObject({ grpc: { insecure: true } });
    });

    it("a certificate and key (flags or environment) enable TLS", () => {
      expect(loadConfig(["--tls-cert", "/c.pem", "--tls-key", "/k.pem"], {})).toMatchObject({
        grpc: { insecure: false, certFile: "/c.pem", keyFile: "/k.pem" },
      });
      expect(loadConfig([], { FLUID_TLS_CERT: "/c.pem", FLUID_TLS_KEY: "/k.pem" })).toMatchObject({
        grpc: { insecure: false, certFile: "/c.pem", keyFile: "/k.pem" },
      });
    });

    it.each([
      ["a certificate without a key", ["--tls-cert", "/c.pem"]],
      ["a key without a certificate", ["--tls-key", "/k.pem"]],
    ])("%s is refused", (_case, argv) => {
      expect(problems(argv)).toEqual(["--tls-cert and --tls-key must be given together"]);
    });
  });

  describe("origins and proxies", () => {
    it.each([
      ["a wildcard", "*"],
      ["an empty value", ""],
      ["a non-http scheme", "ftp://x"],
      ["an unparseable URL", "://bad"],
      ["the opaque null origin", "null"],
    ])("frontend-url-validated: a CORS origin that is %s is refused, quoting it", (_case, origin) => {
      expect(insecureProblems(["--cors-origin", origin])).toEqual([
        `CORS origin must be an explicit http(s) origin (not "*"), got "${origin}"`,
      ]);
    });

    it("frontend-url-validated: CORS origins are normalised to scheme://host[:port]", () => {
      const config = load([
        "--cors-origin",
        "https://App.Example.com:443/dashboard?x=1",
        "--cors-origin",
        "http://localhost:3000/",
      ]);
      expect(config.corsOrigins).toEqual(["https://app.example.com", "http://localhost:3000"]);
    });

    it("FLUID_CORS_ORIGINS is a comma list, used only when no --cors-origin is given", () => {
      const env = { FLUID_CORS_ORIGINS: " https://a.example , ,http://b.example:8080 " };
      expect(load([], env).corsOrigins).toEqual(["https://a.example", "http://b.example:8080"]);
      expect(load(["--cors-origin", "https://c.example"], env).corsOrigins).toEqual(["https://c.example"]);
    });

    it("frontend-url-validated: --public-url must be http(s) and is reduced to its origin", () => {
      expect(load(["--public-url", "https://Fluid.Example.com/"]).publicUrl).toBe("https://fluid.example.com");
      expect(insecureProblems(["--public-url", "ftp://fluid.example.com"])).toEqual([
        '--public-url must be an http(s) URL, got "ftp://fluid.example.com"',
      ]);
    });

    it("trusted proxies accept IPv4/IPv6 addresses and CIDRs", () => {
      expect(load([], { FLUID_TRUSTED_PROXIES: "10.0.0.0/8,192.168.1.1,::1,fd00::/8" }).trustedProxies).toEqual([
        "10.0.0.0/8",
        "192.168.1.1",
        "::1",
        "fd00::/8",
      ]);
    });

    it("trusted-proxy-cidr-parse-errors-warned: every invalid entry is named and startup fails instead of ignoring it", () => {
      const bad = ["proxy.internal", "10.0.0.0/33", "::/129", "10.0.0.0/8/1", "1.2.3.4/", "1.2.3.4/x"];
      const argv = ["--trusted-proxy", "10.0.0.1", ...bad.flatMap((b) => ["--trusted-proxy", b])];
      expect(insecureProblems(argv)).toEqual(bad.map((b) => `trusted proxy must be an IP address or CIDR, got "${b}"`));
    });
    it("trusted-proxy-cidr-parse-errors-warned: a /0 prefix is refused at config time instead of crashing startup in Fastify", () => {
      expect(insecureProblems(["--trusted-proxy", "0.0.0.0/0", "--trusted-proxy", "::/0"])).toEqual([
        'trusted proxy must be an IP address or CIDR, got "0.0.0.0/0"',
        'trusted proxy must be an IP address or CIDR, got "::/0"',
      ]);
    });
  });

  describe("environment values", () => {
    it("durations accept ms/s/m/h/d suffixes and bare seconds", () => {
      const config = load([], {
        FLUID_SESSION_TTL: "12h",
        FLUID_HEARTBEAT_INTERVAL: "250ms",
        FLUID_DEFAULT_TTL: "90",
        FLUID_MAX_TTL: "2d",
        FLUID_HOST_LOST_GRACE: "0",
        FLUID_REAPER_INTERVAL: "1m",
        FLUID_HEADERS_TIMEOUT: "5s",
        FLUID_REQUEST_TIMEOUT: "2m",
      });
      expect(config).toMatchObject({
        sessionTtlMs: 12 * 3_600_000,
        heartbeatIntervalMs: 250,
        defaultTtlMs: 90_000,
        maxTtlMs: 2 * 86_400_000,
        hostLostGraceMs: 0,
        reaperIntervalMs: 60_000,
        headersTimeoutMs: 5_000,
        requestTimeoutMs: 120_000,
      });
    });

    it.each([
      ["FLUID_SESSION_TTL", "forever"],
      ["FLUID_SESSION_TTL", "30s"],
      ["FLUID_HEARTBEAT_INTERVAL", "10 seconds"],
      ["FLUID_HEARTBEAT_INTERVAL", "-5s"],
      ["FLUID_DEFAULT_TTL", "1w"],
      ["FLUID_MAX_TTL", "7days"],
      ["FLUID_HOST_LOST_GRACE", "soon"],
      ["FLUID_REAPER_INTERVAL", "10ms"],
      ["FLUID_HEADERS_TIMEOUT", "0"],
      ["FLUID_REQUEST_TIMEOUT", "never"],
    ])("env-parse-errors-logged: %s=%s is refused, naming the variable and value", (name, value) => {
      expect(insecureProblems([], { [name]: value })).toEqual([
        `${name} must be a duration like 30s, 10m, 24h or 7d, got "${value}"`,
      ]);
    });

    it.each(["FLUID_AUTO_MIGRATE", "FLUID_DOCS", "FLUID_SECURE_COOKIES"])(
      "env-parse-errors-logged: a non-boolean %s is refused, naming the variable",
      (name) => {
        expect(insecureProblems([], { [name]: "maybe" })).toEqual([
          `${name} must be a boolean (1/0/true/false), got "maybe"`,
        ]);
      },
    );

    it("env-parse-errors-logged: a non-boolean FLUID_GRPC_INSECURE is named (alongside the missing TLS it leaves)", () => {
      expect(problems([], { FLUID_GRPC_INSECURE: "plaintext" })).toEqual([
        'FLUID_GRPC_INSECURE must be a boolean (1/0/true/false), got "plaintext"',
        expect.stringMatching(/host stream needs TLS/),
      ]);
    });

    it.each(["lots", "0", "65", "NaN", "Infinity"])(
      "env-parse-errors-logged: FLUID_CPU_OVERCOMMIT=%s is refused, naming the variable",
      (value) => {
        expect(insecureProblems([], { FLUID_CPU_OVERCOMMIT: value })).toEqual([
          `FLUID_CPU_OVERCOMMIT must be a number between 1 and 64, got "${value}"`,
        ]);
      },
    );

    it("FLUID_CPU_OVERCOMMIT accepts a number between 1 and 64", () => {
      expect(load([], { FLUID_CPU_OVERCOMMIT: "1.5" }).cpuOvercommit).toBe(1.5);
      expect(load([], { FLUID_CPU_OVERCOMMIT: "64" }).cpuOvercommit).toBe(64);
    });

    it("HTTP timeouts default to 10s for headers and 60s for the whole request", () => {
      expect(load([], {})).toMatchObject({ headersTimeoutMs: 10_000, requestTimeoutMs: 60_000 });
    });

    it("a headers timeout longer than the request timeout is refused", () => {
      expect(insecureProblems([], { FLUID_HEADERS_TIMEOUT: "2m" })).toEqual([
        "FLUID_HEADERS_TIMEOUT must not exceed FLUID_REQUEST_TIMEOUT",
      ]);
    });

    it("a default sandbox lease longer than the maximum is refused", () => {
      expect(insecureProblems([], { FLUID_DEFAULT_TTL: "8d" })).toEqual([
        "FLUID_DEFAULT_TTL must not exceed FLUID_MAX_TTL",
      ]);
    });

    it("an unknown FLUID_LOG_LEVEL is refused", () => {
      expect(insecureProblems([], { FLUID_LOG_LEVEL: "verbose" })).toEqual([
        'FLUID_LOG_LEVEL must be one of trace, debug, info, warn, error, got "verbose"',
      ]);
      expect(load([], { FLUID_LOG_LEVEL: "debug" }).log).toEqual({ level: "debug" });
    });
  });

  describe("cookies, docs and secrets", () => {
    it.each([
      ["https public URL", { FLUID_PUBLIC_URL: "https://fluid.example.com" }, true],
      ["http public URL", { FLUID_PUBLIC_URL: "http://fluid.example.com" }, false],
      ["no public URL", {}, false],
      ["explicit auto with https", { FLUID_PUBLIC_URL: "https://f.example", FLUID_SECURE_COOKIES: "auto" }, true],
      ["explicit auto with http", { FLUID_PUBLIC_URL: "http://f.example", FLUID_SECURE_COOKIES: "auto" }, false],
      ["true overriding http", { FLUID_PUBLIC_URL: "http://f.example", FLUID_SECURE_COOKIES: "true" }, true],
      ["true without public URL", { FLUID_SECURE_COOKIES: "1" }, true],
      ["false overriding https", { FLUID_PUBLIC_URL: "https://f.example", FLUID_SECURE_COOKIES: "false" }, false],
    ])("secure-cookies-default-consistent: %s → Secure=%s", (_case, env, secure) => {
      expect(load([], env).secureCookies).toBe(secure);
    });

    it("api-docs-gated-in-production: the docs UI is on by default and --no-docs or FLUID_DOCS=0 turns it off", () => {
      expect(load().docs).toBe(true);
      expect(load(["--no-docs"]).docs).toBe(false);
      expect(load([], { FLUID_DOCS: "0" }).docs).toBe(false);
      expect(load([], { FLUID_DOCS: "1" }).docs).toBe(true);
    });

    it("--metrics-token (or FLUID_METRICS_TOKEN) sets the /metrics token; a short or spaced one is refused", () => {
      const token = "a".repeat(32);
      expect(load(["--metrics-token", token]).metricsToken).toBe(token);
      expect(load([], { FLUID_METRICS_TOKEN: token }).metricsToken).toBe(token);
      expect(load([], { FLUID_METRICS_TOKEN: "" }).metricsToken).toBeUndefined();
      expect(() => load(["--metrics-token", "short"])).toThrow(/--metrics-token must be 16 to 256/);
      expect(() => load([], { FLUID_METRICS_TOKEN: "has a space in it ok" })).toThrow(/--metrics-token/);
    });

    it("FLUID_ENCRYPTION_KEY accepts 64 hex characters", () => {
      const key = randomBytes(32);
      expect(load([], { FLUID_ENCRYPTION_KEY: key.toString("hex").toUpperCase() }).encryptionKey).toEqual(key);
    });

    it("FLUID_ENCRYPTION_KEY accepts base64 of exactly 32 bytes", () => {
      const key = randomBytes(32);
      expect(load([], { FLUID_ENCRYPTION_KEY: ` ${key.toString("base64")}\n` }).encryptionKey).toEqual(key);
    });

    it.each([
      ["63 hex characters", "a".repeat(63)],
      ["base64 of 16 bytes", Buffer.alloc(16, 7).toString("base64")],
      ["base64 of 33 bytes", Buffer.alloc(33, 7).toString("base64")],
      ["a passphrase", "correct horse battery staple"],
    ])("FLUID_ENCRYPTION_KEY as %s is refused", (_case, value) => {
      expect(insecureProblems([], { FLUID_ENCRYPTION_KEY: value })).toEqual([
        "FLUID_ENCRYPTION_KEY must be 32 bytes: 64 hex characters or base64",
      ]);
    });

    it("an OAuth client id without its secret is refused", () => {
      expect(insecureProblems(["--public-url", "https://f.example"], { FLUID_GITHUB_CLIENT_ID: "id" })).toEqual([
        "FLUID_GITHUB_CLIENT_ID and FLUID_GITHUB_CLIENT_SECRET must be set together",
      ]);
    });

    it("OAuth sign-in without --public-url is refused: the callback address would be unknown", () => {
      expect(insecureProblems([], { FLUID_GOOGLE_CLIENT_ID: "id", FLUID_GOOGLE_CLIENT_SECRET: "secret" })).toEqual([
        "google sign-in needs --public-url for its callback address",
      ]);
    });
  });

  describe("reporting", () => {
    it("all problems are reported together in one ConfigError whose message lists each", () => {
      let error: unknown;
      try {
        loadConfig(["--listen", "nope", "--cors-origin", "*"], {
          DATABASE_URL: "mysql://db",
          FLUID_SESSION_TTL: "forever",
          FLUID_CPU_OVERCOMMIT: "0",
          FLUID_TRUSTED_PROXIES: "bogus",
          FLUID_ENCRYPTION_KEY: "short",
        });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const { problems: reported, message } = error as ConfigError;
      expect(reported).toHaveLength(8);
      for (const fragment of [
        "--listen",
        "DATABASE_URL",
        "host stream needs TLS",
        "CORS origin",
        "trusted proxy",
        "FLUID_ENCRYPTION_KEY",
        "FLUID_CPU_OVERCOMMIT",
        "FLUID_SESSION_TTL",
      ]) {
        expect(reported.filter((p) => p.includes(fragment))).toHaveLength(1);
      }
      for (const problem of reported) expect(message).toContain(problem);
    });

    it("unknown flags and positional arguments are refused", () => {
      expect(() => loadConfig(["--insecure", "--lisen", "0.0.0.0:80"], {})).toThrow(/--lisen/);
      expect(() => loadConfig(["--insecure", "serve"], {})).toThrow(/serve/);
    });

    it("--help (or -h) asks for usage without validating anything else", () => {
      expect(loadConfig(["--help"], { DATABASE_URL: "mysql://db" })).toEqual({ help: true });
      expect(loadConfig(["-h"], {})).toEqual({ help: true });
    });
  });
});
