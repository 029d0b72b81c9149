import type { FastifyError } from "fastify";
import type { Kysely } from "kysely";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { AppError, isAppError } from "../http/errors.js";
import type { App } from "../http/types.js";
import type { SandboxService } from "../sandboxes/service.js";
import { envdRoutes } from "./envd-routes.js";
import { e2bError } from "./errors.js";
import { restRoutes } from "./rest-routes.js";

export const E2B_PREFIX = "/e2b";

/**
 * The E2B-compatible API: E2B's REST API under /e2b and envd under /e2b/envd, so the unmodified SDK
 * works with E2B_API_URL=…/e2b and E2B_SANDBOX_URL=…/e2b/envd. These routes authenticate on their
 * own (X-API-KEY, X-Access-Token), answer errors in E2B's shape and stay out of fluid's OpenAPI document.
 */
export async function e2bRoutes(
  app: App,
  ctx: { db: Kysely<DB>; access: AccessCache; sandboxes: SandboxService },
): Promise<void> {
  await app.register(
    async (scoped) => {
      scoped.addHook("onRoute", (route) => {
        route.config = { ...route.config, public: true };
      });
      scoped.setErrorHandler((err: FastifyError, request, reply) => {
        if (!isAppError(err) && (err.statusCode ?? 500) >= 500) request.log.error({ err }, "E2B request failed");
        const known =
          isAppError(err) || (err.statusCode ?? 500) >= 500
            ? err
            : new AppError(err.statusCode === 415 ? "unsupported_media_type" : "invalid_request", err.message);
        const { status, body } = e2bError(known);
        return reply.code(status).send(body);
      });
      scoped.setNotFoundHandler((request, reply) => {
        const { status, body } = e2bError(
          new AppError(
            "not_found",
            `${request.method} ${request.url.split("?")[0]} is not part of fluid's E2B-compatible API`,
          ),
        );
        return reply.code(status).send(body);
      });
      restRoutes(scoped, ctx);
      envdRoutes(scoped, ctx);
    },
    { prefix: E2B_PREFIX },
  );
}
