/** SQLSTATE classes and codes that mean "PostgreSQL cannot be reached or is going away", not a bad query. */
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);
const CONNECTION_EXCEPTION_CLASS = "08";
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EPIPE"]);
/** What node-postgres says when a connection dies or the pool cannot open one; it sets no code for these. */
const POOL_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error/,
];

/**
 * True when a query failed because the database is unreachable (restarting, refusing connections,
 * a dropped link): the request may succeed when retried, and the server itself needs no restart.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && code.startsWith(CONNECTION_EXCEPTION_CLASS)) return true;
  }
  if (err instanceof AggregateError && err.errors.some(isDatabaseUnavailable)) return true;
  return POOL_MESSAGES.some((pattern) => pattern.test(err.message));
}

/**
 * What a log line needs of a database error: node-postgres attaches the whole client (its connection
 * parameters, buffers, type tables: kilobytes per line) to errors of pooled connections.
 */
export function databaseErrorFields(err: Error): { message: string; code?: string } {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? { message: err.message, code } : { message: err.message };
}
