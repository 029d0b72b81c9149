import type { Kysely } from "kysely";
import { z } from "zod";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { AccessCache } from "../auth/access-cache.js";
import { requirePrincipal } from "../auth/principal.js";
import { enforce, rateRules } from "../auth/rate-limit.js";
import { EmailInput, getUser } from "../auth/users.js";
import type { ServerConfig } from "../config/config.js";
import type { DB, OrgInvitationsTable } from "../db/schema.js";
import { AppError, conflict, forbidden, notFound } from "../http/errors.js";
import { errorResponses, iso, OrgParams, Status, securityAny, Timestamp, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { newId } from "../lib/ids.js";
import { hashSecret, newSecret } from "../lib/secrets.js";
import { orgScope } from "./access.js";
import { AssignableRole, MemberSchema, memberQuery, memberView } from "./member-routes.js";

const INVITATION_PREFIX = "flinv_";
const DAY_S = 86_400;

const InvitationSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    role: AssignableRole,
    invited_by: z.uuid(),
    created_at: Timestamp,
    expires_at: Timestamp,
  })
  .meta({ id: "Invitation" });

const CreatedInvitation = InvitationSchema.extend({
  token: z.string().describe("the secret the invited person accepts with; shown only in this response"),
  accept_url: z
    .string()
    .nullable()
    .describe("the dashboard page that accepts it (null when the server has no --public-url)"),
}).meta({ id: "CreatedInvitation" });

const CreateBody = z.strictObject({
  email: EmailInput,
  role: AssignableRole.default("member"),
  ttl_seconds: z
    .number()
    .int()
    .min(300)
    .max(30 * DAY_S)
    .default(7 * DAY_S)
    .describe("how long the invitation stays valid"),
});

const AcceptBody = z.strictObject({ token: z.string().min(1).max(200) });

const Joined = z
  .object({
    org: z.object({ id: z.uuid(), slug: z.string(), name: z.string() }),
    membership: MemberSchema,
  })
  .meta({ id: "JoinedOrg" });

type InvitationRow = Pick<OrgInvitationsTable, "id" | "email" | "role" | "invited_by"> & {
  created_at: Date;
  expires_at: Date;
};

function view(row: InvitationRow): z.infer<typeof InvitationSchema> {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    invited_by: row.invited_by,
    created_at: iso(row.created_at),
    expires_at: iso(row.expires_at),
  };
}

/**
 * Invitations are how people join an org. Creating one never looks the email up, so its answer is
 * the same whether or not an account exists; only the account with that email can accept it.
 */
