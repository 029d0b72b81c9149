import type { Kysely } from "kysely";
import { z } from "zod";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { AccessCache } from "../auth/access-cache.js";
import { atLeast, roles } from "../auth/roles.js";
import type { DB, Role } from "../db/schema.js";
import { AppError, forbidden, invalid, notFound } from "../http/errors.js";
import { errorResponses, iso, OrgParams, Status, securityAny, Timestamp, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "./access.js";

export const MemberSchema = z
  .object({
    id: z.uuid(),
    user_id: z.uuid(),
    email: z.string(),
    display_name: z.string(),
    role: z.enum(roles),
    created_at: Timestamp,
  })
  .meta({ id: "Member" });

/** Roles a membership can be given; the org has exactly one owner, set when it is created. */
export const AssignableRole = z.enum(["admin", "member", "viewer"]);
const MemberParams = z.strictObject({ slug: OrgParams.shape.slug, memberId: Uuid });

export function memberQuery(db: Kysely<DB>, orgId: string) {
  return db
    .selectFrom("org_members as m")
    .innerJoin("users as u", "u.id", "m.user_id")
    .select(["m.id", "m.user_id", "u.email", "u.display_name", "m.role", "m.created_at"])
    .where("m.org_id", "=", orgId);
}

export function memberView(row: {
  id: string;
  user_id: string;
  email: string;
  display_name: string;
  role: Role;
  created_at: Date;
}): z.infer<typeof MemberSchema> {
  return { ...row, created_at: iso(row.created_at) };
}

/** Listing, role changes and removal; people join through invitations (invitation-routes.ts). */
export function memberRoutes(app: App, ctx: { db: Kysely<DB>; access: AccessCache }): void {
  const { db } = ctx;

  app.get(
    "/v1/orgs/:slug/members",
    {
      schema: {
        operationId: "listMembers",
        tags: ["members"],
        summary: "Members of an organization",
        security: securityAny,
        params: OrgParams,
        response: { 200: z.object({ members: z.array(MemberSchema), total: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const rows = await memberQuery(db, scope.orgId).orderBy("m.created_at", "asc").execute();
      return { members: rows.map(memberView), total: rows.length };
    },
  );

  app.patch(
    "/v1/orgs/:slug/members/:memberId",
    {
      schema: {
        operationId: "updateMember",
        tags: ["members"],
        summary: "Change a member's role (admin; only the owner manages admins)",
        security: securityAny,
        params: MemberParams,
        body: z.strictObject({ role: AssignableRole }),
        response: { 200: MemberSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const target = await memberQuery(db, scope.orgId).where("m.id", "=", request.params.memberId).executeTakeFirst();
      if (!target) throw notFound("member");
      if (target.role === "owner") throw forbidden("the owner's role cannot be changed");
      if (target.user_id === scope.principal.userId) throw forbidden("you cannot change your own role");
      const touchesAdmin = target.role === "admin" || request.body.role === "admin";
      if (touchesAdmin && scope.role !== "owner") throw forbidden("only the owner can grant or revoke admin");
      await db.transaction().execute(async (tx) => {
        await tx
          .updateTable("org_members")
          .set({ role: request.body.role })
          .where("id", "=", target.id)
          .where("org_id", "=", scope.orgId)
          .execute();
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: "member.role_changed",
          target: { type: "member", id: target.id },
          details: { user_id: target.user_id, from: target.role, to: request.body.role },
        });
      });
      ctx.access.invalidate();
      return memberView({ ...target, role: request.body.role });
    },
  );

  app.delete(
    "/v1/orgs/:slug/members/:memberId",
    {
      schema: {
        operationId: "removeMember",
        tags: ["members"],
        summary: "Remove a member (admin), or leave the organization (yourself)",
        security: securityAny,
        params: MemberParams,
        response: { 200: Status, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const target = await memberQuery(db, scope.orgId).where("m.id", "=", request.params.memberId).executeTakeFirst();
      if (!target) throw notFound("member");
      if (target.role === "owner") throw forbidden("the owner cannot be removed");
      // Leaving is a person's choice: a key acting for its creator is held to the admin rules, or a
      // read-only key could remove the admin who made it.
      const self = target.user_id === scope.principal.userId && scope.principal.kind === "user";
      if (!self) {
        if (!atLeast(scope.role, "admin"))
          throw new AppError("forbidden", "this action requires the admin role or higher");
        if (target.role === "admin" && scope.role !== "owner") throw forbidden("only the owner can remove admins");
      }
      await db.transaction().execute(async (tx) => {
        const removed = await tx
          .deleteFrom("org_members")
          .where("id", "=", target.id)
          .where("org_id", "=", scope.orgId)
          .executeTakeFirst();
        if (removed.numDeletedRows === 0n) throw invalid("member was already removed");
        // Their keys die with the membership: re-adding the person later must not revive old keys.
        await tx
          .updateTable("api_keys")
          .set({ revoked_at: new Date() })
          .where("org_id", "=", scope.orgId)
          .where("created_by", "=", target.user_id)
          .where("revoked_at", "is", null)
          .execute();
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: self ? "member.left" : "member.removed",
          target: { type: "member", id: target.id },
          details: { user_id: target.user_id, role: target.role },
        });
      });
      ctx.access.invalidate();
      return { status: "removed" };
    },
  );
}
