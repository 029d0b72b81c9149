import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import { errorResponses, securityAny, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { type ForkDeps, SandboxForks } from "./fork.js";
import { SandboxName, SandboxParams } from "./route-schemas.js";
import { SandboxSchema, sandboxView } from "./views.js";

/** Most forks one request makes (each is a VM on the parent's host). */
export const MAX_FORKS = 16;

const ForkBody = z
  .strictObject({
    count: z.number().int().min(1).max(MAX_FORKS).describe(`how many sandboxes to fork (1-${MAX_FORKS})`),
    snapshot_id: Uuid.optional().describe(
      "a snapshot of this sandbox to fork from; default: one taken now, with memory when the sandbox is running",
    ),
    names: z
      .array(SandboxName)
      .max(MAX_FORKS)
      .refine((names) => new Set(names).size === names.length, "must be distinct")
      .optional()
      .describe("one name per fork; default <parent>-fork-<n>"),
    network: z
      .enum(["isolated", "shared"])
      .optional()
      .describe(
        "isolated (default): like every sandbox, the forks reach no other sandbox; shared: they can reach the parent's other forks made with shared (not the parent), on the host's bridge",
      ),
  })
  .refine((body) => body.names === undefined || body.names.length === body.count, {
    message: "must have one name per fork (count of them)",
    path: ["names"],
  });

export function forkRoutes(app: App, ctx: ForkDeps & { access: AccessCache }): void {
  const forks = new SandboxForks(ctx);

  app.post(
    "/v1/orgs/:slug/sandboxes/:id/fork",
    {
      schema: {
        operationId: "forkSandbox",
        tags: ["sandboxes"],
        summary: "Fork a sandbox: count new sandboxes from one snapshot of it, each with its own identity and disk",
        security: securityAny,
        params: SandboxParams,
        body: ForkBody,
        response: { 201: z.object({ sandboxes: z.array(SandboxSchema) }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const body = request.body;
      const sandboxes = await forks.fork(scope, request.params.id, {
        count: body.count,
        snapshotId: body.snapshot_id,
        names: body.names,
        sharedNetwork: body.network === "shared",
      });
      return reply.code(201).send({ sandboxes: sandboxes.map(sandboxView) });
    },
  );
}
