import pino, { type Logger } from "pino";

export type { Logger };

/** Paths pino must never write: credentials travel in these headers. */
const redactPaths = [
  "req.headers.authorization",
  "req.headers.cookie",
  'res.headers["set-cookie"]',
  "*.password",
  "*.token",
  "*.key",
];

export function createLogger(options: { level: string }, destination?: pino.DestinationStream): Logger {
  const base: pino.LoggerOptions = {
    level: options.level,
    redact: { paths: redactPaths, censor: "[redacted]" },
    base: { service: "fluid-server" },
  };
  return destination ? pino(base, destination) : pino(base);
}

/** A database URL safe to log: the password (and any query secrets) replaced. */
export function redactDatabaseUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = "***";
    for (const key of [...url.searchParams.keys()]) {
      if (/pass|secret|key|token/i.test(key)) url.searchParams.set(key, "***");
    }
    return url.toString();
  } catch {
    return "<unparseable database URL>";
  }
}
