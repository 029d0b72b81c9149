import { sandboxLimits as requestLimits } from "@fluid/proto";

/** Used when a request leaves a value at zero (the proto3 default); the same on every entry point. */
export { sandboxDefaults } from "@fluid/proto";

/**
 * The daemon's limits, in one place: the request bounds every entry point shares (from the protocol
 * package), and what only the daemon decides — how long a guest gets, how much a disk may stack, and
 * what its local API and diffs may carry.
 */
export const sandboxLimits = {
  ...requestLimits,
  /** Longest wait for a booting guest's agent to answer. */
  bootTimeoutMs: 180_000,
  /** How long a guest asked to shut down gets before its VM is killed. */
  shutdownGraceMs: 30_000,
  /** Longest a guest stays frozen for a disk snapshot; a snapshot that needs longer fails. */
  maxFrozenMs: 30_000,
  /** Snapshot layers a running sandbox's disk may stack above its image before they are streamed into it. */
  maxDiskLayers: 8,
  /** Largest file moved through the local API. */
  maxLocalFileBytes: 64 * 1024 * 1024,
  /**
   * Largest diff sent back, with its playbook; text diffs and copied files are capped per file, so
   * only a vast change set comes near it.
   */
  maxDiffBytes: 12 * 1024 * 1024,
} as const;
