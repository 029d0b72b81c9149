import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const INDEX = '<!doctype html><script type="module" src="/assets/app-1a2b3c.js"></script>';
const SCRIPT = "console.log('dashboard')";

describe("dashboard static files", () => {
  let t: TestServer;
  let parent: string;

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), "fluid-web-"));
    const webDir = join(parent, "dist");
    await mkdir(join(webDir, "assets"), { recursive: true });
    await writeFile(join(webDir, "index.html"), INDEX);
    await writeFile(join(webDir, "assets", "app-1a2b3c.js"), SCRIPT);
    // Beside the web root, so a path that climbs out of it would reach this.
    await writeFile(join(parent, "secret.txt"), "not for browsers");
    t = await startTestServer("pglite", { webDir });
  });
  afterAll(async () => {
    await t?.close();
    await rm(parent, { recursive: true, force: true });
  });

  it("serves index.html at / with a strict CSP and no caching", async () => {
    const response = await t.call("GET", "/");
    expect(response.status).toBe(200);
    expect(response.body).toBe(INDEX);
    expect(response.headers["content-type"]).toMatch(/^text\/html/);
    expect(response.headers["cache-control"]).toBe("no-cache");
    const csp = String(response.headers["content-security-policy"]);
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers["x-frame-options"]).toBe("DENY");
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("answers a client-side route with index.html so a reload keeps the page", async () => {
    const response = await t.call("GET", "/o/acme/sandboxes/0190f0e0-0000-7000-8000-000000000000");
    expect(response.status).toBe(200);
    expect(response.body).toBe(INDEX);
  });

  it("serves hashed assets with their type and an immutable cache header", async () => {
    const response = await t.call("GET", "/assets/app-1a2b3c.js");
    expect(response.status).toBe(200);
    expect(response.body).toBe(SCRIPT);
    expect(response.headers["content-type"]).toMatch(/^text\/javascript/);
    expect(response.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
  });

  it("answers a missing asset with the API's 404 error, not with the app", async () => {
    const response = await t.call("GET", "/assets/app-old.js");
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("not_found");
  });

  it("leaves /v1 to the API: an unknown API path is a JSON 404", async () => {
    const response = await t.call("GET", "/v1/no-such-thing");
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("not_found");
    expect((await t.call("GET", "/v1/health")).body).toEqual({ status: "ok" });
  });

  it("never serves a file outside the web root", async () => {
    for (const path of ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt"]) {
      const response = await t.call("GET", path);
      expect(String(response.body)).not.toContain("not for browsers");
    }
  });
});

describe("without a dashboard build", () => {
  it("starts API-only and logs why / has no dashboard", async () => {
    const t = await startTestServer("pglite", { webDir: join(tmpdir(), "fluid-web-never-built") });
    try {
      expect((await t.call("GET", "/")).status).toBe(404);
      expect((await t.call("GET", "/v1/health")).status).toBe(200);
      expect(t.logs.join("")).toContain("dashboard not built");
    } finally {
      await t.close();
    }
  });
});
