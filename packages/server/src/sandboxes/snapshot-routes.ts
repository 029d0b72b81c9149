import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { errorResponses, Status, securityAny, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { SandboxParams } from "./route-schemas.js";
import type { SandboxService } from "./service.js";
import { SandboxSchema, SnapshotSchema, sandboxView, snapshotView } from "./views.js";

/** Snapshots of a sandbox: taking, listing, deleting and restoring one. */
export function snapshotRoutes(
  app: App,
  ctx: { db: Kysely<DB>; access: AccessCache; sandboxes: SandboxService },
): void {
  const { sandboxes } = ctx;

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

  app.delete(
    "/v1/orgs/:slug/sandboxes/:id/snapshots/:snapshotId",
    {
      schema: {
        operationId: "deleteSandboxSnapshot",
        tags: ["sandboxes"],
        summary: "Delete one of a sandbox's snapshots from its host, freeing the org's snapshot storage",
        description:
          "Refused with `invalid_state` while a sandbox's disk or a later snapshot is built on it. The sandbox's host must be connected.",
        security: securityAny,
        params: SandboxParams.extend({ snapshotId: Uuid }),
        response: { 200: Status, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      await sandboxes.deleteSnapshot(scope, request.params.id, request.params.snapshotId);
      return { status: "deleted" };
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
}
