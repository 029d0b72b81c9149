import { type Kysely, sql } from "kysely";
import { z } from "zod";
import { verifyAuditChain } from "../audit/verify.js";
import type { AccessCache } from "../auth/access-cache.js";
import type { AuditEvent, DB } from "../db/schema.js";
import { errorResponses, FreeText, iso, OrgParams, securityAny, Timestamp, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "./access.js";

/**
 * Reading the log is admin+: it names every member, key and source-VM command of the org, which is
 * more than a viewer's metadata-only standing (SPEC §3) and sits with managing keys and members.
 */
const READER = "admin" as const;

const ListQuery = z.strictObject({
  action: z
    .string()
    .regex(/^[a-z][a-z_]*(\.[a-z][a-z_]*)*$/, "must be an action or its dotted prefix, e.g. sandbox or sandbox.created")
    .optional()
    .describe("`sandbox` matches every `sandbox.*` action; `sandbox.created` only that one"),
  target_type: z
    .string()
    .regex(/^[a-z][a-z_]*$/, "must be a lower-case type, e.g. sandbox")
    .optional(),
  target_id: FreeText.min(1).max(200).optional(),
  actor_user_id: Uuid.optional(),
  since: Timestamp.optional().describe("events at or after this instant"),
  until: Timestamp.optional().describe("events before this instant"),
  before_seq: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe("cursor: events with a smaller seq (pass `next_before_seq` from the previous page)"),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const AuditEventSchema = z
  .object({
    id: z.uuid(),
    seq: z.number().int().describe("position in the org's chain: 1, 2, 3…"),
    at: Timestamp,
    actor_user_id: z.uuid().nullable().describe("null: the server itself (lease expiry, a host's report)"),
    actor_key_id: z.uuid().nullable().describe("the API key the actor used, if any"),
    action: z.string().describe("dotted, e.g. sandbox.created, member.role_changed, source.command"),
    target_type: z.string(),
    target_id: z.string(),
    details: z.record(z.string(), z.unknown()),
    prev_hash: z.string(),
    hash: z.string().describe("SHA-256 of the event's canonical JSON, prev_hash included"),
  })
  .meta({ id: "AuditEvent" });

const VerdictSchema = z
  .object({
    valid: z.boolean(),
    events: z.number().int().describe("events in the org's chain"),
    head_hash: z.string().nullable().describe("hash of the newest event; null when there are none"),
    first_invalid: z
      .object({ seq: z.number().int(), reason: z.string() })
      .optional()
      .describe("the first event at which the chain breaks"),
  })
  .meta({ id: "AuditVerification" });

function eventView(row: AuditEvent): z.infer<typeof AuditEventSchema> {
  return { ...row, seq: Number(row.seq), at: iso(row.at) };
}

/** The org's hash-chained audit log: filtered reading, newest first, and a check of the whole chain. */
export function auditRoutes(app: App, ctx: { db: Kysely<DB>; access: AccessCache }): void {
  app.get(
    "/v1/orgs/:slug/audit",
    {
      schema: {
        operationId: "listAuditEvents",
        tags: ["audit"],
        summary: "The organization's audit log, newest first (admin)",
        description:
          "Keyset pagination by seq: pass `next_before_seq` as `before_seq` for the next page. Filters combine with AND.",
        security: securityAny,
        params: OrgParams,
        querystring: ListQuery,
        response: {
          200: z.object({
            events: z.array(AuditEventSchema),
            count: z.number().int(),
            has_more: z.boolean(),
            next_before_seq: z.number().int().nullable(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, READER);
      const q = request.query;
      let query = ctx.db
        .selectFrom("audit_events")
        .selectAll()
        .where("org_id", "=", scope.orgId)
        .orderBy("seq", "desc")
        .limit(q.limit + 1);
      if (q.action) {
        const action = q.action;
        query = query.where((eb) =>
          eb.or([eb("action", "=", action), eb(sql<boolean>`starts_with(action, ${`${action}.`})`, "=", true)]),
        );
      }
      if (q.target_type) query = query.where("target_type", "=", q.target_type);
      if (q.target_id) query = query.where("target_id", "=", q.target_id);
      if (q.actor_user_id) query = query.where("actor_user_id", "=", q.actor_user_id);
      if (q.since) query = query.where("at", ">=", new Date(q.since));
      if (q.until) query = query.where("at", "<", new Date(q.until));
      if (q.before_seq) query = query.where("seq", "<", String(q.before_seq));
      const rows = await query.execute();
      const events = rows.slice(0, q.limit).map(eventView);
      const hasMore = rows.length > q.limit;
      return {
        events,
        count: events.length,
        has_more: hasMore,
        next_before_seq: hasMore ? (events.at(-1)?.seq ?? null) : null,
      };
    },
  );

  app.get(
    "/v1/orgs/:slug/audit/verify",
    {
      schema: {
        operationId: "verifyAuditChain",
        tags: ["audit"],
        summary: "Check the organization's audit chain end to end (admin)",
        description:
          "Recomputes every event's hash and its link to the previous one; `valid: false` names the first event " +
          "at which the chain breaks (a row altered, deleted, inserted or moved).",
        security: securityAny,
        params: OrgParams,
        response: { 200: VerdictSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, READER);
      return verifyAuditChain(ctx.db, scope.orgId);
    },
  );
}
