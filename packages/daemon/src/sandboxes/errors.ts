/** Stable reasons a sandbox operation fails; they travel to the control plane as ErrorReport codes. */
export type SandboxErrorCode =
  | "not_found"
  | "invalid_argument"
  | "invalid_state"
  | "no_capacity"
  | "unavailable"
  | "refused"
  | "host_error";

export class SandboxError extends Error {
  readonly code: SandboxErrorCode;
  constructor(code: SandboxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SandboxError";
    this.code = code;
  }
}

export const codeOf = (err: unknown): SandboxErrorCode => (err instanceof SandboxError ? err.code : "host_error");
