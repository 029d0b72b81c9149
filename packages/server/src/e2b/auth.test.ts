import { databaseKinds, startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe.each(databaseKinds)("E2B-compatible API authentication (%s)", (kind) => {
  let t: TestServer;
  let key: string;
  let otherKey: string;

  beforeAll(async () => {
    t = await startTestServer(kind);
    const owner = await t.fastUser("e2b-owner");
    await t.org(owner, "e2b-a");
    await t.org(owner, "e2b-b");
    key = (await t.apiKey(owner, "e2b-a")).key;
    otherKey = (await t.apiKey(owner, "e2b-b")).key;
  });

  afterAll(async () => {
    await t.close();
  });

  it("refuses a request without X-API-KEY with E2B's {code, message} 401", async () => {
    const response = await t.call("GET", "/e2b/v2/sandboxes");
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ code: 401, message: "send a fluid API key (fl_…) as x-api-key" });
  });

  it("refuses an unknown key as unauthenticated", async () => {
    const response = await t.call("GET", "/e2b/v2/sandboxes", { headers: { "x-api-key": "fl_nope" } });
    expect(response.status).toBe(401);
    expect(response.body.code).toBe(401);
  });

  it("accepts a fluid API key as X-API-KEY and lists that org's sandboxes", async () => {
    const response = await t.call("GET", "/e2b/v2/sandboxes", { headers: { "x-api-key": key } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual([]);
  });

  it("scopes sandbox ids by the key's org: another org's key sees not found", async () => {
    const id = "01900000-0000-7000-8000-000000000000";
    const response = await t.call("GET", `/e2b/sandboxes/${id}`, { headers: { "x-api-key": otherKey } });
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ code: 404, message: "sandbox not found" });
  });

  it("answers envd calls without E2b-Sandbox-Id with a Connect invalid_argument error", async () => {
    const response = await t.call("POST", "/e2b/envd/filesystem.Filesystem/Stat", {
      headers: { "x-access-token": key },
      body: { path: "/" },
    });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe("invalid_argument");
  });

  it("answers unknown routes in E2B's error shape", async () => {
    const response = await t.call("GET", "/e2b/templates", { headers: { "x-api-key": key } });
    expect(response.status).toBe(404);
    expect(response.body.message).toMatch(/not part of fluid's E2B-compatible API/);
  });
});
