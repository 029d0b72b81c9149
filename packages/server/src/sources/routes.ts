import type { Kysely } from "kysely";
import { z } from "zod";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB, SourceHost } from "../db/schema.js";
import { conflict, notFound } from "../http/errors.js";
import { errorResponses, FreeText, iso, OrgParams, Status, securityAny, Timestamp, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { newId } from "../lib/ids.js";
import type { SecretBox } from "../lib/secret-box.js";
import { orgScope } from "../orgs/access.js";

const Hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$/, "must be a hostname or IP address");
const SshUser = z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/, "must be a valid Unix user name");
const PrivateKey = FreeText.max(16_384).refine(
  (k) => /^-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+-----END [A-Z ]*PRIVATE KEY-----\s*$/.test(k.trim()),
  {
    message: "must be a PEM/OpenSSH private key",
  },
);

const hostKeyLine =
  /^(\S+\s+)?(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)\s+[A-Za-z0-9+/]+={0,3}(\s.*)?$/;
const HostKeys = FreeText.max(4096).refine(
  (text) => {
    const lines = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    return lines.length > 0 && lines.every((line) => hostKeyLine.test(line));
  },
  { message: "must be public host keys, one per line: `ssh-ed25519 AAAA…` or a known_hosts/ssh-keyscan line" },
);

const LibvirtBody = z.strictObject({
  type: z.literal("libvirt"),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "must be 1-63 letters, digits, . _ -"),
  hostname: Hostname,
  ssh_port: z.number().int().min(1).max(65_535).default(22),
  ssh_user: SshUser.default("root"),
  ssh_private_key: PrivateKey.optional().describe("stored encrypted; never returned"),
  ssh_host_key: HostKeys.optional().describe(
    "the host's public keys (ssh-keyscan output works): when given, sandbox hosts accept only these; otherwise each pins the key it first sees",
  ),
});

const ProxmoxBody = z.strictObject({
  type: z.literal("proxmox"),
  name: LibvirtBody.shape.name,
  hostname: Hostname,
  proxmox_token_id: FreeText.min(1).max(256),
  proxmox_secret: FreeText.min(1).max(1024).describe("stored encrypted; never returned"),
  proxmox_node: FreeText.min(1).max(128),
  proxmox_verify_tls: z.boolean().default(true),
});

const CreateBody = z.discriminatedUnion("type", [LibvirtBody, ProxmoxBody]);

const SourceHostSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    type: z.enum(["libvirt", "proxmox"]),
    hostname: z.string(),
    ssh_port: z.number().int(),
    ssh_user: z.string(),
    has_ssh_private_key: z.boolean(),
    ssh_host_key: z.string().nullable(),
    proxmox_token_id: z.string().nullable(),
    has_proxmox_secret: z.boolean(),
    proxmox_node: z.string().nullable(),
    proxmox_verify_tls: z.boolean(),
    apply_enabled: z
      .boolean()
      .describe("fluid may apply approved changes to this host's VMs (set by an owner); false: read-only"),
    created_at: Timestamp,
  })
  .meta({ id: "SourceHost" });

function view(row: SourceHost): z.infer<typeof SourceHostSchema> {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    hostname: row.hostname,
    ssh_port: row.ssh_port,
    ssh_user: row.ssh_user,
    has_ssh_private_key: row.ssh_private_key !== null,
    ssh_host_key: row.ssh_host_key,
    proxmox_token_id: row.proxmox_token_id,
    has_proxmox_secret: row.proxmox_secret !== null,
    proxmox_node: row.proxmox_node,
    proxmox_verify_tls: row.proxmox_verify_tls,
    apply_enabled: row.apply_enabled,
    created_at: iso(row.created_at),
  };
}

