import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { invalid } from "../http/errors.js";
import { pageReply, pageSchema } from "../http/pages.js";
import { errorResponses, FreeText, OrgParams, Pagination, securityAny, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import type { SecretBox } from "../lib/secret-box.js";
import { orgScope } from "../orgs/access.js";
import type { HostRouter } from "../replicas/hosts.js";
import { SourceRelay } from "../sources/relay.js";
import { EgressEntry, MAX_EGRESS_ENTRIES } from "./egress.js";
import { egressRoutes } from "./egress-routes.js";
import { execRoutes } from "./exec-routes.js";
import { fileRoutes } from "./file-routes.js";
import { sandboxLimits } from "./limits.js";
import { processRoutes } from "./process-routes.js";
import { SandboxName, SandboxParams } from "./route-schemas.js";
import type { SandboxService } from "./service.js";
import { snapshotRoutes } from "./snapshot-routes.js";
import { terminalRoutes } from "./terminal-routes.js";
import { SandboxSchema, sandboxView } from "./views.js";

const ImageName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "must be an image or source VM name (letters, digits, . _ -)");

const CreateBody = z.strictObject({
  source_vm: ImageName.describe("image name, or the source VM to clone"),
  name: SandboxName.optional(),
  vcpus: z.number().int().min(1).max(sandboxLimits.maxVcpus).optional(),
  memory_mb: z.number().int().min(sandboxLimits.minMemoryMb).max(sandboxLimits.maxMemoryMb).optional(),
  ttl_seconds: z
    .number()
    .int()
    .min(sandboxLimits.minTtlSeconds)
    .optional()
    .describe("lease length; default from server config"),
  agent_id: FreeText.max(128).optional(),
  allow_egress: z.boolean().optional().describe("let the sandbox reach networks outside its own (default false)"),
  egress_allow: z
    .array(EgressEntry)
    .max(MAX_EGRESS_ENTRIES)
    .optional()
    .describe(
      "what the sandbox may reach from its first boot, as in PUT …/egress `allow` (CIDR or DNS name, optional :PORT[,PORT…]); not with allow_egress; needs a host with bridge networking",
    ),
  source_host_id: Uuid.optional().describe("clone source_vm from this source host: the host pulls its disk first"),
  fresh: z.boolean().optional().describe("with source_host_id: pull the VM again instead of using the cached copy"),
});

const WaitQuery = z.strictObject({
  wait: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true")
    .describe("true: answer when the sandbox is RUNNING (or failed); false: answer 202 at once with state CREATING"),
});

const ListQuery = Pagination.extend({
  include_ended: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
});

export function sandboxRoutes(
  app: App,
  ctx: { db: Kysely<DB>; access: AccessCache; sandboxes: SandboxService; secrets: SecretBox; hosts: HostRouter },
): void {
  lifecycleRoutes(app, ctx);
  execRoutes(app, ctx);
  processRoutes(app, ctx);
  terminalRoutes(app, ctx);
  fileRoutes(app, ctx);
  snapshotRoutes(app, ctx);
  egressRoutes(app, ctx);
}

