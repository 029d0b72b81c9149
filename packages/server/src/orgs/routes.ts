import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { z } from "zod";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { AccessCache } from "../auth/access-cache.js";
import { requirePrincipal, requireUserSession } from "../auth/principal.js";
import { roles } from "../auth/roles.js";
import type { DB, Org, Role } from "../db/schema.js";
import { conflict } from "../http/errors.js";
import {
  errorResponses,
  FreeText,
  iso,
  OrgParams,
  Slug,
  Status,
  securityAny,
  securityCookie,
  Timestamp,
} from "../http/schemas.js";
import type { App } from "../http/types.js";
import { newId } from "../lib/ids.js";
import { orgScope } from "./access.js";

export const OrgSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string(),
    owner_id: z.uuid(),
    allow_self_approval: z.boolean(),
    role: z.enum(roles).describe("the caller's role in this organization"),
    created_at: Timestamp,
  })
  .meta({ id: "Organization" });

function orgView(org: Org, role: Role): z.infer<typeof OrgSchema> {
  return {
    id: org.id,
    name: org.name,
    slug: org.slug,
    owner_id: org.owner_id,
    allow_self_approval: org.allow_self_approval,
    role,
    created_at: iso(org.created_at),
  };
}

const CreateOrgBody = z.strictObject({
  name: FreeText.trim().min(1).max(100),
  slug: Slug.optional(),
});

const UpdateOrgBody = z.strictObject({
  name: FreeText.trim().min(1).max(100).optional(),
  allow_self_approval: z.boolean().optional(),
});

function slugFrom(name: string): string {
  const base = name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  return base.length >= 3 ? base : `org-${base || randomBytes(2).toString("hex")}`.slice(0, 40);
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === "23505";

export function orgRoutes(
  app: App,
  ctx: { db: Kysely<DB>; access: AccessCache; hosts: { closeOrg(orgId: string, detail: string): void } },
): void {
  const { db } = ctx;

  app.post(
    "/v1/orgs",
    {
      schema: {
        operationId: "createOrg",
        tags: ["orgs"],
        summary: "Create an organization (the caller becomes its owner)",
        security: securityCookie,
        body: CreateOrgBody,
        response: { 201: OrgSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = requireUserSession(request);
      const { name, slug: wanted } = request.body;
      const candidates = wanted
        ? [wanted]
        : [slugFrom(name), ...Array.from({ length: 3 }, () => `${slugFrom(name)}-${randomBytes(2).toString("hex")}`)];
      for (const slug of candidates) {
        try {
          const org = await db.transaction().execute(async (tx) => {
            const created = await tx
              .insertInto("orgs")
              .values({ id: newId(), name, slug, owner_id: principal.userId })
              .returningAll()
              .executeTakeFirstOrThrow();
            await tx
              .insertInto("org_members")
              .values({ id: newId(), org_id: created.id, user_id: principal.userId, role: "owner" })
              .execute();
            await appendAuditEvent(tx, {
              orgId: created.id,
              actor: auditActorOf(principal),
              action: "org.created",
              target: { type: "org", id: created.id },
              details: { name, slug },
            });
            return created;
          });
          return reply.code(201).send(orgView(org, "owner"));
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
        }
      }
      throw conflict(wanted ? "organization slug already taken" : "could not find a free slug; pass one explicitly");
    },
  );

  app.get(
    "/v1/orgs",
    {
      schema: {
        operationId: "listOrgs",
        tags: ["orgs"],
        summary: "Organizations the caller belongs to",
        security: securityAny,
        response: { 200: z.object({ organizations: z.array(OrgSchema), total: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      let query = db
        .selectFrom("orgs as o")
        .innerJoin("org_members as m", "m.org_id", "o.id")
        .selectAll("o")
        .select("m.role as member_role")
        .where("m.user_id", "=", principal.userId)
        .where("o.deleted_at", "is", null)
        .orderBy("o.created_at", "asc");
      if (principal.kind === "api_key") query = query.where("o.id", "=", principal.orgId);
      const rows = await query.execute();
      const organizations = rows.map(({ member_role, ...org }) =>
        orgView(org, principal.kind === "api_key" ? principal.role : member_role),
      );
      return { organizations, total: organizations.length };
    },
  );

  app.get(
    "/v1/orgs/:slug",
    {
      schema: {
        operationId: "getOrg",
        tags: ["orgs"],
        summary: "One organization",
        security: securityAny,
        params: OrgParams,
        response: { 200: OrgSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const org = await db.selectFrom("orgs").selectAll().where("id", "=", scope.orgId).executeTakeFirstOrThrow();
      return orgView(org, scope.role);
    },
  );

  app.patch(
    "/v1/orgs/:slug",
    {
      schema: {
        operationId: "updateOrg",
        tags: ["orgs"],
        summary: "Rename an organization or change its policies (admin; self-approval: owner)",
        security: securityAny,
        params: OrgParams,
        body: UpdateOrgBody,
        response: { 200: OrgSchema, ...errorResponses },
      },
    },
    async (request) => {
      const needsOwner = request.body.allow_self_approval !== undefined;
      const scope = await orgScope(ctx, request, request.params.slug, needsOwner ? "owner" : "admin");
      const org = await db.transaction().execute(async (tx) => {
        const updated = await tx
          .updateTable("orgs")
          .set({ ...request.body, updated_at: new Date() })
          .where("id", "=", scope.orgId)
          .returningAll()
          .executeTakeFirstOrThrow();
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: "org.updated",
          target: { type: "org", id: scope.orgId },
          details: { ...request.body },
        });
        return updated;
      });
      ctx.access.invalidate();
      return orgView(org, scope.role);
    },
  );

  app.delete(
    "/v1/orgs/:slug",
    {
      schema: {
        operationId: "deleteOrg",
        tags: ["orgs"],
        summary: "Delete an organization (owner; it must have no live sandboxes)",
        security: securityAny,
        params: OrgParams,
        response: { 200: Status, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "owner");
      const live = await db
        .selectFrom("sandboxes")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .where("org_id", "=", scope.orgId)
        .where("ended_at", "is", null)
        .executeTakeFirstOrThrow();
      if (Number(live.n) > 0) throw conflict("destroy the organization's sandboxes first");
      await db.transaction().execute(async (tx) => {
        const now = new Date();
        await tx.updateTable("orgs").set({ deleted_at: now, updated_at: now }).where("id", "=", scope.orgId).execute();
        await tx
          .updateTable("api_keys")
          .set({ revoked_at: now })
          .where("org_id", "=", scope.orgId)
          .where("revoked_at", "is", null)
          .execute();
        await tx
          .updateTable("host_tokens")
          .set({ revoked_at: now })
          .where("org_id", "=", scope.orgId)
          .where("revoked_at", "is", null)
          .execute();
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: "org.deleted",
          target: { type: "org", id: scope.orgId },
          details: { slug: scope.slug },
        });
      });
      ctx.access.invalidate();
      ctx.hosts.closeOrg(scope.orgId, "organization deleted");
      return { status: "deleted" };
    },
  );
}
