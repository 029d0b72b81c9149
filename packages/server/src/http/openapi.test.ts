import SwaggerParser from "@apidevtools/swagger-parser";
import { startTestServer, type TestServer } from "@fluid/testkit";
import type { RouteOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { E2B_PREFIX } from "../e2b/routes.js";
import { DOCS_PREFIX, OPENAPI_PATH } from "./openapi.js";

/**
 * Every route the app registers, seen through an `onRoute` hook installed on each Fastify instance
 * as it is created, so the list comes from Fastify itself rather than from the OpenAPI generator
 * under test.
 */
const registered = vi.hoisted((): RouteOptions[] => []);
vi.mock("fastify", async (importOriginal) => {
  const actual = await importOriginal<typeof import("fastify")>();
  type Factory = (options?: object) => { addHook(name: "onRoute", hook: (route: RouteOptions) => void): unknown };
  const create = actual.default as unknown as Factory;
  const recording = ((options?: object) => {
    const app = create(options);
    app.addHook("onRoute", (route) => {
      registered.push(route);
    });
    return app;
  }) as unknown as typeof actual.default;
  return { ...actual, default: recording, fastify: recording };
});

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

type Document = {
  openapi: string;
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
};

const openApiPath = (url: string) => url.replace(/:(\w+)/g, "{$1}");

// The route table and document do not depend on the database, so one kind is enough here.
describe("OpenAPI document", () => {
  let t: TestServer;
  let doc: Document;
  let routes: { method: string; path: string; isPublic: boolean; hasBody: boolean }[];

  beforeAll(async () => {
    t = await startTestServer("pglite");
    const response = await t.call<Document>("GET", OPENAPI_PATH);
    expect(response.status).toBe(200);
    doc = response.body;
    routes = registered.flatMap((route) =>
      [route.method]
        .flat()
        .filter((method) => method !== "HEAD")
        .filter(() => route.url !== DOCS_PREFIX && !route.url.startsWith(`${DOCS_PREFIX}/`))
        // The E2B-compatible API follows E2B's published contract, deliberately not fluid's document.
        .filter(() => !route.url.startsWith(`${E2B_PREFIX}/`))
        .map((method) => ({
          method: method.toLowerCase(),
          path: openApiPath(route.url),
          isPublic: route.config?.public === true,
          hasBody: route.schema?.body !== undefined,
        })),
    );
  });
  afterAll(() => t?.close());

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
    );
  const operation = (method: string, path: string) => doc.paths[path]?.[method];

  it("is a valid OpenAPI 3.1 document", async () => {
    expect(doc.openapi).toBe("3.1.0");
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
  });

  it("declares the cookie and bearer security schemes", () => {
    expect(doc.components.securitySchemes).toMatchObject({
      cookieAuth: { type: "apiKey", in: "cookie", name: "fluid_session" },
      bearerAuth: { type: "http", scheme: "bearer" },
    });
  });

  it("documents every registered route with the same method and path", () => {
    expect(routes.length).toBeGreaterThan(20);
    const missing = routes.filter((r) => !operation(r.method, r.path)).map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it("documents no operation that is not a registered route", () => {
    const known = new Set(routes.map((r) => `${r.method} ${r.path}`));
    const phantom = operations()
      .map(({ method, path }) => `${method} ${path}`)
      .filter((key) => !known.has(key));
    expect(phantom).toEqual([]);
  });

  it("gives every operation a 2xx response with a JSON schema (or, for redirect endpoints, a 3xx response; for WebSocket routes, 101; /metrics answers text, a streamed command NDJSON)", () => {
    const without = operations()
      .filter(({ operation, path }) => {
        const statuses = Object.keys(operation.responses ?? {});
        const success = statuses.filter((status) => /^2\d\d$/.test(status));
        if (success.length === 0) return !statuses.some((status) => /^3\d\d$/.test(status) || status === "101");
        const media =
          path === "/metrics"
            ? "text/plain"
            : path.endsWith("/run/stream")
              ? "application/x-ndjson"
              : "application/json";
        return success.some((status) => !operation.responses?.[status]?.content?.[media]?.schema);
      })
      .map(({ method, path }) => `${method} ${path}`);
    expect(without).toEqual([]);
  });

  it("declares security on every non-public operation, using only the declared schemes", () => {
    const schemes = Object.keys(doc.components.securitySchemes);
    const problems = routes
      .filter((r) => !r.isPublic)
      .filter((r) => {
        const security = operation(r.method, r.path)?.security ?? [];
        return security.length === 0 || security.some((s) => Object.keys(s).some((name) => !schemes.includes(name)));
      })
      .map((r) => `${r.method} ${r.path}`);
    expect(routes.some((r) => !r.isPublic)).toBe(true);
    expect(problems).toEqual([]);
  });

  it("OpenAPI lint: public operations declare an explicit empty security (security: [])", () => {
    const publicRoutes = routes.filter((r) => r.isPublic);
    expect(publicRoutes.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining(["get /v1/health", `get ${OPENAPI_PATH}`, "post /v1/auth/login"]),
    );
    const notExplicit = publicRoutes
      .filter((r) => JSON.stringify(operation(r.method, r.path)?.security) !== "[]")
      .map((r) => `${r.method} ${r.path}`);
    expect(notExplicit).toEqual([]);
  });

  it("OpenAPI lint: every operation has a unique camelCase operationId", () => {
    const ids = operations().map(({ operation }) => operation.operationId);
    const malformed = operations()
      .filter(({ operation }) => !/^[a-z][A-Za-z0-9]*$/.test(operation.operationId ?? ""))
      .map(({ method, path }) => `${method} ${path}`);
    expect(malformed).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operation("post", "/v1/orgs/{slug}/sandboxes/{id}/run")?.operationId).toBe("runSandboxCommand");
  });

  it("OpenAPI lint: the document names its server (the listen address when no public URL is configured)", () => {
    expect(doc.servers).toEqual([{ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) }]);
  });

  it("OpenAPI lint: playbook render declares its ?format=yaml answer as application/yaml", () => {
    const content = operation("get", "/v1/orgs/{slug}/playbooks/{playbookId}/render")?.responses?.["200"]?.content;
    expect(Object.keys(content ?? {}).sort()).toEqual(["application/json", "application/yaml"]);
    expect(content?.["application/yaml"]?.schema).toMatchObject({ type: "string" });
  });

  it("OpenAPI lint: operations that reach a source host document the 501 of unsupported source-host kinds", () => {
    const reaching = [
      "createSandbox",
      "listSourceVms",
      "prepareSourceVm",
      "runSourceCommand",
      "inspectSourceVm",
      "readSourceFile",
    ];
    const without = operations()
      .filter(({ operation }) => reaching.includes(operation.operationId ?? ""))
      .filter(({ operation }) => !operation.responses?.["501"]?.content?.["application/json"]?.schema)
      .map(({ operation }) => operation.operationId);
    expect(operations().filter(({ operation }) => reaching.includes(operation.operationId ?? ""))).toHaveLength(
      reaching.length,
    );
    expect(without).toEqual([]);
  });

  it("documents a JSON request body schema for every route that validates a body", () => {
    const withBody = routes.filter((r) => r.hasBody);
    expect(withBody.length).toBeGreaterThan(5);
    const undocumented = withBody
      .filter((r) => !operation(r.method, r.path)?.requestBody?.content?.["application/json"]?.schema)
      .map((r) => `${r.method} ${r.path}`);
    expect(undocumented).toEqual([]);
  });
});

describe("OpenAPI document with a configured public URL", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer("pglite", { publicUrl: "https://fluid.example" });
  });
  afterAll(() => t?.close());

  it("OpenAPI lint: the document names its server: the public URL", async () => {
    const response = await t.call<Document>("GET", OPENAPI_PATH);
    expect(response.body.servers).toEqual([{ url: "https://fluid.example" }]);
  });
});
