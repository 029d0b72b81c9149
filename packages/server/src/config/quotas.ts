/** Limits on what one organization may hold at once; null means unlimited. */
export interface QuotaLimits {
  /** Live sandboxes (CREATING, RUNNING or STOPPED). */
  sandboxes: number | null;
  /** vCPUs of CREATING and RUNNING sandboxes. */
  vcpus: number | null;
  /** Memory (MiB) of CREATING and RUNNING sandboxes. */
  memoryMb: number | null;
  /** Bytes of the snapshots the org's hosts keep. */
  snapshotBytes: number | null;
}

export const unlimited: QuotaLimits = { sandboxes: null, vcpus: null, memoryMb: null, snapshotBytes: null };

export const quotaFlagSpec = {
  "quota-sandboxes": { type: "string" },
  "quota-vcpus": { type: "string" },
  "quota-memory-mb": { type: "string" },
  "quota-snapshot-gb": { type: "string" },
} as const;

export const quotaUsage = `  --quota-sandboxes N       default per-org limit of live sandboxes [FLUID_QUOTA_SANDBOXES]
  --quota-vcpus N           default per-org limit of vCPUs of running sandboxes [FLUID_QUOTA_VCPUS]
  --quota-memory-mb N       default per-org limit of memory (MiB) of running sandboxes [FLUID_QUOTA_MEMORY_MB]
  --quota-snapshot-gb N     default per-org limit of snapshot storage in GiB [FLUID_QUOTA_SNAPSHOT_GB]
                            (each: 0 or absent = unlimited; per-org overrides: fluid-server quota set)
`;

const GIB = 1024 ** 3;

/** A limit as given on the command line: a whole number, 0 meaning unlimited. */
export function parseLimit(raw: string): number | null | undefined {
  const text = raw.trim();
  if (!/^\d{1,15}$/.test(text)) return undefined;
  const value = Number(text);
  return value === 0 ? null : value;
}

/** The server's default limits from flags and environment; each problem is pushed to `problems`. */
export function loadQuotaDefaults(
  flags: Partial<Record<keyof typeof quotaFlagSpec, string | undefined>>,
  env: Record<string, string | undefined>,
  problems: string[],
): QuotaLimits {
  const read = (flag: keyof typeof quotaFlagSpec, name: string): number | null => {
    const raw = flags[flag] ?? env[name];
    if (raw === undefined || raw === "") return null;
    const value = parseLimit(raw);
    if (value === undefined) {
      problems.push(`--${flag} (${name}) must be a whole number, 0 for unlimited, got "${raw}"`);
      return null;
    }
    return value;
  };
  const sandboxes = read("quota-sandboxes", "FLUID_QUOTA_SANDBOXES");
  const vcpus = read("quota-vcpus", "FLUID_QUOTA_VCPUS");
  const memoryMb = read("quota-memory-mb", "FLUID_QUOTA_MEMORY_MB");
  const snapshotGb = read("quota-snapshot-gb", "FLUID_QUOTA_SNAPSHOT_GB");
  return { sandboxes, vcpus, memoryMb, snapshotBytes: snapshotGb === null ? null : snapshotGb * GIB };
}
