import { type ErrorCode, errorCodes, errorStatus, isErrorCode } from "@fluid/proto";

export type { ErrorCode };
export { errorCodes };

/** A failed API call: the server's stable error code and message, plus the HTTP status. */
export class FluidError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  constructor(status: number, code: ErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
  }
}

/** The request is malformed, too large or of the wrong media type: sending it again will not help. */
export class InvalidRequestError extends FluidError {}
/** No credentials, or ones the server does not accept. */
export class AuthenticationError extends FluidError {}
/** The caller may not do this (including a host refusing a command its policy forbids). */
export class PermissionError extends FluidError {}
export class NotFoundError extends FluidError {}
/** The resource exists but its state does not allow the call (already exists, not running, …). */
export class ConflictError extends FluidError {}
export class RateLimitError extends FluidError {
  /** Seconds to wait before trying again, from the Retry-After header when the server sent one. */
  readonly retryAfter: number | undefined;
  constructor(status: number, code: ErrorCode, message: string, retryAfter?: number) {
    super(status, code, message);
    this.retryAfter = retryAfter;
  }
}
/**
 * The organization is at one of its quotas (live sandboxes, vCPUs, memory or snapshot storage); the
 * message names the limit, what is in use and what was asked. Ending or stopping sandboxes frees room.
 */
export class QuotaExceededError extends FluidError {}
/** The server or its host gave up waiting (for the request, or for a command). */
export class TimeoutError extends FluidError {}
/** No connected host can take the call right now; trying later may succeed. */
export class HostUnavailableError extends FluidError {}
/** The control plane itself cannot serve the call right now (its database is unreachable); retry shortly. */
export class ServiceUnavailableError extends FluidError {}
/** The hosts are connected but have no room for the sandbox. */
export class NoCapacityError extends FluidError {}

/** The error class for a code and status; `retryAfter` only matters for rate_limited. */
export function fluidError(status: number, code: ErrorCode, message: string, retryAfter?: number): FluidError {
  switch (code) {
    case "invalid_request":
    case "payload_too_large":
    case "unsupported_media_type":
      return new InvalidRequestError(status, code, message);
    case "unauthenticated":
      return new AuthenticationError(status, code, message);
    case "forbidden":
    case "command_refused":
      return new PermissionError(status, code, message);
    case "not_found":
      return new NotFoundError(status, code, message);
    case "conflict":
    case "invalid_state":
      return new ConflictError(status, code, message);
    case "rate_limited":
      return new RateLimitError(status, code, message, retryAfter);
    case "quota_exceeded":
      return new QuotaExceededError(status, code, message);
    case "request_timeout":
    case "timeout":
      return new TimeoutError(status, code, message);
    case "host_unavailable":
      return new HostUnavailableError(status, code, message);
    case "no_capacity":
      return new NoCapacityError(status, code, message);
    case "service_unavailable":
      return new ServiceUnavailableError(status, code, message);
    case "internal":
    case "not_implemented":
    case "host_error":
      return new FluidError(status, code, message);
  }
}

/** A response without a code of ours (a proxy's page, say) gets the first code the contract gives its status. */
function codeForStatus(status: number): ErrorCode {
  const exact = errorCodes.find((code) => errorStatus[code] === status);
  if (exact) return exact;
  return status >= 500 ? "internal" : "invalid_request";
}

/** Retry-After as seconds: either a number of seconds or an HTTP date. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The typed error for a failed response and its parsed `{"error":{"code","message"}}` body, if any. */
export function errorFromResponse(response: Response, body: unknown): FluidError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = isErrorCode(error?.code) ? error.code : codeForStatus(response.status);
  const message =
    typeof error?.message === "string" ? error.message : `${response.status} ${response.statusText}`.trimEnd();
  return fluidError(response.status, code, message, parseRetryAfter(response.headers.get("retry-after")));
}
