import { type Kysely, sql } from "kysely";
import { z } from "zod";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB, Host } from "../db/schema.js";
import { notFound } from "../http/errors.js";
import { errorResponses, FreeText, iso, OrgParams, Status, securityAny, Timestamp, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { newId } from "../lib/ids.js";
import { hashSecret, newSecret } from "../lib/secrets.js";
import { orgScope } from "../orgs/access.js";

export const HOST_TOKEN_PREFIX = "flh_";

const HostSchema = z
  .object({
    host_id: z.uuid().describe("equals the id of the host token it connects with"),
    hostname: z.string(),
    version: z.string(),
    status: z.enum(["ONLINE", "OFFLINE"]),
    total_cpus: z.number().int(),
    total_memory_mb: z.number().int(),
    total_disk_mb: z.number().int(),
    available_cpus: z.number().int(),
    available_memory_mb: z.number().int(),
    available_disk_mb: z.number().int(),
    active_sandboxes: z.number().int().describe("sandboxes the control plane has live on this host"),
    base_images: z.array(z.string()),
    source_vms: z.array(
      z.object({ name: z.string(), state: z.string(), ip_address: z.string(), prepared: z.boolean() }),
    ),
    connected_at: Timestamp.nullable(),
    last_heartbeat: Timestamp.nullable(),
    disconnected_at: Timestamp.nullable(),
  })
  .meta({ id: "Host" });

function hostView(host: Host, activeSandboxes: number): z.infer<typeof HostSchema> {
  return {
    host_id: host.id,
    hostname: host.hostname,
    version: host.version,
    status: host.status,
    total_cpus: host.total_cpus,
    total_memory_mb: host.total_memory_mb,
    total_disk_mb: host.total_disk_mb,
    available_cpus: host.available_cpus,
    available_memory_mb: host.available_memory_mb,
    available_disk_mb: host.available_disk_mb,
    active_sandboxes: activeSandboxes,
    base_images: host.base_images,
    source_vms: host.source_vms,
    connected_at: iso(host.connected_at),
    last_heartbeat: iso(host.last_heartbeat),
    disconnected_at: iso(host.disconnected_at),
  };
}

const TokenSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    created_at: Timestamp,
    expires_at: Timestamp.nullable(),
    last_used_at: Timestamp.nullable(),
  })
  .meta({ id: "HostToken" });

const CreatedToken = z
  .object({
    id: z.uuid(),
    name: z.string(),
    token: z.string().describe("the secret for `fluid-daemon run --token`; shown only in this response"),
    created_at: Timestamp,
    expires_at: Timestamp.nullable(),
  })
  .meta({ id: "CreatedHostToken" });

