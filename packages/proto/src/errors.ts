/**
 * The error contract: every failure a client of fluid can see (REST, the daemon's local API, a host's
 * ErrorReport) carries one of these codes, and each code has exactly one HTTP status.
 * Messages must be safe to show (no SQL, stack traces, host internals).
 */
export const errorStatus = {
  invalid_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  command_refused: 403,
  not_found: 404,
  conflict: 409,
  invalid_state: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  request_timeout: 408,
  rate_limited: 429,
  /** An organization's quota (live sandboxes, vCPUs, memory, snapshot storage) would be exceeded. */
  quota_exceeded: 429,
  internal: 500,
  not_implemented: 501,
  host_error: 502,
  no_capacity: 503,
  host_unavailable: 503,
  service_unavailable: 503,
  timeout: 504,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export const errorCodes = Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(errorStatus, value);
}

/** The codes a host answers a command with (ErrorReport.code); anything else from a host reads as host_error. */
export const hostErrorCodes = [
  "not_found",
  "invalid_request",
  "invalid_state",
  "no_capacity",
  "host_unavailable",
  "command_refused",
  "host_error",
] as const satisfies readonly ErrorCode[];

export type HostErrorCode = (typeof hostErrorCodes)[number];

/** Names daemons sent before the codes were shared; still decoded so an older daemon keeps working. */
const legacyHostCodes: Readonly<Record<string, HostErrorCode>> = {
  invalid_argument: "invalid_request",
  unavailable: "host_unavailable",
  refused: "command_refused",
};

/** Reads ErrorReport.code from any daemon version. */
export function decodeHostCode(wire: string): HostErrorCode {
  if ((hostErrorCodes as readonly string[]).includes(wire)) return wire as HostErrorCode;
  return Object.hasOwn(legacyHostCodes, wire) ? (legacyHostCodes[wire] as HostErrorCode) : "host_error";
}