export function invitationRoutes(
  app: App,
  ctx: { db: Kysely<DB>; access: AccessCache; config: Pick<ServerConfig, "publicUrl"> },
): void {
  const { db } = ctx;

  app.post(
    "/v1/orgs/:slug/invitations",
    {
      schema: {
        operationId: "createInvitation",
        tags: ["invitations"],
        summary: "Invite someone by email (admin; only the owner invites admins); the token is shown once",
        security: securityAny,
        params: OrgParams,
        body: CreateBody,
        response: { 201: CreatedInvitation, ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const { email, role, ttl_seconds } = request.body;
      if (role === "admin" && scope.role !== "owner") throw forbidden("only the owner can invite admins");
      await enforce(db, rateRules.invite, scope.principal.userId);
      const token = newSecret(INVITATION_PREFIX);
      const row = await db.transaction().execute(async (tx) => {
        const created = await tx
          .insertInto("org_invitations")
          .values({
            id: newId(),
            org_id: scope.orgId,
            email,
            role,
            token_hash: hashSecret(token),
            invited_by: scope.principal.userId,
            expires_at: new Date(Date.now() + ttl_seconds * 1000),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: "invitation.created",
          target: { type: "invitation", id: created.id },
          details: { email, role, expires_at: created.expires_at.toISOString() },
        });
        return created;
      });
      request.log.info({ org_id: scope.orgId, invitation_id: row.id, role }, "invitation created");
      const publicUrl = ctx.config.publicUrl;
      // The token travels in the fragment, which browsers never send to a server or put in its logs.
      const acceptUrl = publicUrl ? `${publicUrl}/invitations/accept#token=${token}` : null;
      return reply.code(201).send({ ...view(row), token, accept_url: acceptUrl });
    },
  );

  app.get(
    "/v1/orgs/:slug/invitations",
    {
      schema: {
        operationId: "listInvitations",
        tags: ["invitations"],
        summary: "Pending invitations of the organization (admin)",
        security: securityAny,
        params: OrgParams,
        response: {
          200: z.object({ invitations: z.array(InvitationSchema), total: z.number().int() }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const rows = await db
        .selectFrom("org_invitations")
        .select(["id", "email", "role", "invited_by", "created_at", "expires_at"])
        .where("org_id", "=", scope.orgId)
        .where("accepted_at", "is", null)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", new Date())
        .orderBy("created_at", "asc")
        .execute();
      return { invitations: rows.map(view), total: rows.length };
    },
  );

  app.delete(
    "/v1/orgs/:slug/invitations/:invitationId",
    {
      schema: {
        operationId: "revokeInvitation",
        tags: ["invitations"],
        summary: "Revoke a pending invitation (admin; only the owner revokes admin invitations)",
        security: securityAny,
        params: z.strictObject({ slug: OrgParams.shape.slug, invitationId: Uuid }),
        response: { 200: Status, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const invitation = await db
        .selectFrom("org_invitations")
        .select("role")
        .where("id", "=", request.params.invitationId)
        .where("org_id", "=", scope.orgId)
        .where("accepted_at", "is", null)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (!invitation) throw notFound("pending invitation");
      if (invitation.role === "admin" && scope.role !== "owner")
        throw forbidden("only the owner can revoke an admin invitation");
      const revoked = await db.transaction().execute(async (tx) => {
        const result = await tx
          .updateTable("org_invitations")
          .set({ revoked_at: new Date() })
          .where("id", "=", request.params.invitationId)
          .where("org_id", "=", scope.orgId)
          .where("accepted_at", "is", null)
          .where("revoked_at", "is", null)
          .returning(["id", "email", "role"])
          .executeTakeFirst();
        if (result) {
          await appendAuditEvent(tx, {
            orgId: scope.orgId,
            actor: auditActorOf(scope.principal),
            action: "invitation.revoked",
            target: { type: "invitation", id: result.id },
            details: { email: result.email, role: result.role },
          });
        }
        return result;
      });
      if (!revoked) throw notFound("pending invitation");
      request.log.info({ org_id: scope.orgId, invitation_id: request.params.invitationId }, "invitation revoked");
      return { status: "revoked" };
    },
  );

  app.post(
    "/v1/invitations/accept",
    {
      schema: {
        operationId: "acceptInvitation",
        tags: ["invitations"],
        summary: "Join the organization an invitation is for; it must have been sent to your account's email",
        description:
          "Accepted by the invited person: signed in, or with an API key they created (the CLI). The invitation's " +
          "email must match the account's email, so a forwarded or leaked token is useless to anyone else.",
        security: securityAny,
        body: AcceptBody,
        response: { 200: Joined, ...errorResponses },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const user = await getUser(db, principal.userId);
      if (!user) throw new AppError("unauthenticated", "account no longer exists");
      const invitation = await db
        .selectFrom("org_invitations as i")
        .innerJoin("orgs as o", "o.id", "i.org_id")
        .select(["i.id", "i.org_id", "i.email", "i.role", "i.expires_at", "i.accepted_at", "i.revoked_at"])
        .select(["o.slug", "o.name"])
        .where("i.token_hash", "=", hashSecret(request.body.token))
        .where("o.deleted_at", "is", null)
        .executeTakeFirst();
      if (!invitation) throw notFound("invitation");
      if (invitation.revoked_at) throw new AppError("invalid_state", "this invitation was revoked");
      if (invitation.accepted_at) throw new AppError("invalid_state", "this invitation has already been accepted");
      if (invitation.expires_at.getTime() <= Date.now())
        throw new AppError("invalid_state", "this invitation has expired; ask for a new one");
      if (invitation.email !== user.email)
        throw forbidden("this invitation was sent to another email address; sign in with that account to accept it");

      const membershipId = newId();
      await db.transaction().execute(async (tx) => {
        const claimed = await tx
          .updateTable("org_invitations")
          .set({ accepted_at: new Date(), accepted_by: user.id })
          .where("id", "=", invitation.id)
          .where("org_id", "=", invitation.org_id)
          .where("accepted_at", "is", null)
          .where("revoked_at", "is", null)
          .executeTakeFirst();
        if (claimed.numUpdatedRows === 0n) throw new AppError("invalid_state", "this invitation is no longer valid");
        await tx
          .insertInto("org_members")
          .values({ id: membershipId, org_id: invitation.org_id, user_id: user.id, role: invitation.role })
          .execute()
          .catch((err: unknown) => {
            if ((err as { code?: string }).code === "23505")
              throw conflict("you are already a member of this organization");
            throw err;
          });
        await appendAuditEvent(tx, {
          orgId: invitation.org_id,
          actor: auditActorOf(principal),
          action: "invitation.accepted",
          target: { type: "invitation", id: invitation.id },
          details: { user_id: user.id, member_id: membershipId, role: invitation.role },
        });
      });
      request.log.info(
        { org_id: invitation.org_id, invitation_id: invitation.id, user_id: user.id },
        "invitation accepted",
      );
      const membership = await memberQuery(db, invitation.org_id)
        .where("m.id", "=", membershipId)
        .executeTakeFirstOrThrow();
      return {
        org: { id: invitation.org_id, slug: invitation.slug, name: invitation.name },
        membership: memberView(membership),
      };
    },
  );
}
