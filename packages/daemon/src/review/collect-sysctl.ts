import { listGuestDir, readGuestText } from "./guest-fs.js";

export interface SysctlEntry {
  key: string;
  value: string;
  /** The file that sets it last (and so wins). */
  file: string;
}

/** `key = value` lines as sysctl(8) reads them: `#`/`;` comments, `-` prefix, `/` as `.`. */
export function parseSysctl(text: string): Array<[string, string]> {
  const settings: Array<[string, string]> = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim().replace(/^-/, "").replaceAll("/", ".");
    settings.push([key, line.slice(eq + 1).trim()]);
  }
  return settings;
}

/** The settings of /etc/sysctl.d/*.conf in name order, then /etc/sysctl.conf, later files winning. */
export async function collectSysctl(root: string): Promise<Map<string, SysctlEntry>> {
  const files = (await listGuestDir(root, "/etc/sysctl.d"))
    .filter((name) => name.endsWith(".conf"))
    .map((name) => `/etc/sysctl.d/${name}`);
  files.push("/etc/sysctl.conf");
  const settings = new Map<string, SysctlEntry>();
  for (const file of files) {
    const text = await readGuestText(root, file, 1024 * 1024);
    for (const [key, value] of parseSysctl(text ?? "")) settings.set(key, { key, value, file });
  }
  return settings;
}
