import type { FastifyRequest } from "fastify";
import { type Kysely, sql } from "kysely";
import type { DB } from "../db/schema.js";
import { AppError } from "../http/errors.js";

export interface RateRule {
  name: string;
  limit: number;
  windowMs: number;
}

/** Budgets on the routes attackers hammer; most are per client IP. */
export const rateRules = {
  register: { name: "register", limit: 5, windowMs: 10 * 60_000 },
  login: { name: "login", limit: 10, windowMs: 60_000 },
  /**
   * Failed passwords per account *and* client IP: a budget per account alone would let anyone lock
   * its owner out by failing on purpose from elsewhere.
   */
  loginFailures: { name: "login-failures", limit: 20, windowMs: 15 * 60_000 },
  oauth: { name: "oauth", limit: 20, windowMs: 60_000 },
  /** Invitations created per inviting person, across all their orgs. */
  invite: { name: "invite", limit: 50, windowMs: 60 * 60_000 },
} satisfies Record<string, RateRule>;

export interface RateVerdict {
  allowed: boolean;
  count: number;
  retryAfterS: number;
}

function retryAfterS(rule: RateRule, windowStart: Date): number {
  const resetAt = new Date(windowStart).getTime() + rule.windowMs;
  return Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
}

/**
 * Counts one hit in a fixed window stored in the database, so every replica shares the budget.
 * A single upsert keeps the count atomic under concurrency.
 */
export async function hit(db: Kysely<DB>, rule: RateRule, subject: string): Promise<RateVerdict> {
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
  if (!current || current.count <= rule.limit) return { allowed: true, count: current?.count ?? 1, retryAfterS: 0 };
  return { allowed: false, count: current.count, retryAfterS: retryAfterS(rule, current.window_start) };
}

/**
 * Whether the budget still has room, without spending any: for budgets that only failures spend,
 * checked before the attempt and charged (with `hit`) only when it fails.
 */
export async function peek(db: Kysely<DB>, rule: RateRule, subject: string): Promise<RateVerdict> {
  const current = await db
    .selectFrom("rate_limits")
    .select(["count", "window_start"])
    .where("key", "=", `${rule.name}:${subject}`)
    .where("window_start", ">", sql<Date>`now() - ${rule.windowMs} * interval '1 millisecond'`)
    .executeTakeFirst();
  if (!current || current.count < rule.limit) return { allowed: true, count: current?.count ?? 0, retryAfterS: 0 };
  return { allowed: false, count: current.count, retryAfterS: retryAfterS(rule, current.window_start) };
}

export async function forget(db: Kysely<DB>, rule: RateRule, subject: string): Promise<void> {
  await db.deleteFrom("rate_limits").where("key", "=", `${rule.name}:${subject}`).execute();
}

export function rateLimited(retryAfterS: number): AppError {
  return new AppError("rate_limited", "too many requests; try again later", {
    headers: { "retry-after": String(retryAfterS) },
  });
}

export async function enforce(db: Kysely<DB>, rule: RateRule, subject: string): Promise<void> {
  const result = await hit(db, rule, subject);
  if (!result.allowed) throw rateLimited(result.retryAfterS);
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
