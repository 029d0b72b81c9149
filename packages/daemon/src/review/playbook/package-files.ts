import type { Change } from "../diff-types.js";
import type { SandboxRoot } from "./sandbox-root.js";

/**
 * Added files and directories that installing an added package puts in place exactly as the
 * sandbox has them (a file's md5 is the one dpkg recorded for it): the apt task reproduces them,
 * so copying them again would only bury the changes a reviewer must read. Files of packages that
 * were already there are not skipped: apt keeps an existing configuration file on reinstall.
 */
export async function shippedByAddedPackages(changes: readonly Change[], root: SandboxRoot): Promise<Set<string>> {
  const shipped = new Set<string>();
  const added = new Set(changes.filter((c) => c.kind === "package" && c.action === "added").map((c) => c.name));
  if (added.size === 0) return shipped;
  const candidates = changes.filter(
    (c): c is Change & { path: string } =>
      c.kind === "file" && c.action === "added" && (c.type === "file" || c.type === "dir"),
  );
  const owners = await root.packageOwners(candidates.map((c) => c.path));
  const digests = new Map<string, Map<string, string>>();
  for (const change of candidates) {
    const pkg = owners.get(change.path);
    if (pkg === undefined || !added.has(pkg)) continue;
    if (change.type === "dir") {
      shipped.add(change.path);
      continue;
    }
    if (!digests.has(pkg)) digests.set(pkg, await root.packageDigests(pkg));
    const recorded = digests.get(pkg)?.get(change.path);
    if (recorded !== undefined && recorded === (await root.md5(change.path))) shipped.add(change.path);
  }
  return shipped;
}
