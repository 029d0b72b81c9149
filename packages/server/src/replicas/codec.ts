import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ControlMessageSchema, type HostMessage, HostMessageSchema, isErrorCode } from "@fluid/proto";
import { AppError } from "../http/errors.js";
import { type CloseReason, CommandTimeoutError, HostCommandError, StreamClosedError } from "../stream/errors.js";
import type { Command } from "../stream/host-session.js";

/**
 * How a host command and its outcome are stored in `host_commands`: the command and the reply as
 * protobuf bytes, a failure as `error_code` + `error_message` where the code names the error's kind
 * (`host:<code>`, `closed:<reason>`, `timeout`, `app:<code>`) so the requester rethrows what a local
 * request would have thrown.
 */
export function encodeCommand(command: Command): Buffer {
  return Buffer.from(toBinary(ControlMessageSchema, create(ControlMessageSchema, { payload: command })));
}

export function decodeCommand(bytes: Uint8Array): Command {
  const payload = fromBinary(ControlMessageSchema, bytes).payload;
  if (payload.case === undefined || payload.case === "registrationAck") {
    throw new AppError("internal", `stored host command has no sendable payload (${payload.case ?? "empty"})`);
  }
  return payload;
}

export function encodeReply(reply: HostMessage): Buffer {
  return Buffer.from(toBinary(HostMessageSchema, reply));
}

export function decodeReply(bytes: Uint8Array): HostMessage {
  return fromBinary(HostMessageSchema, bytes);
}

export interface StoredFailure {
  code: string;
  message: string;
}

const closeReasons = new Set<CloseReason>([
  "host_disconnected",
  "host_replaced",
  "token_revoked",
  "heartbeat_timeout",
  "server_shutdown",
  "org_deleted",
  "protocol_error",
]);

export function encodeFailure(err: unknown): StoredFailure {
  const message = (err instanceof Error ? err.message : String(err)).slice(0, 2000);
  if (err instanceof HostCommandError) return { code: `host:${err.hostCode}`, message };
  if (err instanceof StreamClosedError) return { code: `closed:${err.reason}`, message };
  if (err instanceof CommandTimeoutError) return { code: "timeout", message };
  if (err instanceof AppError) return { code: `app:${err.code}`, message };
  return { code: "app:internal", message: "the owning replica failed to send the command" };
}

/** The error a local request would have thrown; `command` and `timeoutMs` rebuild a timeout's message. */
export function decodeFailure(stored: StoredFailure, command: string, timeoutMs: number): Error {
  const [kind, code = ""] = stored.code.split(":", 2);
  if (kind === "host") return new HostCommandError(code, stored.message);
  if (kind === "closed" && closeReasons.has(code as CloseReason)) return new StreamClosedError(code as CloseReason);
  if (kind === "timeout") return new CommandTimeoutError(command, timeoutMs);
  if (kind === "app" && isErrorCode(code)) return new AppError(code, stored.message);
  return new AppError("internal", stored.message);
}
