import type { HostErrorCode } from "@fluid/proto";

/**
 * How a command on a source host failed:
 * - `unreachable`: no SSH connection (refused, timed out, name not resolved, connection dropped);
 * - `auth_failed`: the host refused the key (or certificate);
 * - `host_key_changed`: the host presented a different key than the one pinned for it;
 * - `command_failed`: connected, but the remote command exited non-zero;
 * - `timeout`: the command ran past its time limit (or a copy stalled) and was killed;
 * - `output_too_large`: the command printed more than its cap and was killed;
 * - `invalid_target`: the connection settings themselves are unusable (nothing was run).
 */
export type SshErrorKind =
  | "unreachable"
  | "auth_failed"
  | "host_key_changed"
  | "command_failed"
  | "timeout"
  | "output_too_large"
  | "invalid_target";

export class SshError extends Error {
  readonly kind: SshErrorKind;
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(kind: SshErrorKind, message: string, details: { exitCode?: number | null; stderr?: string } = {}) {
    super(message);
    this.name = "SshError";
    this.kind = kind;
    this.exitCode = details.exitCode ?? null;
    this.stderr = details.stderr ?? "";
  }

  /** The shared code the control plane sees: only a target fluid refuses to use is the request's fault. */
  get code(): HostErrorCode {
    return this.kind === "invalid_target" ? "invalid_request" : "host_error";
  }
}

/** The failure kind an `ssh` exit status 255 with this stderr stands for, if it is a connection failure. */
export function classifySshFailure(stderr: string): SshErrorKind | undefined {
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|host key .* has changed/i.test(stderr)) {
    return "host_key_changed";
  }
  if (/Permission denied \(|Too many authentication failures|Authentication failed|no mutual signature/i.test(stderr)) {
    return "auth_failed";
  }
  if (
    /Connection refused|Connection timed out|timed out during banner|Operation timed out|No route to host|Network is unreachable|Could not resolve hostname|Name or service not known|Temporary failure in name resolution|Connection closed by|Connection reset by|kex_exchange_identification|ssh_exchange_identification|Broken pipe|Control socket connect/i.test(
      stderr,
    )
  ) {
    return "unreachable";
  }
  return undefined;
}

export function lastLines(text: string, count = 3): string {
  return text.trim().split("\n").filter(Boolean).slice(-count).join(" | ");
}

export function failure(code: number | null, stderr: string, argv: readonly string[], where: string): SshError {
  const kind = code === 255 ? classifySshFailure(stderr) : undefined;
  const detail = lastLines(stderr) || `exit ${code}`;
  if (kind) return new SshError(kind, `ssh to ${where}: ${detail}`, { exitCode: code, stderr });
  return new SshError("command_failed", `${argv[0] ?? "command"} on ${where} failed (exit ${code}): ${detail}`, {
    exitCode: code,
    stderr,
  });
}
