import type { ErrorCode } from "@fluid/proto";
import { AppError, isAppError } from "../http/errors.js";

/** The E2B REST and envd HTTP error body: the HTTP status repeated as `code`, and a message. */
export interface E2bErrorBody {
  code: number;
  message: string;
}

/** A Connect-RPC error code (the lowercase names of the Connect protocol). */
export type ConnectCode =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "resource_exhausted"
  | "unimplemented"
  | "unavailable"
  | "deadline_exceeded"
  | "internal";

const connectCodes: Record<ErrorCode, ConnectCode> = {
  invalid_request: "invalid_argument",
  unauthenticated: "unauthenticated",
  forbidden: "permission_denied",
  command_refused: "permission_denied",
  not_found: "not_found",
  conflict: "already_exists",
  invalid_state: "failed_precondition",
  payload_too_large: "resource_exhausted",
  unsupported_media_type: "invalid_argument",
  request_timeout: "deadline_exceeded",
  rate_limited: "resource_exhausted",
  quota_exceeded: "resource_exhausted",
  internal: "internal",
  not_implemented: "unimplemented",
  host_error: "internal",
  no_capacity: "unavailable",
  host_unavailable: "unavailable",
  service_unavailable: "unavailable",
  timeout: "deadline_exceeded",
};

/** HTTP statuses of unary Connect errors, as the Connect protocol maps them. */
export const connectStatus: Record<ConnectCode, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 400,
  resource_exhausted: 429,
  unimplemented: 501,
  unavailable: 503,
  deadline_exceeded: 504,
  internal: 500,
};

/** What fluid's E2B-compatible API does not do (yet), answered the same way everywhere. */
export function notSupported(what: string): AppError {
  return new AppError("not_implemented", `${what} is not supported by fluid's E2B-compatible API`);
}

/** A failure as E2B's REST API words it; anything that is not an AppError is an opaque 500. */
export function e2bError(err: unknown): { status: number; body: E2bErrorBody } {
  if (isAppError(err)) return { status: err.status, body: { code: err.status, message: err.message } };
  return { status: 500, body: { code: 500, message: "internal error" } };
}

/** A failure as a Connect error; anything that is not an AppError is an opaque `internal`. */
export function connectError(err: unknown): { code: ConnectCode; message: string } {
  if (isAppError(err)) return { code: connectCodes[err.code], message: err.message };
  return { code: "internal", message: "internal error" };
}
