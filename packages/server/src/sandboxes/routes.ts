import { z } from "zod";
import type { AppContext } from "../context.js";
import { invalid } from "../http/errors.js";
import { errorResponses, FreeText, OrgParams, Pagination, securityAny, Timestamp, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { SourceRelay } from "../sources/relay.js";
import { NoiseOverride, SandboxDiffSchema } from "./diff.js";
import { sandboxLimits } from "./limits.js";
import {
  CommandRecordSchema,
  CommandSchema,
  commandRecordView,
  commandView,
  SandboxSchema,
  SnapshotSchema,
  sandboxView,
  snapshotView,
} from "./views.js";

/** A sandbox's name, as create and fork take it. */
export const SandboxName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "must be 1-63 letters, digits, dots, dashes or underscores");
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
  source_host_id: Uuid.optional().describe("clone source_vm from this source host: the host pulls its disk first"),
  fresh: z.boolean().optional().describe("with source_host_id: pull the VM again instead of using the cached copy"),
});

function parseNoise(text: string): NoiseOverride {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid("noise: not valid JSON");
  }
  const parsed = NoiseOverride.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`noise.${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

const WaitQuery = z.strictObject({
  wait: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true")
    .describe("true: answer when the sandbox is RUNNING (or failed); false: answer 202 at once with state CREATING"),
});

const EnvName = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const RunBody = z.strictObject({
  command: FreeText.min(1).refine((c) => Buffer.byteLength(c, "utf8") <= sandboxLimits.maxCommandBytes, {
    message: `must be at most ${sandboxLimits.maxCommandBytes} bytes`,
  }),
  timeout_seconds: z.number().int().min(1).max(sandboxLimits.maxCommandTimeoutSeconds).optional(),
  env: z
    .record(
      z.string().regex(EnvName, "environment variable names must match [A-Za-z_][A-Za-z0-9_]*"),
      FreeText.refine((v) => Buffer.byteLength(v, "utf8") <= sandboxLimits.maxEnvValueBytes, "value too long"),
    )
    .refine(
      (env) => Object.keys(env).length <= sandboxLimits.maxEnvVars,
      `at most ${sandboxLimits.maxEnvVars} variables`,
    )
    .optional(),
});

export const SandboxParams = z.strictObject({ slug: OrgParams.shape.slug, id: Uuid });
const ListQuery = Pagination.extend({
  include_ended: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
});

function page<T>(rows: T[], limit: number, offset: number) {
  const hasMore = rows.length > limit;
  return { items: hasMore ? rows.slice(0, limit) : rows, hasMore, nextOffset: hasMore ? offset + limit : null };
}

export function sandboxRoutes(app: App, ctx: AppContext): void {
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
          200: z.object({
            sandboxes: z.array(SandboxSchema),
            count: z.number().int(),
            has_more: z.boolean(),
            next_offset: z.number().int().nullable(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const { limit, offset, include_ended } = request.query;
      const result = page(await sandboxes.list(scope, { limit, offset, includeEnded: include_ended }), limit, offset);
      return {
        sandboxes: result.items.map(sandboxView),
        count: result.items.length,
        has_more: result.hasMore,
        next_offset: result.nextOffset,
      };
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

  app.post(
    "/v1/orgs/:slug/sandboxes/:id/run",
    {
      schema: {
        operationId: "runSandboxCommand",
        tags: ["sandboxes"],
        summary: "Run a command in a running sandbox and return its output",
        security: securityAny,
        params: SandboxParams,
        body: RunBody,
        response: { 200: CommandSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const body = request.body;
      const command = await sandboxes.run(scope, request.params.id, {
        command: body.command,
        timeoutSeconds: body.timeout_seconds ?? sandboxLimits.defaultCommandTimeoutSeconds,
        env: body.env ?? {},
      });
      return commandView(command);
    },
  );

  app.get(
    "/v1/orgs/:slug/sandboxes/:id/commands",
    {
      schema: {
        operationId: "listSandboxCommands",
        tags: ["sandboxes"],
        summary: "Commands run in a sandbox, oldest first (the audit trail)",
        description:
          "Viewers, and members looking at someone else's sandbox, get the trail without stdout and stderr: " +
          "a clone's output is as sensitive as the production VM it came from.",
        security: securityAny,
        params: SandboxParams,
        querystring: Pagination,
        response: {
          200: z.object({
            commands: z.array(CommandRecordSchema),
            count: z.number().int(),
            has_more: z.boolean(),
            next_offset: z.number().int().nullable(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const { limit, offset } = request.query;
      const { rows, withOutput } = await sandboxes.commands(scope, request.params.id, { limit, offset });
      const result = page(rows, limit, offset);
      return {
        commands: result.items.map((row) => commandRecordView(row, withOutput)),
        count: result.items.length,
        has_more: result.hasMore,
        next_offset: result.nextOffset,
      };
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
    "/v1/orgs/:slug/sandboxes/:id/snapshot",
    {
      schema: {
        operationId: "snapshotSandbox",
        tags: ["sandboxes"],
        summary: "Snapshot a sandbox's disk (and memory, if asked)",
        security: securityAny,
        params: SandboxParams,
        body: z.strictObject({
          name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "must be 1-63 letters, digits, . _ -"),
          include_memory: z.boolean().default(false),
        }),
        response: { 201: SnapshotSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const snapshot = await sandboxes.snapshot(scope, request.params.id, {
        name: request.body.name,
        includeMemory: request.body.include_memory,
      });
      return reply.code(201).send(snapshotView(snapshot));
    },
  );

  app.get(
    "/v1/orgs/:slug/sandboxes/:id/snapshots",
    {
      schema: {
        operationId: "listSandboxSnapshots",
        tags: ["sandboxes"],
        summary: "Snapshots taken of a sandbox",
        security: securityAny,
        params: SandboxParams,
        response: { 200: z.object({ snapshots: z.array(SnapshotSchema), count: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const rows = await sandboxes.snapshots(scope, request.params.id);
      return { snapshots: rows.map(snapshotView), count: rows.length };
    },
  );

  const GuestPath = FreeText.min(1).max(4096).regex(/^\//, "must be an absolute path");

  app.get(
    "/v1/orgs/:slug/sandboxes/:id/files",
    {
      schema: {
        operationId: "readSandboxFile",
        tags: ["sandboxes"],
        summary: "Read a file inside a running sandbox (base64, binary-safe, up to 8 MiB; its creator or an admin)",
        security: securityAny,
        params: SandboxParams,
        querystring: z.strictObject({ path: GuestPath }),
        response: {
          200: z.object({
            path: z.string(),
            content_base64: z.string(),
            size: z.number().int(),
            truncated: z.boolean(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const file = await sandboxes.readFile(scope, request.params.id, request.query.path, sandboxLimits.maxFileBytes);
      return {
        path: request.query.path,
        content_base64: Buffer.from(file.content).toString("base64"),
        size: file.content.length,
        truncated: file.truncated,
      };
    },
  );

  app.put(
    "/v1/orgs/:slug/sandboxes/:id/files",
    {
      bodyLimit: Math.ceil((sandboxLimits.maxFileBytes * 4) / 3) + 65_536,
      schema: {
        operationId: "writeSandboxFile",
        tags: ["sandboxes"],
        summary: "Create or replace a file inside a running sandbox",
        security: securityAny,
        params: SandboxParams,
        body: z.strictObject({
          path: GuestPath,
          content_base64: z.base64().refine((b) => Buffer.byteLength(b, "base64") <= sandboxLimits.maxFileBytes, {
            message: `must decode to at most ${sandboxLimits.maxFileBytes} bytes`,
          }),
          mode: z
            .string()
            .regex(/^[0-7]{3,4}$/, "must be octal permission bits like 0644")
            .optional(),
        }),
        response: { 200: z.object({ path: z.string(), size: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const size = await sandboxes.writeFile(scope, request.params.id, {
        path: request.body.path,
        content: Buffer.from(request.body.content_base64, "base64"),
        mode: request.body.mode ? Number.parseInt(request.body.mode, 8) : undefined,
      });
      return { path: request.body.path, size };
    },
  );

  app.get(
    "/v1/orgs/:slug/sandboxes/:id/diff",
    {
      schema: {
        operationId: "diffSandbox",
        tags: ["sandboxes"],
        summary:
          "What a sandbox changed against its image: files, packages, units, users, groups, cron, sysctl (its creator or an admin)",
        security: securityAny,
        params: SandboxParams,
        querystring: z.strictObject({
          noise: z
            .string()
            .max(65_536)
            .optional()
            .describe('noise policy override as JSON: {"replace"?, "disable"?: [rule ids], "add"?: [rules]}'),
        }),
        response: { 200: SandboxDiffSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const noise = request.query.noise === undefined ? undefined : parseNoise(request.query.noise);
      return sandboxes.diff(scope, request.params.id, noise);
    },
  );

  app.get(
    "/v1/orgs/:slug/sandboxes/:id/files/list",
    {
      schema: {
        operationId: "listSandboxFiles",
        tags: ["sandboxes"],
        summary: "List one directory inside a running sandbox (its creator or an admin)",
        security: securityAny,
        params: SandboxParams,
        querystring: z.strictObject({ path: GuestPath }),
        response: {
          200: z.object({
            path: z.string(),
            entries: z.array(
              z.object({
                name: z.string(),
                type: z.enum(["file", "directory", "symlink", "other"]),
                size: z.number().int(),
                modified_at: Timestamp,
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const entries = await sandboxes.listFiles(scope, request.params.id, request.query.path);
      const known = new Set(["file", "directory", "symlink"]);
      return {
        path: request.query.path,
        entries: entries.map((e) => ({
          name: e.name,
          type: (known.has(e.type) ? e.type : "other") as "file" | "directory" | "symlink" | "other",
          size: Number(e.size),
          modified_at: new Date(Number(e.modifiedUnix) * 1000).toISOString(),
        })),
      };
    },
  );

  app.post(
    "/v1/orgs/:slug/sandboxes/:id/restore",
    {
      schema: {
        operationId: "restoreSandbox",
        tags: ["sandboxes"],
        summary: "Put a sandbox back to one of its snapshots (disk, and memory when it was saved)",
        security: securityAny,
        params: SandboxParams,
        body: z.strictObject({ snapshot_id: Uuid }),
        response: { 200: SandboxSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      return sandboxView(await sandboxes.restore(scope, request.params.id, request.body.snapshot_id));
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
