import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { AccessCache, OrgAccess } from "../auth/access-cache.js";
import { type Principal, requirePrincipal } from "../auth/principal.js";
import { atLeast } from "../auth/roles.js";
import type { DB, Role } from "../db/schema.js";
import { AppError, notFound } from "../http/errors.js";

/** An org the caller may act in, with the caller's effective role there. */
export interface OrgScope {
  orgId: string;
  slug: string;
  name: string;
  ownerId: string;
  role: Role;
  principal: Principal;
}

/**
 * Resolves `{slug}` for the caller in one query that joins membership (or the API key's org), so an
 * org the caller does not belong to is indistinguishable from one that does not exist: 404 either way.
 */
export async function orgScope(
  ctx: { db: Kysely<DB>; access: AccessCache },
  request: FastifyRequest,
  slug: string,
  minimum: Role,
): Promise<OrgScope> {
  const principal = requirePrincipal(request);
  const org = ctx.access.org(principal, slug) ?? (await lookUp(ctx, principal, slug));
  const role = principal.kind === "api_key" ? principal.role : org.memberRole;
  if (!atLeast(role, minimum)) throw new AppError("forbidden", `this action requires the ${minimum} role or higher`);
  return { orgId: org.orgId, slug: org.slug, name: org.name, ownerId: org.ownerId, role, principal };
}

async function lookUp(
  ctx: { db: Kysely<DB>; access: AccessCache },
  principal: Principal,
  slug: string,
): Promise<OrgAccess> {
  let query = ctx.db
    .selectFrom("orgs as o")
    .innerJoin("org_members as m", "m.org_id", "o.id")
    .select(["o.id", "o.slug", "o.name", "o.owner_id", "m.role"])
    .where("o.slug", "=", slug)
    .where("o.deleted_at", "is", null)
    .where("m.user_id", "=", principal.userId);
  if (principal.kind === "api_key") query = query.where("o.id", "=", principal.orgId);
  const row = await query.executeTakeFirst();
  if (!row) throw notFound("organization");
  const org = { orgId: row.id, slug: row.slug, name: row.name, ownerId: row.owner_id, memberRole: row.role };
  ctx.access.rememberOrg(principal, slug, org);
  return org;
}

export function requireRole(scope: OrgScope, minimum: Role): void {
  if (!atLeast(scope.role, minimum))
    throw new AppError("forbidden", `this action requires the ${minimum} role or higher`);
}
