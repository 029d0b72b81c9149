import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { z } from "zod";
import { CliError } from "../output.js";

/** The model provider `fluid agent` talks to; each field is a fallback for its flag or environment variable. */
export const AgentSettings = z.object({
  baseUrl: z.url().optional(),
  model: z.string().min(1).optional(),
  apiKey: z.string().min(1).optional(),
});
export type AgentSettings = z.infer<typeof AgentSettings>;

/** What `fluid login` saves: where the server is and the API key to use there (and, optionally, `fluid agent`'s provider). */
export const Settings = z.object({
  server: z.url(),
  apiKey: z.string().startsWith("fl_"),
  org: z.string().optional(),
  agent: AgentSettings.optional(),
});
export type Settings = z.infer<typeof Settings>;

export function settingsPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLUID_CONFIG) return env.FLUID_CONFIG;
  const base =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "fluid", "config.json");
}

export async function readSettings(path = settingsPath()): Promise<Settings | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = Settings.safeParse(json);
  if (!parsed.success) {
    throw new CliError(`${path} is not a valid fluid config; run fluid login again`, {
      code: "invalid_config",
    });
  }
  return parsed.data;
}

/** Saved 0600 in a 0700 directory: the file holds an API key. */
export async function writeSettings(settings: Settings, path = settingsPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** Forgets the saved login; false when there was none. */
export async function removeSettings(path = settingsPath()): Promise<boolean> {
  try {
    await rm(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/**
 * The connection to use: flags first, then FLUID_SERVER / FLUID_API_KEY / FLUID_ORG, then the saved
 * login. The org defaults to the one the API key belongs to (resolved by the caller when absent).
 */
export async function resolveConnection(
  flags: { server?: string | undefined; apiKey?: string | undefined; org?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ server: string; apiKey: string; org: string | undefined }> {
  const saved = await readSettings(settingsPath(env));
  const server = flags.server ?? env.FLUID_SERVER ?? saved?.server;
  const apiKey = flags.apiKey ?? env.FLUID_API_KEY ?? saved?.apiKey;
  // The saved org goes with the saved key: another key (flag or env) may belong to another org.
  const org = flags.org ?? env.FLUID_ORG ?? (apiKey === saved?.apiKey ? saved?.org : undefined);
  if (!server || !apiKey) {
    throw new CliError(
      "not logged in: run `fluid login --server URL --api-key fl_…` or set FLUID_SERVER and FLUID_API_KEY",
      { code: "unauthenticated" },
    );
  }
  if (!isServerUrl(server))
    throw new CliError(`the server must be an http(s) URL like http://127.0.0.1:8080, got "${server}"`);
  return { server, apiKey, org };
}

export function isServerUrl(text: string): boolean {
  return URL.canParse(text) && ["http:", "https:"].includes(new URL(text).protocol);
}
