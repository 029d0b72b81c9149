import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { invalid } from "../http/errors.js";
import { errorResponses, FreeText, securityAny, Timestamp } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { NoiseOverride, SandboxDiffSchema } from "./diff.js";
import { sandboxLimits } from "./limits.js";
import { SandboxParams } from "./route-schemas.js";
import type { SandboxService } from "./service.js";

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

/** A path inside the sandbox, as every file route takes it. */
export const GuestPath = FreeText.min(1)
  .max(sandboxLimits.maxGuestPathBytes)
  .refine((path) => Buffer.byteLength(path) <= sandboxLimits.maxGuestPathBytes, {
    message: `must be at most ${sandboxLimits.maxGuestPathBytes} bytes`,
  })
  .regex(/^\//, "must be an absolute path");

/** A file to write: at most sandboxLimits.maxFileBytes once decoded, with optional octal permission bits. */
export const WriteFileBody = z.strictObject({
  path: GuestPath,
  content_base64: z.base64().refine((b) => Buffer.byteLength(b, "base64") <= sandboxLimits.maxFileBytes, {
    message: `must decode to at most ${sandboxLimits.maxFileBytes} bytes`,
  }),
  mode: z
    .string()
    .regex(/^[0-7]{3,4}$/, "must be octal permission bits like 0644")
    .optional(),
});

/** Files in a sandbox, and what it changed against its image. */
export function fileRoutes(app: App, ctx: { db: Kysely<DB>; access: AccessCache; sandboxes: SandboxService }): void {
  const { sandboxes } = ctx;

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
        body: WriteFileBody,
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
}
