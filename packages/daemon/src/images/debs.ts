import { mkdir, mkdtemp, readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { run, runChecked } from "../system/run.js";
import { removeTree } from "./remove-tree.js";

const packageName = /^[a-z0-9][a-z0-9+.-]+$/;

/** The fields of one Debian control stanza (continuation lines folded into their field). */
export function parseControl(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  let current: string | undefined;
  for (const line of text.split("\n")) {
    if (line === "") {
      if (current) break;
      continue;
    }
    if (/^\s/.test(line) && current) {
      fields[current] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    current = line.slice(0, colon);
    fields[current] = line.slice(colon + 1).trim();
  }
  return fields;
}

export interface AptCandidate {
  version: string;
  depends: string;
}

/** The version apt would install, from the host's package lists (no network). */
export async function aptCandidate(name: string): Promise<AptCandidate> {
  if (!packageName.test(name)) throw new Error(`invalid Debian package name "${name}"`);
  const result = await run(["apt-cache", "show", "--no-all-versions", name]);
  const fields = parseControl(result.stdout);
  if (result.code !== 0 || !fields.Version) {
    throw new Error(`apt knows no package ${name}; run apt-get update (or check the host's apt sources)`);
  }
  return { version: fields.Version, depends: fields.Depends ?? "" };
}

/** `apt-get download` names files <package>_<version>_<arch>.deb, with the epoch colon as %3a. */
export function debFilePrefix(name: string, version: string): string {
  return `${name}_${version.replaceAll(":", "%3a")}_`;
}

/**
 * The path of the candidate version's .deb in `cacheDir`, downloaded first unless it is already
 * there. Downloads land in a private directory and are renamed in, so the cache never holds a
 * partial file.
 */
export async function fetchDeb(name: string, cacheDir: string): Promise<string> {
  const { version } = await aptCandidate(name);
  const prefix = debFilePrefix(name, version);
  await mkdir(cacheDir, { recursive: true });
  const cached = (await readdir(cacheDir)).find((file) => file.startsWith(prefix) && file.endsWith(".deb"));
  if (cached) return join(cacheDir, cached);
  const staging = await mkdtemp(join(cacheDir, ".download-"));
  try {
    await runChecked(["apt-get", "download", `${name}=${version}`], { cwd: staging, timeoutMs: 15 * 60_000 });
    const file = (await readdir(staging)).find((entry) => entry.startsWith(prefix) && entry.endsWith(".deb"));
    if (!file) throw new Error(`apt-get download ${name}=${version} produced no ${prefix}*.deb`);
    await rename(join(staging, file), join(cacheDir, file));
    return join(cacheDir, file);
  } finally {
    await removeTree(staging);
  }
}
