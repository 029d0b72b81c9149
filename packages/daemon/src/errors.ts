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

export const codeOf = (err: unknown): HostErrorCode => (err instanceof SandboxError ? err.code : "host_error");
