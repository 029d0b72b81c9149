/**
 * `npm run up`: the whole system on this machine with embedded defaults. Starts fluid-server (PGlite),
 * makes sure a first user, org and API key exist (saved for the `fluid` CLI), builds the default guest
 * image, and starts a local fluid-daemon registered with its own host token. Ctrl-C stops both;
 * sandboxes keep running and are re-adopted next time.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { readSettings, settingsPath, writeSettings } from "../packages/cli/src/config/settings.ts";
import { createClient, unwrap } from "../packages/sdk/src/index.ts";

const root = join(import.meta.dirname, "..");
const listen = process.env.FLUID_LISTEN ?? "127.0.0.1:8080";
const grpcListen = process.env.FLUID_GRPC_LISTEN ?? "127.0.0.1:9090";
const server = `http://${listen}`;
const isRoot = process.getuid?.() === 0;
const dataHome = process.env.XDG_DATA_HOME || join(homedir(), ".local", "share");
const stateDir =
  process.env.FLUID_DAEMON_STATE_DIR ?? (isRoot ? "/var/lib/fluid/daemon" : join(dataHome, "fluid", "daemon"));
const image = process.env.FLUID_DEFAULT_IMAGE ?? "debian-12";
const credentialsFile = join(settingsPath().replace(/config\.json$/, ""), "quickstart-credentials.json");

const children: ChildProcess[] = [];

function start(name: string, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const [file, ...args] = argv;
  if (!file) throw new Error("empty argv");
  const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      seen += text;
      for (const line of text.split("\n")) {
        if (line && !line.startsWith("{")) process.stdout.write(`[${name}] ${line}\n`);
      }
      if (/ready/.test(seen)) resolve(child);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(`[${name}] ${chunk}`));
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
  });
}

function run(argv: string[]): Promise<void> {
  const [file, ...args] = argv;
  if (!file) throw new Error("empty argv");
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: "inherit" });
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(" ")} exited with ${code}`))));
  });
}

/** The first user, org and API key; reused on later runs (the key is checked, not recreated). */
async function bootstrap(): Promise<{ apiKey: string; org: string }> {
  const saved = await readSettings().catch(() => undefined);
  if (saved?.server === server) {
    const check = await createClient({ baseUrl: server, apiKey: saved.apiKey }).GET("/v1/auth/me");
    if (check.response.ok) return { apiKey: saved.apiKey, org: saved.org ?? "default" };
  }
  const anonymous = createClient({ baseUrl: server });
  let credentials: { email: string; password: string };
  try {
    credentials = JSON.parse(await readFile(credentialsFile, "utf8"));
  } catch {
    credentials = { email: "admin@fluid.local", password: randomBytes(18).toString("base64url") };
    await mkdir(join(credentialsFile, ".."), { recursive: true, mode: 0o700 });
    await writeFile(credentialsFile, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
    await unwrap(anonymous.POST("/v1/auth/register", { body: { ...credentials, display_name: "Admin" } }));
  }
  const login = await anonymous.POST("/v1/auth/login", { body: credentials });
  if (!login.response.ok)
    throw new Error(
      `cannot sign in as ${credentials.email}; remove ${credentialsFile} and the server data to start over`,
    );
  const cookie = (login.response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const session = createClient({ baseUrl: server, headers: { cookie } });
  const orgs = await unwrap(session.GET("/v1/orgs"));
  if (!orgs.organizations.some((o) => o.slug === "default")) {
    await unwrap(session.POST("/v1/orgs", { body: { name: "Default", slug: "default" } }));
  }
  const key = await unwrap(
    session.POST("/v1/orgs/{slug}/api-keys", {
      params: { path: { slug: "default" } },
      body: { name: "quickstart", role: "owner" },
    }),
  );
  await writeSettings({ server, apiKey: key.key, org: "default" });
  return { apiKey: key.key, org: "default" };
}

/** The daemon's host token, created once and kept 0600 next to its state. */
async function hostToken(apiKey: string, org: string): Promise<string> {
  const file = join(stateDir, "host-token");
  const client = createClient({ baseUrl: server, apiKey });
  try {
    const saved = JSON.parse(await readFile(file, "utf8")) as { id: string; token: string; server: string };
    const tokens = await unwrap(client.GET("/v1/orgs/{slug}/hosts/tokens", { params: { path: { slug: org } } }));
    if (saved.server === server && tokens.tokens.some((t) => t.id === saved.id)) return saved.token;
  } catch {
    // no usable token yet
  }
  const created = await unwrap(
    client.POST("/v1/orgs/{slug}/hosts/tokens", { params: { path: { slug: org } }, body: { name: "local" } }),
  );
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify({ id: created.id, token: created.token, server })}\n`, { mode: 0o600 });
  return created.token;
}

async function main(): Promise<void> {
  const stop = () => {
    for (const child of children.reverse()) child.kill("SIGTERM");
    setTimeout(() => process.exit(0), 3_000).unref();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);

  await start(
    "server",
    [
      process.execPath,
      join(root, "packages/server/bin/fluid-server.js"),
      "--listen",
      listen,
      "--grpc-listen",
      grpcListen,
      "--insecure",
    ],
    {
      FLUID_AUTO_MIGRATE: "1",
      FLUID_LOG_LEVEL: process.env.FLUID_LOG_LEVEL ?? "warn",
    },
  );
  const { apiKey, org } = await bootstrap();
  const token = await hostToken(apiKey, org);
  await run([process.execPath, join(root, "packages/daemon/bin/fluid-daemon.js"), "image", "build", image]);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFile(join(stateDir, "host-token.secret"), token, { mode: 0o600 });
  await start("daemon", [
    process.execPath,
    join(root, "packages/daemon/bin/fluid-daemon.js"),
    "run",
    "--server",
    grpcListen,
    "--insecure",
    "--token-file",
    join(stateDir, "host-token.secret"),
    "--state-dir",
    stateDir,
    "--log-level",
    "warn",
  ]);
  process.stdout.write(
    [
      "",
      `fluid is up: dashboard ${server}/, API ${server}/v1 (docs ${server}/v1/docs), host stream ${grpcListen}, org "${org}".`,
      `The fluid CLI is logged in (${settingsPath()}); the admin password is in ${credentialsFile}.`,
      `Try:  npx fluid sandbox create ${image}`,
      "Ctrl-C stops the server and the daemon (sandboxes keep running).",
      "",
    ].join("\n"),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`up: ${(err as Error).message}\n`);
  for (const child of children) child.kill("SIGTERM");
  process.exit(1);
});
