import { readGuestText } from "./guest-fs.js";

export interface PackageEntry {
  name: string;
  version: string;
  arch: string;
}

/**
 * Installed Debian packages from dpkg's status database, keyed `name:arch` (multi-arch systems can
 * hold one name twice). Half-installed or removed-but-configured packages are not installed.
 */
export function parseDpkgStatus(text: string): Map<string, PackageEntry> {
  const packages = new Map<string, PackageEntry>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split("\n")) {
      const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (match) fields.set((match[1] as string).toLowerCase(), (match[2] as string).trim());
    }
    const name = fields.get("package");
    const version = fields.get("version");
    if (!name || !version || fields.get("status") !== "install ok installed") continue;
    const arch = fields.get("architecture") ?? "all";
    packages.set(`${name}:${arch}`, { name, version, arch });
  }
  return packages;
}

export async function collectPackages(root: string): Promise<Map<string, PackageEntry>> {
  return parseDpkgStatus((await readGuestText(root, "/var/lib/dpkg/status", 64 * 1024 * 1024)) ?? "");
}
