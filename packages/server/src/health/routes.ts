import { z } from "zod";
import type { App } from "../http/types.js";
import type { Readiness } from "./readiness.js";

const Check = z.object({ ok: z.boolean(), error: z.string().optional() });
const ReadinessBody = z
  .object({
    status: z.enum(["ready", "not_ready"]),
    checks: z.object({ database: Check, migrations: Check, draining: Check }),
  })
  .meta({ id: "Readiness" });

/**
 * Probes for a load balancer or an orchestrator, unauthenticated: `/livez` answers while the process
 * runs (restart it when it does not), `/readyz` only while this replica can serve (send it traffic).
 */
export function healthRoutes(app: App, readiness: Readiness): void {
  app.get(
    "/livez",
    {
      config: { public: true },
      schema: {
        operationId: "getLiveness",
        tags: ["meta"],
        summary: "Liveness: the process is up (always 200)",
        response: { 200: z.object({ status: z.literal("ok") }) },
      },
    },
    async () => ({ status: "ok" as const }),
  );

  app.get(
    "/readyz",
    {
      config: { public: true },
      schema: {
        operationId: "getReadiness",
        tags: ["meta"],
        summary: "Readiness: 200 while the database answers, migrations are current and the server is not draining",
        response: { 200: ReadinessBody, 503: ReadinessBody },
      },
    },
    async (_request, reply) => {
      const { ready, checks } = readiness.report();
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not_ready", checks });
    },
  );
}
