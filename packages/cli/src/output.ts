import type { ErrorCode } from "@fluid/sdk";

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** Something failed (server error, host error, timeout). */
  failure: 1,
  /** Bad arguments or a request the server rejected as invalid or conflicting. */
  usage: 2,
  /** Not logged in, or not allowed. */
  auth: 3,
  /** The thing named does not exist (or belongs to another org). */
  notFound: 4,
} as const;

/** What `--json` reports for a failure the CLI finds itself: a shared code, or one only the CLI has. */
export type CliErrorCode =
  | ErrorCode
  | "invalid_config"
  | "unreachable"
  | "local_error"
  | "create_failed"
  | "not_a_terminal"
  | "interrupted"
  | "agent_not_configured"
  | "llm_timeout"
  | "llm_unreachable"
  | "llm_error";

/**
 * The exit status for every code a failure can carry, the server's and the CLI's own: one table, so a
 * script sees the same status for the same failure whichever side found it.
 */
const exitCodes: Readonly<Record<CliErrorCode, number>> = {
  invalid_request: EXIT.usage,
  conflict: EXIT.usage,
  invalid_state: EXIT.usage,
  unsupported_media_type: EXIT.usage,
  not_a_terminal: EXIT.usage,
  agent_not_configured: EXIT.usage,
  unauthenticated: EXIT.auth,
  forbidden: EXIT.auth,
  command_refused: EXIT.auth,
  invalid_config: EXIT.auth,
  not_found: EXIT.notFound,
  // Over a size limit on either side (an upload the server refuses, a download it truncates): nothing to retry as is.
  payload_too_large: EXIT.failure,
  request_timeout: EXIT.failure,
  rate_limited: EXIT.failure,
  quota_exceeded: EXIT.failure,
  internal: EXIT.failure,
  not_implemented: EXIT.failure,
  host_error: EXIT.failure,
  no_capacity: EXIT.failure,
  host_unavailable: EXIT.failure,
  service_unavailable: EXIT.failure,
  timeout: EXIT.failure,
  unreachable: EXIT.failure,
  local_error: EXIT.failure,
  create_failed: EXIT.failure,
  interrupted: EXIT.failure,
  llm_timeout: EXIT.failure,
  llm_unreachable: EXIT.failure,
  llm_error: EXIT.failure,
};

/** The exit status for a failure's code; a code this CLI does not know (a newer server's) is a failure. */
export function exitCodeOf(code: string): number {
  return Object.hasOwn(exitCodes, code) ? exitCodes[code as CliErrorCode] : EXIT.failure;
}

/**
 * A failure the CLI detects itself (bad argument, missing login, unreachable server, local file):
 * main prints the message and exits with the status for `code`, which is also what `--json` reports.
 */
export class CliError extends Error {
  readonly code: CliErrorCode;
  constructor(message: string, options: { code?: CliErrorCode } = {}) {
    super(message);
    this.name = "CliError";
    this.code = options.code ?? "invalid_request";
  }

  get exitCode(): number {
    return exitCodeOf(this.code);
  }
}

/** A plain table: one header row, columns padded to their widest cell. */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = [
    headers,
    ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? "-" : String(cell)))),
  ];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  return `${cells
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

/** One record as aligned `label  value` lines (what `get`-style commands print). */
export function details(pairs: Array<[label: string, value: string | number | null | undefined]>): string {
  const width = Math.max(...pairs.map(([label]) => label.length));
  return pairs
    .map(([label, value]) => `${label.padEnd(width)}  ${value === null || value === undefined ? "-" : value}\n`)
    .join("");
}

/** "45s", "12m", "3h", "2d": the coarsest unit that keeps the number readable. */
export function humanSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s}s`;
  if (s < 120 * 60) return `${Math.round(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** A timestamp relative to now: "in 29m" or "3m ago". */
export function relative(iso: string | null | undefined, now = Date.now()): string | null {
  if (!iso) return null;
  const delta = (Date.parse(iso) - now) / 1000;
  return delta >= 0 ? `in ${humanSeconds(delta)}` : `${humanSeconds(-delta)} ago`;
}

/** A timestamp with its relative form, for detail views: "2025-01-01T10:00:00.000Z (in 29m)". */
export function when(iso: string | null | undefined, now = Date.now()): string | null {
  return iso ? `${iso} (${relative(iso, now)})` : null;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}
