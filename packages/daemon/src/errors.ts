import type { HostErrorCode } from "@fluid/proto";

/**
 * A sandbox operation failed for a stable reason: `code` travels to the control plane as
 * ErrorReport.code and is what the daemon's local API answers with.
 */
export class SandboxError extends Error {
  readonly code: HostErrorCode;
  constructor(code: HostErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SandboxError";
    this.code = code;
  }
}

/** The host's disk is full: SQLite's SQLITE_FULL, a write's ENOSPC, or a tool (qemu-img, QEMU) saying so. */
export function isDiskFull(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return code === "ENOSPC" || code === "SQLITE_FULL" || /no space left on device/i.test(err.message);
}

/** A full disk is a lack of capacity (try another host, or later), not a fault of the host. */
export const codeOf = (err: unknown): HostErrorCode =>
  err instanceof SandboxError ? err.code : isDiskFull(err) ? "no_capacity" : "host_error";
