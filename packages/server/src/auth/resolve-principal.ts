import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { DB } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import { hashSecret, parseBearer } from "../lib/secrets.js";
import type { AccessCache } from "./access-cache.js";
import { API_KEY_PREFIX, type Principal } from "./principal.js";
import { weaker } from "./roles.js";
import { findSession, SESSION_COOKIE } from "./sessions.js";

/**
 * Resolves the caller from `Authorization: Bearer fl_…` or the session cookie. A key's role is
 * capped by its creator's current membership, so removing the creator from the org (or deleting
 * their account) disables it.
 */
export async function resolvePrincipal(
  db: Kysely<DB>,
  cache: AccessCache,
  request: FastifyRequest,
): Promise<Principal | undefined> {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const bearer = parseBearer(authorization);
    if (!bearer?.startsWith(API_KEY_PREFIX)) {
      throw new AppError("unauthenticated", "Authorization must be `Bearer fl_…` with an API key");
    }
    return principalForApiKey(db, cache, bearer);
  }
  const token = request.cookies[SESSION_COOKIE];
  if (!token) return undefined;
  const session = await findSession(db, token);
  return session ? { kind: "user", userId: session.user.id, sessionId: session.sessionId } : undefined;
}

/** Verifies an API key (`fl_…`) and answers the principal it acts as; every entry point that takes keys uses this. */
export async function principalForApiKey(db: Kysely<DB>, cache: AccessCache, bearer: string): Promise<Principal> {
  if (!bearer.startsWith(API_KEY_PREFIX))
    throw new AppError("unauthenticated", "the API key must be a fluid key (fl_…)");
  const keyHash = hashSecret(bearer);
  const cached = cache.principal(keyHash);
  if (cached) return cached;
  const now = new Date();
  const key = await db
    .selectFrom("api_keys as k")
    .innerJoin("org_members as m", (join) =>
      join.onRef("m.org_id", "=", "k.org_id").onRef("m.user_id", "=", "k.created_by"),
    )
    .innerJoin("orgs as o", "o.id", "k.org_id")
    .innerJoin("users as u", "u.id", "k.created_by")
    .select([
      "k.id",
      "k.org_id",
      "k.created_by",
      "k.role as key_role",
      "k.expires_at",
      "k.last_used_at",
      "m.role as member_role",
    ])
    .where("k.key_hash", "=", keyHash)
    .where("k.revoked_at", "is", null)
    .where((eb) => eb.or([eb("k.expires_at", "is", null), eb("k.expires_at", ">", now)]))
    .where("o.deleted_at", "is", null)
    .where("u.deleted_at", "is", null)
    .executeTakeFirst();
  if (!key) throw new AppError("unauthenticated", "API key is invalid, expired or revoked");
  // Recorded at most once a minute: a write on every request would cap API throughput for no insight.
  if (!key.last_used_at || now.getTime() - key.last_used_at.getTime() > 60_000) {
    await db.updateTable("api_keys").set({ last_used_at: now }).where("id", "=", key.id).execute();
  }
  const principal = {
    kind: "api_key" as const,
    userId: key.created_by,
    keyId: key.id,
    orgId: key.org_id,
    role: weaker(key.key_role, key.member_role),
  };
  cache.rememberPrincipal(keyHash, principal, key.expires_at);
  return principal;
}
