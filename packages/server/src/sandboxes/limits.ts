import { sandboxLimits as shared } from "@fluid/proto";

export { sandboxDefaults } from "@fluid/proto";

/** The shared bounds, plus what the control plane guards on its own side. */
export const sandboxLimits = {
  ...shared,
  /** Stored output per stream; the host caps at the same size, this guards the database. */
  maxStoredOutputBytes: shared.maxOutputBytes,
} as const;

/** How long the control plane waits for a host's answer, per command. */
export interface HostDeadlines {
  createMs: number;
  destroyMs: number;
  startMs: number;
  stopMs: number;
  snapshotMs: number;
  extendMs: number;
  egressMs: number;
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
  egressMs: 15_000,
  fileMs: 2 * 60_000,
  diffMs: 5 * 60_000,
  commandGraceMs: 30_000,
};
