import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { AccessCache } from "../auth/access-cache.js";
import { principalForApiKey } from "../auth/resolve-principal.js";
import type { DB } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import { isUuid } from "../lib/ids.js";
import type { OrgScope } from "../orgs/access.js";

/**
 * The E2B SDK sends its API key as `X-API-KEY` to the REST API and, on envd calls, the sandbox's
 * access token as `X-Access-Token`. fluid hands the caller's own key back as that token, so both
 * are fluid API keys verified the same way, and the key's organization scopes everything.
 */
export const apiKeyHeader = "x-api-key";
export const accessTokenHeader = "x-access-token";
export const sandboxIdHeader = "e2b-sandbox-id";

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The key a request carries in `header`, or an E2B-shaped 401. */
export function keyOf(request: FastifyRequest, header: string): string {
  const key = headerValue(request, header)?.trim();
  if (!key) throw new AppError("unauthenticated", `send a fluid API key (fl_…) as ${header}`);
  return key;
}

export async function e2bScope(
  ctx: { db: Kysely<DB>; access: AccessCache },
  request: FastifyRequest,
  header: string,
): Promise<OrgScope> {
  const principal = await principalForApiKey(ctx.db, ctx.access, keyOf(request, header));
  if (principal.kind !== "api_key") throw new AppError("unauthenticated", "an API key is required");
  const org = await ctx.db
    .selectFrom("orgs")
    .select(["id", "slug", "name", "owner_id"])
    .where("id", "=", principal.orgId)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  if (!org) throw new AppError("unauthenticated", "API key is invalid, expired or revoked");
  return { orgId: org.id, slug: org.slug, name: org.name, ownerId: org.owner_id, role: principal.role, principal };
}

/** The sandbox an envd call is for (`E2b-Sandbox-Id`); an id that cannot exist is simply not found. */
export function sandboxIdOf(request: FastifyRequest): string {
  const id = headerValue(request, sandboxIdHeader)?.trim();
  if (!id) throw new AppError("invalid_request", "envd calls need the E2b-Sandbox-Id header (set E2B_SANDBOX_URL)");
  if (!isUuid(id)) throw new AppError("not_found", "sandbox not found");
  return id;
}
