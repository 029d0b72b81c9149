/** Used when a request leaves a value at zero (the proto3 default). */
export const sandboxDefaults = {
  vcpus: 1,
  memoryMb: 512,
  commandTimeoutSeconds: 300,
} as const;

/** The daemon's limits, in one place: what a sandbox, a command and a stream message may hold. */
export const sandboxLimits = {
  minVcpus: 1,
  minMemoryMb: 64,
  /** Longest wait for a booting guest's agent to answer. */
  bootTimeoutMs: 180_000,
  /** How long a guest asked to shut down gets before its VM is killed. */
  shutdownGraceMs: 30_000,
  /** Per stream (stdout, stderr) of one exec; the rest is cut and flagged as truncated. */
  maxOutputBytes: 1_048_576,
  /** Longest a guest stays frozen for a disk snapshot; a snapshot that needs longer fails. */
  maxFrozenMs: 30_000,
  /** Snapshot layers a running sandbox's disk may stack above its image before they are streamed into it. */
  maxDiskLayers: 8,
  /** Largest file moved through the control-plane stream (the stream refuses messages over 16 MiB). */
  maxStreamFileBytes: 8 * 1024 * 1024,
  /** Largest file moved through the local API. */
  maxLocalFileBytes: 64 * 1024 * 1024,
  /**
   * Largest diff sent back, with its playbook; text diffs and copied files are capped per file, so
   * only a vast change set comes near it.
   */
  maxDiffBytes: 12 * 1024 * 1024,
} as const;
