import { Code, ConnectError } from "@connectrpc/connect";
import { decodeHostCode, type HostErrorCode } from "@fluid/proto";
import { AppError } from "../http/errors.js";

export type CloseReason =
  | "host_disconnected"
  | "host_replaced"
  | "token_revoked"
  | "heartbeat_timeout"
  | "server_shutdown"
  | "org_deleted"
  | "protocol_error"
  | "database_unavailable";

const closeMessages: Record<CloseReason, string> = {
  host_disconnected: "host disconnected",
  host_replaced: "host reconnected on a newer stream",
  token_revoked: "host token was revoked",
  heartbeat_timeout: "host missed its heartbeats",
  server_shutdown: "control plane is shutting down",
  org_deleted: "organization deleted",
  protocol_error: "host broke the stream protocol",
  database_unavailable: "this control-plane replica lost its database; connect to another replica",
};

/** Why a host stream ended; in-flight commands on it fail with this. */
export class StreamClosedError extends Error {
  readonly reason: CloseReason;
  constructor(reason: CloseReason, detail?: string) {
    super(detail ? `${closeMessages[reason]}: ${detail}` : closeMessages[reason]);
    this.name = "StreamClosedError";
    this.reason = reason;
  }

  /** The status the daemon sees when the server ends its stream for this reason. */
  toConnectError(): ConnectError {
    const code =
      this.reason === "token_revoked" || this.reason === "org_deleted"
        ? Code.Unauthenticated
        : this.reason === "host_replaced"
          ? Code.Aborted
          : this.reason === "protocol_error"
            ? Code.InvalidArgument
            : Code.Unavailable;
    return new ConnectError(this.message, code);
  }
}

/** A host answered a command with an ErrorReport (or a reply the server cannot use). */
export class HostCommandError extends Error {
  readonly hostCode: HostErrorCode;
  /** `wireCode` is ErrorReport.code as any daemon version sends it; unknown codes read as host_error. */
  constructor(wireCode: string, message: string) {
    super(message);
    this.name = "HostCommandError";
    this.hostCode = decodeHostCode(wireCode);
  }
}

export class CommandTimeoutError extends Error {
  constructor(command: string, timeoutMs: number) {
    super(`host did not answer ${command} within ${Math.round(timeoutMs / 1000)}s`);
    this.name = "CommandTimeoutError";
  }
}

/** Maps a failed host command to the error a REST caller sees. */
export function toAppError(err: unknown, action: string): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof StreamClosedError)
    return new AppError("host_unavailable", `${action} failed: ${err.message}`, { cause: err });
  if (err instanceof CommandTimeoutError)
    return new AppError("timeout", `${action} failed: ${err.message}`, { cause: err });
  if (err instanceof HostCommandError) {
    return new AppError(err.hostCode, `${action} failed on the host: ${err.message.slice(0, 500)}`, { cause: err });
  }
  return new AppError("internal", `${action} failed`, { cause: err });
}
