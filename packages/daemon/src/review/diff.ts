import type { ListeningSocket } from "../agent/proc-net.js";
import { canonicalJson, sha256Hex } from "./canonical.js";
import { compareDebianVersions } from "./debian-version.js";
import { diffFiles } from "./diff-files.js";
import type { Change, SemanticDiff } from "./diff-types.js";
import { diffListening } from "./listening.js";
import { collectManifest, type Manifest } from "./manifest.js";
import { type ChangeKind, type NoiseOverride, NoisePolicy, noiseRules } from "./noise.js";

type Keyed = "packages" | "units" | "users" | "groups" | "cron" | "sysctl";

/** How each non-file collection shows in a change: its kind, its key field, and what it shows. */
const RECORDS: Array<{
  from: Keyed;
  kind: ChangeKind;
  key: "name" | "path";
  show: (entry: never) => Record<string, unknown>;
}> = [
  { from: "packages", kind: "package", key: "name", show: (p: { name: string; version: string; arch: string }) => p },
  { from: "units", kind: "unit", key: "name", show: (u: Record<string, unknown>) => u },
  {
    from: "users",
    kind: "user",
    key: "name",
    // The password hash's digest only says whether it changed; it is never shown.
    show: ({ password_sha256, ...user }: { password_sha256: string | null }) => ({
      ...user,
      password: password_sha256,
    }),
  },
  { from: "groups", kind: "group", key: "name", show: (g: Record<string, unknown>) => g },
  { from: "cron", kind: "cron", key: "path", show: (c: Record<string, unknown>) => c },
  {
    from: "sysctl",
    kind: "sysctl",
    key: "name",
    show: ({ key, ...rest }: { key: string }) => ({ name: key, ...rest }),
  },
];

function diffRecords(base: Manifest, sandbox: Manifest, noise: NoisePolicy): Change[] {
  const changes: Change[] = [];
  for (const { from, kind, key, show } of RECORDS) {
    const before = base[from] as Map<string, never>;
    const after = sandbox[from] as Map<string, never>;
    const id = (entry: never) => String(show(entry)[key]);
    for (const [mapKey, entry] of after) {
      if (noise.ignores(kind, id(entry))) continue;
      const now = show(entry);
      const old = before.get(mapKey);
      if (old === undefined) {
        changes.push(hidePassword({ kind, action: "added", ...now }));
        continue;
      }
      const then = show(old);
      const changed: Record<string, unknown> = {};
      for (const field of Object.keys(now)) {
        if (canonicalJson(now[field]) !== canonicalJson(then[field])) changed[field] = then[field];
      }
      if (Object.keys(changed).length > 0)
        changes.push(withDirection(hidePassword({ kind, action: "changed", ...now, from: changed })));
    }
    for (const [mapKey, entry] of before) {
      if (after.has(mapKey) || noise.ignores(kind, id(entry))) continue;
      changes.push(hidePassword({ kind, action: "removed", ...show(entry) }));
    }
  }
  return changes;
}

/** Replaces a user's password digest by whether it changed (or is set, for an added user). */
function hidePassword(change: Change): Change {
  if (change.kind !== "user") return change;
  const { password, from, ...rest } = change as Change & { password?: unknown; from?: Record<string, unknown> };
  if (change.action === "removed") return rest;
  if (change.action === "added") return { ...rest, password_set: password !== null };
  const { password: previous, ...otherFrom } = from ?? {};
  const passwordChanged = previous !== undefined;
  return {
    ...rest,
    ...(passwordChanged ? { password_changed: true } : {}),
    ...(Object.keys(otherFrom).length > 0 ? { from: otherFrom } : {}),
  };
}

/** Says whether a package's version change is an upgrade or a downgrade, as dpkg orders them. */
function withDirection(change: Change): Change {
  const previous = (change.from as { version?: string } | undefined)?.version;
  if (change.kind !== "package" || previous === undefined) return change;
  const newer = compareDebianVersions(String(change.version), previous) > 0;
  return { ...change, direction: newer ? "upgraded" : "downgraded" };
}

const order = (change: Change) => `${change.kind}\0${change.path ?? change.name ?? ""}\0${change.action}`;

/** The diff of two manifests in its canonical order, with its summary and hash. */
export function finishDiff(changes: Change[]): SemanticDiff {
  const sorted = [...changes].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  const summary = { total: sorted.length, added: 0, changed: 0, removed: 0, by_kind: {} as Record<string, number> };
  for (const change of sorted) {
    summary[change.action]++;
    summary.by_kind[change.kind] = (summary.by_kind[change.kind] ?? 0) + 1;
  }
  return { hash: sha256Hex(canonicalJson({ summary, changes: sorted })), summary, changes: sorted };
}

export interface DiffOptions {
  noise?: NoiseOverride | undefined;
  /** A running sandbox's listening sockets now and at its first boot; without them, no port changes. */
  ports?: { baseline: readonly ListeningSocket[]; current: readonly ListeningSocket[] } | undefined;
}

/** The semantic diff of a sandbox's mounted root against its base's mounted root. */
export async function diffRoots(baseRoot: string, sandboxRoot: string, options: DiffOptions = {}) {
  const noise = new NoisePolicy(noiseRules(options.noise));
  const base = await collectManifest(baseRoot, noise);
  const sandbox = await collectManifest(sandboxRoot, noise);
  const files = await diffFiles(
    { root: baseRoot, files: base.files },
    { root: sandboxRoot, files: sandbox.files },
    noise,
  );
  const ports = options.ports ? diffListening(options.ports.baseline, options.ports.current, noise) : [];
  return finishDiff([...files, ...diffRecords(base, sandbox, noise), ...ports]);
}