/** Where production VMs live: libvirt hosts reached over SSH (Proxmox is recorded, not yet driven). */
export function sourceHostRoutes(app: App, ctx: { db: Kysely<DB>; access: AccessCache; secrets: SecretBox }): void {
  const { db, secrets } = ctx;
  const SourceHostParams = z.strictObject({ slug: OrgParams.shape.slug, sourceHostId: Uuid });

  app.post(
    "/v1/orgs/:slug/source-hosts",
    {
      schema: {
        operationId: "createSourceHost",
        tags: ["source-hosts"],
        summary: "Register a source host (admin); credentials are encrypted at rest and never returned",
        security: securityAny,
        params: OrgParams,
        body: CreateBody,
        response: { 201: SourceHostSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const body = request.body;
      const id = newId();
      const seal = (value: string | undefined, column: string) =>
        value === undefined ? null : secrets.seal(value, `source_hosts.${column}:${id}`);
      const row = await db.transaction().execute(async (tx) => {
        const created = await tx
          .insertInto("source_hosts")
          .values({
            id,
            org_id: scope.orgId,
            name: body.name,
            type: body.type,
            hostname: body.hostname,
            ssh_port: body.type === "libvirt" ? body.ssh_port : 22,
            ssh_user: body.type === "libvirt" ? body.ssh_user : "root",
            ssh_private_key: body.type === "libvirt" ? seal(body.ssh_private_key, "ssh_private_key") : null,
            ssh_host_key: body.type === "libvirt" ? (body.ssh_host_key ?? null) : null,
            proxmox_token_id: body.type === "proxmox" ? body.proxmox_token_id : null,
            proxmox_secret: body.type === "proxmox" ? seal(body.proxmox_secret, "proxmox_secret") : null,
            proxmox_node: body.type === "proxmox" ? body.proxmox_node : null,
            proxmox_verify_tls: body.type === "proxmox" ? body.proxmox_verify_tls : true,
            created_by: scope.principal.userId,
          })
          .returningAll()
          .executeTakeFirstOrThrow()
          .catch((err: unknown) => {
            if ((err as { code?: string }).code === "23505")
              throw conflict("a source host with this name already exists");
            throw err;
          });
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: "source_host.created",
          target: { type: "source_host", id },
          details: { name: created.name, type: created.type, hostname: created.hostname, ssh_user: created.ssh_user },
        });
        return created;
      });
      return reply.code(201).send(view(row));
    },
  );

  app.get(
    "/v1/orgs/:slug/source-hosts",
    {
      schema: {
        operationId: "listSourceHosts",
        tags: ["source-hosts"],
        summary: "Source hosts of the organization",
        security: securityAny,
        params: OrgParams,
        response: {
          200: z.object({ source_hosts: z.array(SourceHostSchema), count: z.number().int() }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const rows = await db
        .selectFrom("source_hosts")
        .selectAll()
        .where("org_id", "=", scope.orgId)
        .orderBy("created_at", "desc")
        .execute();
      return { source_hosts: rows.map(view), count: rows.length };
    },
  );

  app.get(
    "/v1/orgs/:slug/source-hosts/:sourceHostId",
    {
      schema: {
        operationId: "getSourceHost",
        tags: ["source-hosts"],
        summary: "One source host",
        security: securityAny,
        params: SourceHostParams,
        response: { 200: SourceHostSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const row = await db
        .selectFrom("source_hosts")
        .selectAll()
        .where("id", "=", request.params.sourceHostId)
        .where("org_id", "=", scope.orgId)
        .executeTakeFirst();
      if (!row) throw notFound("source host");
      return view(row);
    },
  );

  app.put(
    "/v1/orgs/:slug/source-hosts/:sourceHostId/apply",
    {
      schema: {
        operationId: "setSourceHostApply",
        tags: ["source-hosts"],
        summary: "Allow or forbid applying approved changes to this host's VMs (owner)",
        description:
          "Off (the default), nothing fluid does writes to the host's VMs. On, a VM prepared with `apply: true` " +
          "accepts root logins by one-time fluid-apply certificates. Turning it off refuses applies at once; " +
          "preparing a VM again without `apply` removes its apply access.",
        security: securityAny,
        params: SourceHostParams,
        body: z.strictObject({ enabled: z.boolean() }),
        response: { 200: SourceHostSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "owner");
      const row = await db.transaction().execute(async (tx) => {
        const updated = await tx
          .updateTable("source_hosts")
          .set({ apply_enabled: request.body.enabled, updated_at: new Date() })
          .where("id", "=", request.params.sourceHostId)
          .where("org_id", "=", scope.orgId)
          .returningAll()
          .executeTakeFirst();
        if (!updated) throw notFound("source host");
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: request.body.enabled ? "source_host.apply_enabled" : "source_host.apply_disabled",
          target: { type: "source_host", id: updated.id },
          details: { name: updated.name },
        });
        return updated;
      });
      return view(row);
    },
  );

  app.delete(
    "/v1/orgs/:slug/source-hosts/:sourceHostId",
    {
      schema: {
        operationId: "deleteSourceHost",
        tags: ["source-hosts"],
        summary: "Remove a source host and its stored credentials (admin)",
        security: securityAny,
        params: SourceHostParams,
        response: { 200: Status, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const deleted = await db.transaction().execute(async (tx) => {
        const host = await tx
          .deleteFrom("source_hosts")
          .where("id", "=", request.params.sourceHostId)
          .where("org_id", "=", scope.orgId)
          .returning(["id", "name", "hostname"])
          .executeTakeFirst();
        if (host) {
          await appendAuditEvent(tx, {
            orgId: scope.orgId,
            actor: auditActorOf(scope.principal),
            action: "source_host.deleted",
            target: { type: "source_host", id: host.id },
            details: { name: host.name, hostname: host.hostname },
          });
        }
        return host;
      });
      if (!deleted) throw notFound("source host");
      return { status: "deleted" };
    },
  );
}
