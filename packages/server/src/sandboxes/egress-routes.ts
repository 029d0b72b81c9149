import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { errorResponses, securityAny } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { EgressEntry, MAX_EGRESS_ENTRIES } from "./egress.js";
import { SandboxParams } from "./route-schemas.js";
import type { SandboxService } from "./service.js";
import { SandboxSchema, sandboxView } from "./views.js";

/** Changing what a running sandbox may reach: for org admins, never offered to agents as an MCP tool. */
export function egressRoutes(app: App, ctx: { db: Kysely<DB>; access: AccessCache; sandboxes: SandboxService }): void {
  app.put(
    "/v1/orgs/:slug/sandboxes/:id/egress",
    {
      schema: {
        operationId: "setSandboxEgress",
        tags: ["sandboxes"],
        summary: "Replace a sandbox's egress: anywhere, an allowlist of CIDRs and DNS names with ports, or nothing",
        description:
          "Org admins only (an API key cannot tell a person from an agent; no MCP tool exposes this). Applied on the " +
          "host at once, open connections included, and audited with the egress before and after. Entries: " +
          "`10.0.0.0/8`, `10.0.0.0/8:443`, `deb.debian.org`, `*.example.com:80,443`. Names are looked up through the " +
          "host's egress resolver, which answers only allowlisted names. Neither field set: no egress.",
        security: securityAny,
        params: SandboxParams,
        body: z.strictObject({
          allow_all: z.boolean().default(false).describe("let the sandbox reach anywhere outside its network"),
          allow: z.array(EgressEntry).max(MAX_EGRESS_ENTRIES).default([]).describe("what the sandbox may reach"),
        }),
        response: { 200: SandboxSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const { allow_all: allowAll, allow } = request.body;
      return sandboxView(await ctx.sandboxes.setEgress(scope, request.params.id, { allowAll, allow }));
    },
  );
}
