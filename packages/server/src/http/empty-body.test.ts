import { type Caller, databaseKinds, startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPENAPI_PATH } from "./openapi.js";

const SOME_ID = "00000000-0000-4000-8000-000000000000";
/** What many HTTP clients send by default: a JSON content type on every request, with or without a body. */
const emptyJson = { body: "", headers: { "content-type": "application/json" } };

describe.each(databaseKinds)("empty JSON bodies (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;

  beforeAll(async () => {
    t = await startTestServer(kind);
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
  });
  afterAll(() => t?.close());

  it("a DELETE with Content-Type: application/json and an empty body is treated as having no body", async () => {
    const key = await t.apiKey(owner, "acme");
    const response = await t.call("DELETE", `/v1/orgs/acme/api-keys/${key.id}`, { as: owner, ...emptyJson });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: "revoked" });
  });

  it("a POST to a route that takes no body, with an empty JSON body, succeeds", async () => {
    const signedIn = await t.user("logout@example.com");
    const response = await t.call("POST", "/v1/auth/logout", { as: signedIn, ...emptyJson });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: "logged out" });
  });

  it.each([
    ["DELETE", `/v1/orgs/acme/sandboxes/${SOME_ID}`],
    ["POST", `/v1/orgs/acme/sandboxes/${SOME_ID}/start`],
    ["POST", `/v1/orgs/acme/sandboxes/${SOME_ID}/stop`],
  ])(
    "%s %s with an empty JSON body reaches the handler (404 for an unknown sandbox, not 400)",
    async (method, path) => {
      const response = await t.call(method, path, { as: owner, ...emptyJson });
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe("not_found");
    },
  );

  it("a route that needs a body still answers 400, saying a body is required", async () => {
    const response = await t.call("POST", "/v1/orgs", { as: owner, ...emptyJson });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ error: { code: "invalid_request", message: "a JSON request body is required" } });
  });

  it("the OpenAPI document marks the stop body optional and a needed body required", async () => {
    const doc = (await t.call("GET", OPENAPI_PATH)).body;
    expect(doc.paths["/v1/orgs/{slug}/sandboxes/{id}/stop"].post.requestBody.required).toBe(false);
    expect(doc.paths["/v1/orgs/{slug}/sandboxes/{id}/run"].post.requestBody.required).toBe(true);
  });
});
