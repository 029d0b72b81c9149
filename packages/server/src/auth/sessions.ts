import type { FastifyReply } from "fastify";
import type { Kysely } from "kysely";
import type { DB, User } from "../db/schema.js";
import { newId } from "../lib/ids.js";
import { hashSecret, newSecret } from "../lib/secrets.js";

export const SESSION_COOKIE = "fluid_session";

export interface CookiePolicy {
  secure: boolean;
  ttlMs: number;
}

/** Creates a session; only SHA-256(token) is stored, the raw token goes to the browser once. */
export async function createSession(
  db: Kysely<DB>,
  userId: string,
  client: { ip: string; userAgent: string | undefined },
  ttlMs: number,
): Promise<{ token: string; expiresAt: Date }> {
  const token = newSecret("fls_");
  const expiresAt = new Date(Date.now() + ttlMs);
  await db
    .insertInto("sessions")
    .values({
      id: newId(),
      token_hash: hashSecret(token),
      user_id: userId,
      ip_address: client.ip,
      user_agent: client.userAgent?.slice(0, 512) ?? null,
      expires_at: expiresAt,
    })
    .execute();
  return { token, expiresAt };
}

/** The live, unexpired session for a token and its (not deleted) user. */
export async function findSession(
  db: Kysely<DB>,
  token: string,
): Promise<{ sessionId: string; user: User } | undefined> {
  const row = await db
    .selectFrom("sessions")
    .innerJoin("users", "users.id", "sessions.user_id")
    .selectAll("users")
    .select("sessions.id as session_id")
    .where("sessions.token_hash", "=", hashSecret(token))
    .where("sessions.expires_at", ">", new Date())
    .where("users.deleted_at", "is", null)
    .executeTakeFirst();
  if (!row) return undefined;
  const { session_id, ...user } = row;
  return { sessionId: session_id, user };
}

/** Deletes one session; false when there was none (already logged out or expired and purged). */
export async function deleteSession(db: Kysely<DB>, sessionId: string): Promise<boolean> {
  const result = await db.deleteFrom("sessions").where("id", "=", sessionId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function purgeExpiredSessions(db: Kysely<DB>): Promise<number> {
  const result = await db.deleteFrom("sessions").where("expires_at", "<=", new Date()).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export function setSessionCookie(reply: FastifyReply, token: string, policy: CookiePolicy): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: "/",
    httpOnly: true,
    // Lax (not Strict) so links into the dashboard keep the user signed in; cross-site writes are
    // refused separately by the Origin check.
    sameSite: "lax",
    secure: policy.secure,
    maxAge: Math.floor(policy.ttlMs / 1000),
  });
}

export function clearSessionCookie(reply: FastifyReply, policy: CookiePolicy): void {
  reply.clearCookie(SESSION_COOKIE, { path: "/", httpOnly: true, sameSite: "lax", secure: policy.secure });
}