/** Creating, reading, starting, stopping, extending and destroying sandboxes. */
function lifecycleRoutes(
  app: App,
  ctx: { db: Kysely<DB>; access: AccessCache; sandboxes: SandboxService; secrets: SecretBox; hosts: HostRouter },
): void {
  const { sandboxes } = ctx;
  const sources = new SourceRelay(ctx);

  app.post(
    "/v1/orgs/:slug/sandboxes",
    {
      schema: {
        operationId: "createSandbox",
        tags: ["sandboxes"],
        summary: "Create a sandbox on a host of the organization",
        security: securityAny,
        params: OrgParams,
        querystring: WaitQuery,
        body: CreateBody,
        response: { 201: SandboxSchema, 202: SandboxSchema, ...errorResponses, 501: errorResponses[500] },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const body = request.body;
      if (body.allow_egress && body.egress_allow?.length) throw invalid("give allow_egress or egress_allow, not both");
      if (body.fresh !== undefined && body.source_host_id === undefined) {
        throw invalid("fresh applies only with source_host_id");
      }
      const source = body.source_host_id
        ? { connection: await sources.connectionFor(scope, body.source_host_id), fresh: body.fresh ?? false }
        : undefined;
      const sandbox = await sandboxes.create(
        scope,
        {
          sourceVm: body.source_vm,
          name: body.name,
          vcpus: body.vcpus,
          memoryMb: body.memory_mb,
          ttlSeconds: body.ttl_seconds,
          agentId: body.agent_id,
          source,
          allowEgress: body.allow_egress,
          egressAllow: body.egress_allow,
        },
        { wait: request.query.wait },
      );
      return reply.code(request.query.wait ? 201 : 202).send(sandboxView(sandbox));
    },
  );

  app.get(
    "/v1/orgs/:slug/sandboxes",
    {
      schema: {
        operationId: "listSandboxes",
        tags: ["sandboxes"],
        summary: "Sandboxes of the organization, newest first",
        security: securityAny,
        params: OrgParams,
        querystring: ListQuery,
        response: {
          200: pageSchema("sandboxes", SandboxSchema),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const { limit, offset, include_ended } = request.query;
      const rows = await sandboxes.list(scope, { limit, offset, includeEnded: include_ended });
      return pageReply("sandboxes", rows, { limit, offset }, sandboxView);
    },
  );

  app.get(
    "/v1/orgs/:slug/sandboxes/:id",
    {
      schema: {
        operationId: "getSandbox",
        tags: ["sandboxes"],
        summary: "One sandbox (ended sandboxes stay readable, with their end reason)",
        security: securityAny,
        params: SandboxParams,
        response: { 200: SandboxSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      return sandboxView(await sandboxes.get(scope, request.params.id));
    },
  );

  app.delete(
    "/v1/orgs/:slug/sandboxes/:id",
    {
      schema: {
        operationId: "destroySandbox",
        tags: ["sandboxes"],
        summary: "Destroy a sandbox (your own as member, anyone's as admin)",
        security: securityAny,
        params: SandboxParams,
        response: { 200: SandboxSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      return sandboxView(await sandboxes.destroy(scope, request.params.id));
    },
  );

  app.post(
    "/v1/orgs/:slug/sandboxes/:id/start",
    {
      schema: {
        operationId: "startSandbox",
        tags: ["sandboxes"],
        summary: "Start a stopped sandbox",
        security: securityAny,
        params: SandboxParams,
        response: { 200: SandboxSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      return sandboxView(await sandboxes.start(scope, request.params.id));
    },
  );

  app.post(
    "/v1/orgs/:slug/sandboxes/:id/stop",
    {
      schema: {
        operationId: "stopSandbox",
        tags: ["sandboxes"],
        summary: "Stop a running sandbox (force: no graceful shutdown)",
        security: securityAny,
        params: SandboxParams,
        body: z.strictObject({ force: z.boolean().default(false) }).nullish(),
        response: { 200: SandboxSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      return sandboxView(await sandboxes.stop(scope, request.params.id, request.body?.force ?? false));
    },
  );

  app.get(
    "/v1/orgs/:slug/sandboxes/:id/ip",
    {
      schema: {
        operationId: "getSandboxIp",
        tags: ["sandboxes"],
        summary: "The sandbox's IP address as last reported by its host",
        security: securityAny,
        params: SandboxParams,
        response: { 200: z.object({ sandbox_id: z.uuid(), ip_address: z.string().nullable() }), ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const sandbox = await sandboxes.get(scope, request.params.id);
      return { sandbox_id: sandbox.id, ip_address: sandbox.ip_address };
    },
  );

  app.post(
    "/v1/orgs/:slug/sandboxes/:id/extend",
    {
      schema: {
        operationId: "extendSandbox",
        tags: ["sandboxes"],
        summary: "Set the lease to end ttl_seconds from now",
        security: securityAny,
        params: SandboxParams,
        body: z.strictObject({ ttl_seconds: z.number().int().min(sandboxLimits.minTtlSeconds) }),
        response: { 200: SandboxSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      return sandboxView(await sandboxes.extend(scope, request.params.id, request.body.ttl_seconds));
    },
  );
}
