import cookie from "@fastify/cookie";
import websocket from "@fastify/websocket";
import Fastify, { type FastifyBaseLogger } from "fastify";
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { registerCsrfProtection } from "./auth/csrf.js";
import { oauthRoutes } from "./auth/oauth-routes.js";
import { resolvePrincipal } from "./auth/resolve-principal.js";
import { authRoutes } from "./auth/routes.js";
import { changeApplyRoutes } from "./changes/apply-routes.js";
import { changeRequestRoutes } from "./changes/routes.js";
import type { AppContext } from "./context.js";
import { e2bRoutes } from "./e2b/routes.js";
import { healthRoutes } from "./health/routes.js";
import { hostRoutes } from "./hosts/routes.js";
import { answerClientError } from "./http/client-errors.js";
import { registerCors } from "./http/cors.js";
import { handleError, registerErrorHandling } from "./http/error-handler.js";
import { AppError } from "./http/errors.js";
import { registerJsonBodyParser } from "./http/json-body.js";
import { DOCS_PREFIX, OPENAPI_PATH, openApiRoute, registerOpenApi } from "./http/openapi.js";
import { ownOrigin } from "./http/origins.js";
import type { App } from "./http/types.js";
import { metricsRoutes } from "./metrics/route.js";
import { apiKeyRoutes } from "./orgs/api-key-routes.js";
import { auditRoutes } from "./orgs/audit-routes.js";
import { invitationRoutes } from "./orgs/invitation-routes.js";
import { memberRoutes } from "./orgs/member-routes.js";
import { orgRoutes } from "./orgs/routes.js";
import { playbookRoutes } from "./playbooks/routes.js";
import { quotaRoutes } from "./quotas/routes.js";
import { forkRoutes } from "./sandboxes/fork-routes.js";
import { sandboxRoutes } from "./sandboxes/routes.js";
import { sourceHostRoutes } from "./sources/routes.js";
import { sourceVmRoutes } from "./sources/vm-routes.js";
import { VERSION } from "./version.js";
import { serveDashboard } from "./web/static.js";

/** Largest JSON body the API accepts; the biggest legitimate one is a 64 KiB command plus env. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

declare module "fastify" {
  interface FastifyContextConfig {
    /** Routes that never look at the caller (health, docs) skip principal resolution. */
    public?: boolean;
  }
}

/** Builds the REST API: plugins, hooks and every route module, on a shared context. */
export async function buildApp(ctx: AppContext): Promise<App> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: ctx.config.trustedProxies.length > 0 ? ctx.config.trustedProxies : false,
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors: handleError,
    clientErrorHandler: answerClientError,
    // A client gets this long to send its whole request (body included), and the headers within it.
    // No idle-connection timeout: a handler may rightly stay silent for minutes (a long command).
    requestTimeout: ctx.config.requestTimeoutMs,
    http: {
      headersTimeout: ctx.config.headersTimeoutMs,
      // Node enforces both timeouts only on this tick (30 s by default), which would stretch them.
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(ctx.config.headersTimeoutMs / 4)),
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: Fastify's default text/plain parser would hand bodies to validation as strings (a
  // misleading 400) instead of the 415 the error catalogue promises for other content types.
  app.removeContentTypeParser("text/plain");
  registerJsonBodyParser(app);

  registerErrorHandling(app);
  await registerOpenApi(app, {
    version: VERSION,
    docs: ctx.config.docs,
    serverUrl: ownOrigin(ctx.config.publicUrl, ctx.config.listen),
  });
  await app.register(cookie);
  // Terminals: a WebSocket upgrade goes through the routes' hooks (authentication included) first.
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  registerCors(app, ctx.config.corsOrigins);
  registerCsrfProtection(app, ctx.config);

  // Without its database a replica answers every API route at once (sign-in included) rather than wait
  // out the pool's connection timeout; the probes, the API description and the dashboard need no database.
  app.addHook("onRequest", async (request) => {
    if (ctx.readiness.databaseReady) return;
    const route = request.routeOptions.url ?? "";
    if (
      !route.startsWith("/v1/") ||
      route === "/v1/health" ||
      route === OPENAPI_PATH ||
      route.startsWith(DOCS_PREFIX)
    ) {
      return;
    }
    throw new AppError(
      "service_unavailable",
      "this replica cannot reach its database; retry shortly or on another replica",
      { headers: { "retry-after": "5" } },
    );
  });

  metricsRoutes(app, ctx.metrics, ctx.config.metricsToken);
  app.decorateRequest("principal", undefined);
  app.addHook("preHandler", async (request) => {
    if (request.routeOptions.config.public) return;
    request.principal = await resolvePrincipal(ctx.db, ctx.access, request);
  });

  app.get(
    "/v1/health",
    {
      config: { public: true },
      schema: {
        operationId: "getHealth",
        tags: ["meta"],
        summary: "Liveness",
        response: { 200: z.object({ status: z.literal("ok") }) },
      },
    },
    async () => ({ status: "ok" as const }),
  );

  healthRoutes(app, ctx.readiness);
  authRoutes(app, ctx);
  oauthRoutes(app, ctx);
  orgRoutes(app, ctx);
  memberRoutes(app, ctx);
  invitationRoutes(app, ctx);
  apiKeyRoutes(app, ctx);
  hostRoutes(app, ctx);
  sandboxRoutes(app, ctx);
  forkRoutes(app, ctx);
  sourceHostRoutes(app, ctx);
  sourceVmRoutes(app, ctx);
  playbookRoutes(app, ctx);
  auditRoutes(app, ctx);
  quotaRoutes(app, ctx);
  changeRequestRoutes(app, ctx);
  changeApplyRoutes(app, ctx);
  await e2bRoutes(app, ctx);
  openApiRoute(app);
  await serveDashboard(app, ctx.config.webDir, ctx.log);

  await app.ready();
  return app;
}
