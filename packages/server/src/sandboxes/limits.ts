/** Resources a sandbox gets when the request does not say. */
export const sandboxDefaults = { vcpus: 1, memoryMb: 512, diskMb: 1024 } as const;

/** Bounds on what a request may ask for. */
export const sandboxLimits = {
  maxVcpus: 32,
  minMemoryMb: 64,
  maxMemoryMb: 262_144,
  minTtlSeconds: 60,
  maxCommandBytes: 65_536,
  maxCommandTimeoutSeconds: 3600,
  defaultCommandTimeoutSeconds: 300,
  maxEnvVars: 64,
  maxEnvValueBytes: 32_768,
  /** Stored output per stream; the host caps too, this guards the database. */
  maxStoredOutputBytes: 1_048_576,
  /** Files moved through the host stream (its messages are capped at 16 MiB). */
  maxFileBytes: 8 * 1024 * 1024,
} as const;

/** How long the control plane waits for a host's answer, per command. */
export interface HostDeadlines {
  createMs: number;
  destroyMs: number;
  startMs: number;
  stopMs: number;
  snapshotMs: number;
  extendMs: number;
  fileMs: number;
  /** A semantic diff reads two whole root filesystems. */
  diffMs: number;
  /** Added to a command's own timeout so the host can report the timeout itself. */
  commandGraceMs: number;
}

export const defaultDeadlines: HostDeadlines = {
  createMs: 10 * 60_000,
  destroyMs: 2 * 60_000,
  startMs: 5 * 60_000,
  stopMs: 2 * 60_000,
  snapshotMs: 10 * 60_000,
  extendMs: 15_000,
  fileMs: 2 * 60_000,
  diffMs: 5 * 60_000,
  commandGraceMs: 30_000,
};
