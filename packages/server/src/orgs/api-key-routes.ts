import type { Kysely } from "kysely";
import { z } from "zod";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { AccessCache } from "../auth/access-cache.js";
import { API_KEY_PREFIX } from "../auth/principal.js";
import { atLeast, roles } from "../auth/roles.js";
import type { DB } from "../db/schema.js";
import { forbidden, notFound } from "../http/errors.js";
import { errorResponses, FreeText, iso, OrgParams, Status, securityAny, Timestamp, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { newId } from "../lib/ids.js";
import { hashSecret, newSecret } from "../lib/secrets.js";
import { orgScope } from "./access.js";

const ApiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    role: z.enum(roles),
    prefix: z.string().describe("the first characters of the key, to recognise it"),
    created_by: z.uuid(),
    created_at: Timestamp,
    expires_at: Timestamp.nullable(),
    last_used_at: Timestamp.nullable(),
  })
  .meta({ id: "ApiKey" });

const CreatedApiKey = ApiKeySchema.extend({ key: z.string().describe("the secret; shown only in this response") }).meta(
  {
    id: "CreatedApiKey",
  },
);

const CreateBody = z.strictObject({
  name: FreeText.trim().min(1).max(100),
  role: z.enum(roles).default("member"),
  expires_in_days: z.number().int().min(1).max(3650).optional(),
});

type KeyRow = {
  id: string;
  name: string;
  role: (typeof roles)[number];
  key_prefix: string;
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
};

function view(row: KeyRow): z.infer<typeof ApiKeySchema> {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.key_prefix,
    created_by: row.created_by,
    created_at: iso(row.created_at),
    expires_at: iso(row.expires_at),
    last_used_at: iso(row.last_used_at),
  };
}

export function apiKeyRoutes(app: App, ctx: { db: Kysely<DB>; access: AccessCache }): void {
  const { db } = ctx;

  app.post(
    "/v1/orgs/:slug/api-keys",
    {
      schema: {
        operationId: "createApiKey",
        tags: ["api-keys"],
        summary: "Create an API key for programs (admin); the secret is shown once",
        security: securityAny,
        params: OrgParams,
        body: CreateBody,
        response: { 201: CreatedApiKey, ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const { name, role, expires_in_days } = request.body;
      if (!atLeast(scope.role, role))
        throw forbidden(`you cannot create a key with a role above your own (${scope.role})`);
      const key = newSecret(API_KEY_PREFIX);
      const row = await db.transaction().execute(async (tx) => {
        const created = await tx
          .insertInto("api_keys")
          .values({
            id: newId(),
            org_id: scope.orgId,
            created_by: scope.principal.userId,
            name,
            role,
            key_hash: hashSecret(key),
            key_prefix: key.slice(0, API_KEY_PREFIX.length + 6),
            expires_at: expires_in_days ? new Date(Date.now() + expires_in_days * 86_400_000) : null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: "api_key.created",
          target: { type: "api_key", id: created.id },
          details: {
            name,
            role,
            key_prefix: created.key_prefix,
            expires_at: created.expires_at?.toISOString() ?? null,
          },
        });
        return created;
      });
      return reply.code(201).send({ ...view(row), key });
    },
  );

  app.get(
    "/v1/orgs/:slug/api-keys",
    {
      schema: {
        operationId: "listApiKeys",
        tags: ["api-keys"],
        summary: "Active API keys of the organization (admin)",
        security: securityAny,
        params: OrgParams,
        response: { 200: z.object({ api_keys: z.array(ApiKeySchema), count: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const rows = await db
        .selectFrom("api_keys")
        .selectAll()
        .where("org_id", "=", scope.orgId)
        .where("revoked_at", "is", null)
        .orderBy("created_at", "desc")
        .execute();
      return { api_keys: rows.map(view), count: rows.length };
    },
  );

  app.delete(
    "/v1/orgs/:slug/api-keys/:keyId",
    {
      schema: {
        operationId: "revokeApiKey",
        tags: ["api-keys"],
        summary: "Revoke an API key (admin)",
        security: securityAny,
        params: z.strictObject({ slug: OrgParams.shape.slug, keyId: Uuid }),
        response: { 200: Status, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const revoked = await db.transaction().execute(async (tx) => {
        const key = await tx
          .updateTable("api_keys")
          .set({ revoked_at: new Date() })
          .where("id", "=", request.params.keyId)
          .where("org_id", "=", scope.orgId)
          .where("revoked_at", "is", null)
          .returning(["id", "name", "role"])
          .executeTakeFirst();
        if (key) {
          await appendAuditEvent(tx, {
            orgId: scope.orgId,
            actor: auditActorOf(scope.principal),
            action: "api_key.revoked",
            target: { type: "api_key", id: key.id },
            details: { name: key.name, role: key.role },
          });
        }
        return key;
      });
      if (!revoked) throw notFound("API key");
      ctx.access.invalidate();
      return { status: "revoked" };
    },
  );
}
