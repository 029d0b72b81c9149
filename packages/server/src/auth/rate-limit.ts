import type { FastifyRequest } from "fastify";
import { type Kysely, sql } from "kysely";
import type { DB } from "../db/schema.js";
import { AppError } from "../http/errors.js";

export interface RateRule {
  name: string;
  limit: number;
  windowMs: number;
}

/** Per-client-IP budgets on the routes attackers hammer. */
export const rateRules = {
  register: { name: "register", limit: 5, windowMs: 10 * 60_000 },
  login: { name: "login", limit: 10, windowMs: 60_000 },
  loginAccount: { name: "login-account", limit: 20, windowMs: 15 * 60_000 },
  oauth: { name: "oauth", limit: 20, windowMs: 60_000 },
} satisfies Record<string, RateRule>;

/**
 * Counts one hit in a fixed window stored in the database, so every replica shares the budget.
 * A single upsert keeps the count atomic under concurrency.
 */
export async function hit(
  db: Kysely<DB>,
  rule: RateRule,
  subject: string,
): Promise<{ allowed: boolean; retryAfterS: number }> {
  const key = `${rule.name}:${subject}`;
  const row = await sql<{ count: number; window_start: Date }>`
    INSERT INTO rate_limits (key, window_start, count) VALUES (${key}, now(), 1)
    ON CONFLICT (key) DO UPDATE SET
      count = CASE WHEN rate_limits.window_start <= now() - ${rule.windowMs} * interval '1 millisecond'
                   THEN 1 ELSE rate_limits.count + 1 END,
      window_start = CASE WHEN rate_limits.window_start <= now() - ${rule.windowMs} * interval '1 millisecond'
                   THEN now() ELSE rate_limits.window_start END
    RETURNING count, window_start`.execute(db);
  const current = row.rows[0];
  if (!current || current.count <= rule.limit) return { allowed: true, retryAfterS: 0 };
  const resetAt = new Date(current.window_start).getTime() + rule.windowMs;
  return { allowed: false, retryAfterS: Math.max(1, Math.ceil((resetAt - Date.now()) / 1000)) };
}

export async function enforce(db: Kysely<DB>, rule: RateRule, subject: string): Promise<void> {
  const result = await hit(db, rule, subject);
  if (!result.allowed) {
    throw new AppError("rate_limited", "too many requests; try again later", {
      headers: { "retry-after": String(result.retryAfterS) },
    });
  }
}

/** A preHandler charging the caller's IP (request.ip honours X-Forwarded-For only from trusted proxies). */
export function rateLimitByIp(db: Kysely<DB>, rule: RateRule) {
  return async (request: FastifyRequest) => enforce(db, rule, request.ip);
}

export async function purgeStaleRateLimits(db: Kysely<DB>, olderThanMs: number): Promise<void> {
  await db
    .deleteFrom("rate_limits")
    .where("window_start", "<", new Date(Date.now() - olderThanMs))
    .execute();
}
