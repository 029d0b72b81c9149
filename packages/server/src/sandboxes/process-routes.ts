import { processLimits } from "@fluid/proto";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { isAppError } from "../http/errors.js";
import { NdjsonReply } from "../http/ndjson.js";
import { errorResponses, OrgParams, securityAny, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { RunBody } from "./exec-routes.js";
import { followProcessLog } from "./process-follow.js";
import type { ProcessLogRead } from "./processes.js";
import type { SandboxService } from "./service.js";

const ProcessSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    command: z.string(),
    pid: z.number().int().nullable().describe("the command's pid in the guest, also its process group"),
    state: z.enum(["running", "exited", "lost"]).describe("lost: the guest no longer has it (e.g. after a reboot)"),
    exit_code: z.number().int().nullable().describe("once exited; a process ended by signal N exits 128+N"),
    started_at: z.string(),
    ended_at: z.string().nullable(),
  })
  .meta({ id: "Process" });

const ProcessLogSchema = z
  .object({
    process: ProcessSchema,
    stdout: z.string().describe("base64 of stdout from `offset`"),
    stderr: z.string().describe("base64 of stderr from `stderr_offset`"),
    next_offset: z.number().int(),
    next_stderr_offset: z.number().int(),
    stdout_truncated: z.boolean(),
    stderr_truncated: z.boolean(),
  })
  .meta({ id: "ProcessLog" });

const ProcessLogEventSchema = z
  .discriminatedUnion("type", [
    z.object({ type: z.literal("output"), stream: z.enum(["stdout", "stderr"]), data: z.string() }),
    z.object({ type: z.literal("exit"), process: ProcessSchema }),
    z.object({ type: z.literal("error"), error: z.object({ code: z.string(), message: z.string() }) }),
  ])
  .meta({ id: "ProcessLogEvent" });

const ProcessParams = z.strictObject({ slug: OrgParams.shape.slug, id: Uuid, processId: Uuid });
const SandboxParamsOnly = z.strictObject({ slug: OrgParams.shape.slug, id: Uuid });
const Offset = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0);

type Ctx = { db: Kysely<DB>; access: AccessCache; sandboxes: SandboxService };

/** Background processes: started in a sandbox, they outlive the request and the client. */
export function processRoutes(app: App, ctx: Ctx): void {
  const base = "/v1/orgs/:slug/sandboxes/:id/processes";
  const tags = ["sandboxes"];

  app.post(
    base,
    {
      schema: {
        operationId: "startSandboxProcess",
        tags,
        summary: "Start a command in the background; it runs on after the request and the client end",
        security: securityAny,
        params: SandboxParamsOnly,
        body: z.strictObject({
          command: RunBody.shape.command,
          name: z.string().max(processLimits.maxNameLength).optional(),
          env: RunBody.shape.env,
        }),
        response: { 201: ProcessSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const { command, name, env } = request.body;
      const started = await ctx.sandboxes.processes.start(scope, request.params.id, {
        command,
        name: name ?? "",
        env: env ?? {},
      });
      return reply.code(201).send(started);
    },
  );

  app.get(
    base,
    {
      schema: {
        operationId: "listSandboxProcesses",
        tags,
        summary: "A sandbox's background processes, oldest first",
        security: securityAny,
        params: SandboxParamsOnly,
        response: { 200: z.object({ processes: z.array(ProcessSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      return { processes: await ctx.sandboxes.processes.list(scope, request.params.id) };
    },
  );

  app.get(
    `${base}/:processId`,
    {
      schema: {
        operationId: "getSandboxProcess",
        tags,
        summary: "One background process (poll it to wait for its exit)",
        security: securityAny,
        params: ProcessParams,
        response: { 200: ProcessSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const [found] = await ctx.sandboxes.processes.list(scope, request.params.id, request.params.processId);
      return found;
    },
  );

  app.get(
    `${base}/:processId/logs`,
    {
      schema: {
        operationId: "readSandboxProcessLog",
        tags,
        summary: "A background process's output from an offset; with follow, NDJSON until it exits",
        description:
          "Without follow: one read of at most 64 KiB per stream, with the offsets the next read starts at. With " +
          "follow=true the reply is newline-delimited JSON (ProcessLogEvent): `output` pieces (base64) as the " +
          "process writes them, then `exit` with the process once it has ended and its output is all sent.",
        security: securityAny,
        params: ProcessParams,
        querystring: z.strictObject({
          offset: Offset.describe("stdout offset"),
          stderr_offset: Offset,
          follow: z.enum(["true", "false"]).default("false"),
        }),
        response: {
          200: {
            description: "one read (JSON), or with follow the events, one JSON object a line",
            content: {
              "application/json": { schema: ProcessLogSchema },
              "application/x-ndjson": { schema: ProcessLogEventSchema },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const { id, processId } = request.params;
      const read = (offset: number, stderrOffset: number) =>
        ctx.sandboxes.processes.readLog(scope, id, { processId, offset, stderrOffset });
      const first = await read(request.query.offset, request.query.stderr_offset);
      if (request.query.follow !== "true") return logView(first);
      const out = new NdjsonReply<z.infer<typeof ProcessLogEventSchema>>(reply);
      try {
        for await (const event of followProcessLog(read, first, () => out.gone)) {
          if (event.type === "output") out.write({ type: "output", stream: event.stream, data: base64(event.data) });
          else out.write(event);
        }
        if (out.gone) return reply;
      } catch (err) {
        request.log.warn({ err }, "following a process log failed");
        const error = isAppError(err)
          ? { code: err.code, message: err.message }
          : { code: "internal", message: "failed" };
        out.write({ type: "error", error });
      }
      out.end();
      return reply;
    },
  );

  app.post(
    `${base}/:processId/stdin`,
    {
      schema: {
        operationId: "writeSandboxProcessStdin",
        tags,
        summary: "Write bytes to a running background process's stdin",
        security: securityAny,
        params: ProcessParams,
        body: z.strictObject({
          data_base64: z.base64().refine((b) => Buffer.from(b, "base64").length <= processLimits.maxInputBytes, {
            message: `at most ${processLimits.maxInputBytes} bytes at once`,
          }),
        }),
        response: { 200: z.object({ bytes_written: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const data = Buffer.from(request.body.data_base64, "base64");
      const { id, processId } = request.params;
      return { bytes_written: await ctx.sandboxes.processes.input(scope, id, processId, data) };
    },
  );

  app.post(
    `${base}/:processId/signal`,
    {
      schema: {
        operationId: "signalSandboxProcess",
        tags,
        summary: "Send a signal to a background process's process group",
        security: securityAny,
        params: ProcessParams,
        body: z.strictObject({ signal: z.enum(processLimits.signals).default("TERM") }),
        response: { 200: ProcessSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const { id, processId } = request.params;
      return ctx.sandboxes.processes.signal(scope, id, processId, request.body.signal);
    },
  );
}

function base64(data: Uint8Array): string {
  return Buffer.from(data).toString("base64");
}

function logView(log: ProcessLogRead) {
  return { ...log, stdout: base64(log.stdout), stderr: base64(log.stderr) };
}
