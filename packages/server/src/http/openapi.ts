import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";
import { z } from "zod";
import { flagOptionalBody, markOptionalBodies } from "./optional-bodies.js";
import type { App } from "./types.js";

export const OPENAPI_PATH = "/v1/openapi.json";
export const DOCS_PREFIX = "/v1/docs";

/** Registers the OpenAPI 3.1 generator; must run before any route so every route is collected. */
export async function registerOpenApi(app: App, options: { version: string; docs: boolean }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "fluid API",
        version: options.version,
        description:
          "Control plane for fluid: sandboxes cloned from production VMs, read-only inspection, reviewed changes. " +
          "Authenticate with the `fluid_session` cookie (browsers) or `Authorization: Bearer fl_…` (API keys). " +
          'Errors are `{"error":{"code","message"}}`.',
      },
      components: {
        securitySchemes: {
          cookieAuth: { type: "apiKey", in: "cookie", name: "fluid_session", description: "browser session" },
          bearerAuth: { type: "http", scheme: "bearer", description: "API key (`fl_…`), scoped to one organization" },
        },
      },
    },
    transform: (route) => jsonSchemaTransform({ ...route, schema: flagOptionalBody(route.schema) }),
    transformObject: (document) => markOptionalBodies(jsonSchemaTransformObject(document)),
  });
  if (options.docs) {
    await app.register(swaggerUi, { routePrefix: DOCS_PREFIX, staticCSP: true, uiConfig: { url: OPENAPI_PATH } });
  }
}

/** Serves the generated document; registered after the routes. */
export function openApiRoute(app: App): void {
  app.get(
    OPENAPI_PATH,
    {
      config: { public: true },
      schema: {
        tags: ["meta"],
        summary: "This API's OpenAPI 3.1 document",
        response: { 200: z.record(z.string(), z.unknown()) },
      },
    },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );
}
