import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { QuotaLimits } from "../config/quotas.js";
import type { DB } from "../db/schema.js";
import { invalid } from "../http/errors.js";
import { errorResponses, OrgParams, securityAny } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { currentUse, effectiveLimits } from "./limits.js";
import { readUsage } from "./usage.js";

/** Longest range one usage request may cover, in days (both ends included). */
export const MAX_USAGE_DAYS = 366;
const DEFAULT_USAGE_DAYS = 30;
const DAY_MS = 86_400_000;

const Day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date as YYYY-MM-DD")
  .refine((text) => {
    const date = new Date(`${text}T00:00:00Z`);
    return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text);
  }, "must be a real date");

const Quota = z.object({
  limit: z.number().int().nullable().describe("null: unlimited"),
  used: z.number().int(),
});

const QuotasSchema = z
  .object({
    sandboxes: Quota.describe("live sandboxes (CREATING, RUNNING or STOPPED)"),
    vcpus: Quota.describe("vCPUs of CREATING and RUNNING sandboxes"),
    memory_mb: Quota.describe("memory (MiB) of CREATING and RUNNING sandboxes"),
    snapshot_bytes: Quota.describe("bytes of the snapshots the organization's hosts keep"),
  })
  .meta({ id: "Quotas" });

const usageFields = {
  sandbox_seconds: z.number().describe("seconds sandboxes were RUNNING"),
  vcpu_seconds: z.number().describe("the same seconds, each weighted by the sandbox's vCPUs"),
  memory_mb_seconds: z.number().describe("the same seconds, each weighted by the sandbox's memory in MiB"),
};

const UsageSchema = z
  .object({
    from: z.string().describe("first day, YYYY-MM-DD (UTC)"),
    to: z.string().describe("last day, YYYY-MM-DD (UTC), included"),
    days: z.array(z.object({ day: z.string(), ...usageFields })).describe("days with usage, oldest first"),
    totals: z.object(usageFields),
  })
  .meta({ id: "Usage" });

const UsageQuery = z.strictObject({
  from: Day.optional().describe(`first day (UTC); default: ${DEFAULT_USAGE_DAYS - 1} days before \`to\``),
  to: Day.optional().describe("last day (UTC), included; default: today"),
});

const dayOf = (date: Date): string => date.toISOString().slice(0, 10);

/** Resolves and bounds a usage range: both ends default, from ≤ to, at most MAX_USAGE_DAYS days. */
export function usageRange(query: { from?: string | undefined; to?: string | undefined }, now = new Date()) {
  const to = query.to ?? dayOf(now);
  const from = query.from ?? dayOf(new Date(Date.parse(`${to}T00:00:00Z`) - (DEFAULT_USAGE_DAYS - 1) * DAY_MS));
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1;
  if (days < 1) throw invalid("from must not be after to");
  if (days > MAX_USAGE_DAYS) throw invalid(`a usage range covers at most ${MAX_USAGE_DAYS} days, this one ${days}`);
  return { from, to };
}

/** Quotas (limits and what is in use) and daily usage of an org: any member may read both. */
export function quotaRoutes(app: App, ctx: { db: Kysely<DB>; access: AccessCache; config: { quotas: QuotaLimits } }) {
  app.get(
    "/v1/orgs/:slug/quotas",
    {
      schema: {
        operationId: "getQuotas",
        tags: ["quotas"],
        summary: "The organization's quotas and what it uses of them",
        description:
          "Limits are the organization's own where the operator set one (`fluid-server quota set`), else the " +
          "server's defaults. A create, fork or start past a limit fails with 429 `quota_exceeded`.",
        security: securityAny,
        params: OrgParams,
        response: { 200: QuotasSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const limits = await effectiveLimits(ctx.db, scope.orgId, ctx.config.quotas);
      const use = await currentUse(ctx.db, scope.orgId);
      return {
        sandboxes: { limit: limits.sandboxes, used: use.sandboxes },
        vcpus: { limit: limits.vcpus, used: use.vcpus },
        memory_mb: { limit: limits.memoryMb, used: use.memoryMb },
        snapshot_bytes: { limit: limits.snapshotBytes, used: use.snapshotBytes },
      };
    },
  );

  app.get(
    "/v1/orgs/:slug/usage",
    {
      schema: {
        operationId: "getUsage",
        tags: ["quotas"],
        summary: "The organization's sandbox usage per UTC day",
        description:
          `Running time of the organization's sandboxes per day, up to the last accrual (every reaper interval). ` +
          `The range covers at most ${MAX_USAGE_DAYS} days; without \`from\` and \`to\`, the last ${DEFAULT_USAGE_DAYS}.`,
        security: securityAny,
        params: OrgParams,
        querystring: UsageQuery,
        response: { 200: UsageSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const { from, to } = usageRange(request.query);
      return { from, to, ...(await readUsage(ctx.db, scope.orgId, from, to)) };
    },
  );
}
