import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { pageReply, pageSchema } from "../http/pages.js";
import { errorResponses, FreeText, Pagination, securityAny } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { ExecStreamEventSchema, ExecStreamWriter } from "./exec-stream.js";
import { sandboxLimits } from "./limits.js";
import { SandboxParams } from "./route-schemas.js";
import type { SandboxService } from "./service.js";
import { CommandRecordSchema, CommandSchema, commandRecordView, commandView } from "./views.js";

const EnvName = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const RunBody = z.strictObject({
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

/** Commands run in a sandbox, and their trail. */
export function execRoutes(app: App, ctx: { db: Kysely<DB>; access: AccessCache; sandboxes: SandboxService }): void {
  const { sandboxes } = ctx;

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

  app.post(
    "/v1/orgs/:slug/sandboxes/:id/run/stream",
    {
      schema: {
        operationId: "streamSandboxCommand",
        tags: ["sandboxes"],
        summary: "Run a command in a running sandbox, its output sent as it is produced",
        description:
          "The reply is newline-delimited JSON (application/x-ndjson), one ExecStreamEvent a line: `started`, " +
          "then `output` pieces (base64, in order per stream), then `exit` (or `error` if the command failed " +
          "after it started). Failures before it starts are ordinary error replies. A client that goes away " +
          "does not stop the command: it runs to its end or timeout and is recorded like any other.",
        security: securityAny,
        params: SandboxParams,
        body: RunBody,
        response: {
          200: {
            description: "the command's events, one JSON object a line",
            content: { "application/x-ndjson": { schema: ExecStreamEventSchema } },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const body = request.body;
      const writer = new ExecStreamWriter(reply);
      try {
        const command = await sandboxes.runStreaming(
          scope,
          request.params.id,
          {
            command: body.command,
            timeoutSeconds: body.timeout_seconds ?? sandboxLimits.defaultCommandTimeoutSeconds,
            env: body.env ?? {},
          },
          writer.listener,
        );
        writer.exit(command);
      } catch (err) {
        if (!writer.begun) throw err;
        request.log.warn({ err }, "streamed command failed");
        writer.fail(err);
      }
      return reply;
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
          200: pageSchema("commands", CommandRecordSchema),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const { limit, offset } = request.query;
      const { rows, withOutput } = await sandboxes.commands(scope, request.params.id, { limit, offset });
      return pageReply("commands", rows, { limit, offset }, (row) => commandRecordView(row, withOutput));
    },
  );
}
