import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB, Sandbox } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import type { App } from "../http/types.js";
import { isUuid } from "../lib/ids.js";
import type { OrgScope } from "../orgs/access.js";
import { sandboxLimits } from "../sandboxes/limits.js";
import type { SandboxService } from "../sandboxes/service.js";
import { apiKeyHeader, e2bScope, keyOf } from "./auth.js";
import { notSupported } from "./errors.js";
import { parse } from "./parse.js";
import { EnvVars, Metadata, metadataFilter } from "./sandbox-options.js";
import { imageForTemplate } from "./templates.js";
import { listedSandboxView, newSandboxView, sandboxDetailView } from "./views.js";

interface Ctx {
  db: Kysely<DB>;
  access: AccessCache;
  sandboxes: SandboxService;
}

/** E2B counts a sandbox's life in seconds from now; fluid's shortest lease is a minute, so shorter asks get that. */
export function leaseSeconds(timeout: number): number {
  return Math.max(sandboxLimits.minTtlSeconds, Math.ceil(timeout));
}

const isEmpty = (value: unknown) =>
  value === undefined || value === null || (typeof value === "object" && Object.keys(value).length === 0);

/** E2B's NewSandbox body; fields fluid cannot honour are refused by name rather than ignored. */
const NewSandbox = z.looseObject({
  templateID: z.string().min(1).max(128),
  timeout: z.number().int().min(0).optional(),
  allow_internet_access: z.boolean().optional(),
  metadata: Metadata.nullish(),
  envVars: EnvVars.nullish(),
  autoPause: z.boolean().optional(),
});
const unsupportedCreateFields = ["mcp", "network", "volumeMounts", "secure", "iam", "autoResume"] as const;

const Timeout = z.looseObject({ timeout: z.number().int().min(0) });
const ConnectBody = z.looseObject({ timeout: z.number().int().min(0).optional() });
const ListQuery = z.looseObject({
  limit: z.coerce.number().int().min(1).max(100).default(100),
  nextToken: z
    .string()
    .regex(/^\d{1,9}$/, "nextToken is not one fluid gave out")
    .optional(),
  metadata: z.string().optional(),
  state: z.string().optional(),
});

/** Refuses a create whose options fluid would otherwise silently drop. */
export function assertCreatable(body: z.infer<typeof NewSandbox>): void {
  if (body.autoPause === true) throw notSupported("autoPause");
  for (const field of unsupportedCreateFields) {
    if (!isEmpty(body[field])) throw notSupported(`the '${field}' option`);
  }
}

function idParam(request: FastifyRequest): string {
  const id = (request.params as { id?: string }).id ?? "";
  if (!isUuid(id)) throw new AppError("not_found", `sandbox ${id} not found`);
  return id;
}

/** Sandboxes as E2B's REST API offers them (create, list, detail, connect, timeout, kill). */
export function restRoutes(app: App, ctx: Ctx): void {
  const { sandboxes } = ctx;
  const scopeOf = (request: FastifyRequest): Promise<OrgScope> => e2bScope(ctx, request, apiKeyHeader);

  const create = async (request: FastifyRequest) => {
    const scope = await scopeOf(request);
    const body = parse(NewSandbox, request.body, "body");
    assertCreatable(body);
    const sandbox = await sandboxes.create(
      scope,
      {
        sourceVm: imageForTemplate(body.templateID),
        ttlSeconds: body.timeout === undefined ? undefined : leaseSeconds(body.timeout),
        allowEgress: body.allow_internet_access,
        metadata: body.metadata ?? undefined,
        envVars: body.envVars ?? undefined,
      },
      { wait: true },
    );
    if (sandbox.state !== "RUNNING") {
      throw new AppError("host_error", `sandbox ${sandbox.id} did not start: ${sandbox.error ?? sandbox.state}`);
    }
    return newSandboxView(sandbox, keyOf(request, apiKeyHeader));
  };
  for (const path of ["/sandboxes", "/v2/sandboxes"]) {
    app.post(path, { schema: { hide: true } }, async (request, reply) => reply.code(201).send(await create(request)));
  }

  const list = async (request: FastifyRequest): Promise<{ rows: Sandbox[]; next: string | undefined }> => {
    const scope = await scopeOf(request);
    const query = parse(ListQuery, request.query, "query");
    const offset = Number(query.nextToken ?? 0);
    const rows = await sandboxes.list(scope, {
      limit: query.limit + 1,
      offset,
      includeEnded: false,
      metadata: metadataFilter(query.metadata),
    });
    const states = query.state?.split(",").filter(Boolean);
    const page = rows.slice(0, query.limit);
    const wanted = states ? page.filter((row) => states.includes(listedSandboxView(row).state)) : page;
    return { rows: wanted, next: rows.length > query.limit ? String(offset + query.limit) : undefined };
  };
  for (const path of ["/sandboxes", "/v2/sandboxes"]) {
    app.get(path, { schema: { hide: true } }, async (request, reply) => {
      const { rows, next } = await list(request);
      if (next !== undefined) reply.header("x-next-token", next);
      return rows.map(listedSandboxView);
    });
  }

  app.get("/sandboxes/:id", { schema: { hide: true } }, async (request) => {
    const scope = await scopeOf(request);
    return sandboxDetailView(await sandboxes.get(scope, idParam(request)));
  });

  app.delete("/sandboxes/:id", { schema: { hide: true } }, async (request, reply) => {
    const scope = await scopeOf(request);
    const id = idParam(request);
    // E2B answers 404 for a sandbox already gone, which its SDK reads as "was not running".
    if ((await sandboxes.get(scope, id)).ended_at) throw new AppError("not_found", `sandbox ${id} not found`);
    await sandboxes.destroy(scope, id);
    return reply.code(204).send();
  });

  app.post("/sandboxes/:id/timeout", { schema: { hide: true } }, async (request, reply) => {
    const scope = await scopeOf(request);
    const body = parse(Timeout, request.body, "body");
    await sandboxes.extend(scope, idParam(request), leaseSeconds(body.timeout));
    return reply.code(204).send();
  });

  const connect = async (request: FastifyRequest) => {
    const scope = await scopeOf(request);
    const id = idParam(request);
    const body = parse(ConnectBody, request.body, "body");
    let sandbox = await sandboxes.get(scope, id);
    if (sandbox.ended_at) throw new AppError("not_found", `sandbox ${id} not found (it has ended)`);
    if (sandbox.state === "STOPPED") throw notSupported("resuming a paused (stopped) sandbox");
    if (body.timeout !== undefined) sandbox = await sandboxes.extend(scope, id, leaseSeconds(body.timeout));
    return newSandboxView(sandbox, keyOf(request, apiKeyHeader));
  };
  for (const path of ["/sandboxes/:id/connect", "/v2/sandboxes/:id/connect"]) {
    app.post(path, { schema: { hide: true } }, async (request) => connect(request));
  }

  const unsupported: [string, string][] = [
    ["/sandboxes/:id/pause", "pausing a sandbox"],
    ["/sandboxes/:id/resume", "resuming a sandbox"],
    ["/sandboxes/:id/snapshots", "sandbox snapshots"],
    ["/sandboxes/:id/fork", "forking a sandbox"],
    ["/sandboxes/:id/refreshes", "refreshing a sandbox (use setTimeout)"],
  ];
  for (const [path, what] of unsupported) {
    app.post(path, { schema: { hide: true } }, async (request) => {
      await scopeOf(request);
      throw notSupported(what);
    });
  }
}
