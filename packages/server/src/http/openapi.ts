import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";
import { z } from "zod";
import { flagOptionalBody, markOptionalBodies } from "./optional-bodies.js";
import type { App } from "./types.js";

export const OPENAPI_PATH = "/v1/openapi.json";
export const DOCS_PREFIX = "/v1/docs";

/**
 * Routes marked `config: { public: true }` skip authentication, so their operations say so with an
 * explicit `security: []` (an absent one would read as "unspecified" to linters and generators).
 */
const transform: typeof jsonSchemaTransform = (input) => {
  const output = jsonSchemaTransform({ ...input, schema: flagOptionalBody(input.schema) });
  if (input.route.config?.public !== true) return output;
  return { ...output, schema: { ...output.schema, security: [] } };
};

/** Registers the OpenAPI 3.1 generator; must run before any route so every route is collected. */
export async function registerOpenApi(
  app: App,
  options: { version: string; docs: boolean; serverUrl: string },
): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "fluid API",
        version: options.version,
        license: { name: "Apache-2.0", identifier: "Apache-2.0" },
        description:
          "Control plane for fluid: sandboxes cloned from production VMs, read-only inspection, reviewed changes. " +
          "Authenticate with the `fluid_session` cookie (browsers) or `Authorization: Bearer fl_…` (API keys). " +
          'Errors are `{"error":{"code","message"}}`.',
      },
      servers: [{ url: options.serverUrl }],
      components: {
        securitySchemes: {
          cookieAuth: { type: "apiKey", in: "cookie", name: "fluid_session", description: "browser session" },
          bearerAuth: { type: "http", scheme: "bearer", description: "API key (`fl_…`), scoped to one organization" },
        },
      },
    },
    transform,
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
        operationId: "getOpenApiDocument",
        tags: ["meta"],
        summary: "This API's OpenAPI 3.1 document",
        response: { 200: z.record(z.string(), z.unknown()) },
      },
    },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );
}