export function hostRoutes(
  app: App,
  ctx: { db: Kysely<DB>; access: AccessCache; hosts: { closeHost(hostId: string, reason: "token_revoked"): void } },
): void {
  const { db } = ctx;

  const hostsWithCounts = (orgId: string) =>
    db
      .selectFrom("hosts as h")
      .selectAll("h")
      .select(
        sql<string>`(SELECT count(*) FROM sandboxes s WHERE s.host_id = h.id AND s.ended_at IS NULL)`.as(
          "live_sandboxes",
        ),
      )
      .where("h.org_id", "=", orgId);

  app.get(
    "/v1/orgs/:slug/hosts",
    {
      schema: {
        operationId: "listHosts",
        tags: ["hosts"],
        summary: "Sandbox hosts of the organization with status and free resources",
        security: securityAny,
        params: OrgParams,
        response: { 200: z.object({ hosts: z.array(HostSchema), count: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const rows = await hostsWithCounts(scope.orgId).orderBy("h.created_at", "asc").execute();
      const hosts = rows.map(({ live_sandboxes, ...host }) => hostView(host, Number(live_sandboxes)));
      return { hosts, count: hosts.length };
    },
  );

  app.post(
    "/v1/orgs/:slug/hosts/tokens",
    {
      schema: {
        operationId: "createHostToken",
        tags: ["hosts"],
        summary: "Create a host token for a daemon to connect with (admin); the secret is shown once",
        security: securityAny,
        params: OrgParams,
        body: z.strictObject({
          name: FreeText.trim().min(1).max(100),
          expires_in_days: z.number().int().min(1).max(3650).optional(),
        }),
        response: { 201: CreatedToken, ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const token = newSecret(HOST_TOKEN_PREFIX);
      const row = await db.transaction().execute(async (tx) => {
        const created = await tx
          .insertInto("host_tokens")
          .values({
            id: newId(),
            org_id: scope.orgId,
            name: request.body.name,
            token_hash: hashSecret(token),
            created_by: scope.principal.userId,
            expires_at: request.body.expires_in_days
              ? new Date(Date.now() + request.body.expires_in_days * 86_400_000)
              : null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: "host_token.created",
          target: { type: "host_token", id: created.id },
          details: { name: created.name, expires_at: created.expires_at?.toISOString() ?? null },
        });
        return created;
      });
      return reply
        .code(201)
        .send({ id: row.id, name: row.name, token, created_at: iso(row.created_at), expires_at: iso(row.expires_at) });
    },
  );

  app.get(
    "/v1/orgs/:slug/hosts/tokens",
    {
      schema: {
        operationId: "listHostTokens",
        tags: ["hosts"],
        summary: "Active host tokens of the organization",
        security: securityAny,
        params: OrgParams,
        response: { 200: z.object({ tokens: z.array(TokenSchema), count: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const rows = await db
        .selectFrom("host_tokens")
        .select(["id", "name", "created_at", "expires_at", "last_used_at"])
        .where("org_id", "=", scope.orgId)
        .where("revoked_at", "is", null)
        .orderBy("created_at", "desc")
        .execute();
      const tokens = rows.map((t) => ({
        id: t.id,
        name: t.name,
        created_at: iso(t.created_at),
        expires_at: iso(t.expires_at),
        last_used_at: iso(t.last_used_at),
      }));
      return { tokens, count: tokens.length };
    },
  );

  app.delete(
    "/v1/orgs/:slug/hosts/tokens/:tokenId",
    {
      schema: {
        operationId: "revokeHostToken",
        tags: ["hosts"],
        summary: "Revoke a host token (admin); its daemon's live stream is closed",
        security: securityAny,
        params: z.strictObject({ slug: OrgParams.shape.slug, tokenId: Uuid }),
        response: { 200: Status, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const revoked = await db.transaction().execute(async (tx) => {
        const token = await tx
          .updateTable("host_tokens")
          .set({ revoked_at: new Date() })
          .where("id", "=", request.params.tokenId)
          .where("org_id", "=", scope.orgId)
          .where("revoked_at", "is", null)
          .returning(["id", "name"])
          .executeTakeFirst();
        if (token) {
          await appendAuditEvent(tx, {
            orgId: scope.orgId,
            actor: auditActorOf(scope.principal),
            action: "host_token.revoked",
            target: { type: "host_token", id: token.id },
            details: { name: token.name },
          });
        }
        return token;
      });
      if (!revoked) throw notFound("host token");
      ctx.hosts.closeHost(request.params.tokenId, "token_revoked");
      return { status: "revoked" };
    },
  );

  app.get(
    "/v1/orgs/:slug/hosts/:hostId",
    {
      schema: {
        operationId: "getHost",
        tags: ["hosts"],
        summary: "One sandbox host",
        security: securityAny,
        params: z.strictObject({ slug: OrgParams.shape.slug, hostId: Uuid }),
        response: { 200: HostSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const row = await hostsWithCounts(scope.orgId).where("h.id", "=", request.params.hostId).executeTakeFirst();
      if (!row) throw notFound("host");
      const { live_sandboxes, ...host } = row;
      return hostView(host, Number(live_sandboxes));
    },
  );
}
