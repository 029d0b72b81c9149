import type { HostErrorCode } from "@fluid/proto";

/**
 * Why a source-VM operation failed (SSH-level failures are SshError instead):
 * - `invalid_request`: a VM name, disk target or option fluid refuses to use;
 * - `not_found`: no such domain on the host;
 * - `invalid_state`: the domain is not in a state the operation needs (e.g. not running);
 * - `unsupported`: the VM's setup is outside what fluid can pull (network disks, LVM roots, …);
 * - `disk_chain_changed`: after a pull the VM's disks are not the ones recorded before it;
 * - `commit_failed`: a temporary overlay could not be merged back and is still active on the host;
 * - `host_error`: anything else on the daemon's side (disk full, a local tool failing).
 */
export type SourceErrorKind =
  | "invalid_request"
  | "not_found"
  | "invalid_state"
  | "unsupported"
  | "disk_chain_changed"
  | "commit_failed"
  | "host_error";

export class SourceError extends Error {
  readonly kind: SourceErrorKind;

  constructor(kind: SourceErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SourceError";
    this.kind = kind;
  }

  /** The shared code the control plane sees: fluid's own limits are the request's fault, the rest the host's. */
  get code(): HostErrorCode {
    switch (this.kind) {
      case "invalid_request":
      case "unsupported":
        return "invalid_request";
      case "not_found":
      case "invalid_state":
        return this.kind;
      default:
        return "host_error";
    }
  }
}
