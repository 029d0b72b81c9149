import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Caller, type CallOptions, databaseKinds, startTestServer, type TestServer } from "@fluid/testkit";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BODY_LIMIT_BYTES } from "../app.js";
import { loadConfig } from "../config/config.js";

const APP = "https://app.example";
const PUBLIC = "https://fluid.example";
const EVIL = "https://evil.example";

const json = { "content-type": "application/json" };
const varyOf = (headers: Record<string, unknown>) => String(headers.vary ?? "").split(/\s*,\s*/);

describe.each(databaseKinds)("HTTP layer (%s)", (kind) => {
  describe("with a configured frontend origin and public URL", () => {
    let t: TestServer;
    let owner: Caller;

    beforeAll(async () => {
      t = await startTestServer(kind, { corsOrigins: [APP], publicUrl: PUBLIC });
      owner = await t.user("owner@example.com");
    });
    afterAll(() => t?.close());

    const orgSlugs = async () =>
      (await t.call("GET", "/v1/orgs", { as: owner })).body.organizations.map((o: { slug: string }) => o.slug);

    describe("error format", () => {
      it("an unknown route is 404 not_found, naming the method and path but not the query", async () => {
        const response = await t.call("GET", "/v1/no-such-thing?token=abc");
        expect(response.status).toBe(404);
        expect(response.body).toEqual({ error: { code: "not_found", message: "no route for GET /v1/no-such-thing" } });
      });

      it("an unknown body field is 400 invalid_request naming the field", async () => {
        const response = await t.call("POST", "/v1/auth/login", {
          body: { email: "a@example.com", password: "pw", remember_me: true },
        });
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe("invalid_request");
        expect(response.body.error.message).toMatch(/^body: .*remember_me/);
      });

      it("the validation message names the offending field", async () => {
        const response = await t.call("POST", "/v1/auth/register", {
          body: { email: "not-an-email", password: "correct horse battery", display_name: "A" },
        });
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe("invalid_request");
        expect(response.body.error.message).toMatch(/^body\.email: /);
      });

      it("an invalid path parameter is reported under params", async () => {
        const response = await t.call("GET", "/v1/orgs/Not_A_Slug", { as: owner });
        expect(response.status).toBe(400);
        expect(response.body).toEqual({
          error: { code: "invalid_request", message: "params.slug: must be 3-50 lowercase letters, digits or dashes" },
        });
      });

      it("a malformed percent-encoding in the path is 400 in the API's error format (not Fastify's)", async () => {
        const response = await t.call("GET", "/v1/orgs/%zz/hosts");
        expect(response.status).toBe(400);
        expect(response.body).toEqual({
          error: { code: "invalid_request", message: "'/v1/orgs/%zz/hosts' is not a valid url component" },
        });
      });

      it("an over-long path parameter is 414 in the API's error format (not Fastify's)", async () => {
        const response = await t.call("GET", `/v1/orgs/${"a".repeat(101)}`);
        expect(response.status).toBe(414);
        expect(response.body).toEqual({
          error: { code: "invalid_request", message: expect.stringMatching(/exceeding the max param length/) },
        });
      });

      it("malformed JSON is 400 invalid_request", async () => {
        const response = await t.call("POST", "/v1/auth/login", { body: '{"email":', headers: json });
        expect(response.status).toBe(400);
        expect(response.body).toEqual({
          error: { code: "invalid_request", message: "request body is not valid JSON" },
        });
      });

      it("an empty JSON body where the route needs one is 400 invalid_request", async () => {
        const response = await t.call("POST", "/v1/auth/login", { body: "", headers: json });
        expect(response.status).toBe(400);
        expect(response.body).toEqual({
          error: { code: "invalid_request", message: "a JSON request body is required" },
        });
      });

      it("a body over 1 MiB is 413 payload_too_large", async () => {
        expect(BODY_LIMIT_BYTES).toBe(1024 * 1024);
        const response = await t.call("POST", "/v1/auth/login", {
          body: `"${"a".repeat(BODY_LIMIT_BYTES - 1)}"`,
          headers: json,
        });
        expect(response.status).toBe(413);
        expect(response.body).toEqual({ error: { code: "payload_too_large", message: "request body is too large" } });
      });

      it("a body of exactly 1 MiB is within the limit (and then validated)", async () => {
        const prefix = '{"email":"a@example.com","password":"pw","pad":"';
        const body = `${prefix}${"a".repeat(BODY_LIMIT_BYTES - prefix.length - 2)}"}`;
        expect(Buffer.byteLength(body)).toBe(BODY_LIMIT_BYTES);
        const response = await t.call("POST", "/v1/auth/login", { body, headers: json });
        expect(response.status).toBe(400);
        expect(response.body.error.message).toMatch(/pad/);
      });

      it.each(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])(
        "a %s body is 415 unsupported_media_type",
        async (contentType) => {
          const response = await t.call("POST", "/v1/auth/login", {
            body: "email=a@example.com",
            headers: { "content-type": contentType },
          });
          expect(response.status).toBe(415);
          expect(response.body).toEqual({
            error: { code: "unsupported_media_type", message: "content type must be application/json" },
          });
        },
      );

      it("application errors use the same shape", async () => {
        const response = await t.call("GET", "/v1/auth/me");
        expect(response.status).toBe(401);
        expect(response.body).toEqual({ error: { code: "unauthenticated", message: "sign in or send an API key" } });
      });
    });

    describe("CORS", () => {
      const preflight = (origin: string) => ({ headers: { origin, "access-control-request-method": "POST" } });
      const cases: [string, number, string, string, CallOptions][] = [
        ["an allowed origin", 200, "GET", "/v1/health", { headers: { origin: APP } }],
        ["a disallowed origin", 200, "GET", "/v1/health", { headers: { origin: EVIL } }],
        ["no origin", 200, "GET", "/v1/health", {}],
        ["a 404", 404, "GET", "/v1/no-such-thing", { headers: { origin: APP } }],
        ["a 400", 400, "POST", "/v1/auth/login", { body: "{", headers: { ...json, origin: APP } }],
        ["a 401", 401, "GET", "/v1/auth/me", { headers: { origin: EVIL } }],
        ["a 413", 413, "POST", "/v1/auth/login", { body: `"${"a".repeat(BODY_LIMIT_BYTES)}"`, headers: json }],
        ["a 415", 415, "POST", "/v1/auth/login", { body: "x", headers: { "content-type": "text/plain" } }],
        ["a refused cross-site write", 403, "POST", "/v1/orgs", { body: { name: "x" }, headers: { origin: EVIL } }],
        ["an allowed preflight", 204, "OPTIONS", "/v1/orgs", preflight(APP)],
        ["a refused preflight", 204, "OPTIONS", "/v1/orgs", preflight(EVIL)],
        ["the OpenAPI document", 200, "GET", "/v1/openapi.json", { headers: { origin: APP } }],
        ["the docs page", 200, "GET", "/v1/docs", { headers: { origin: APP } }],
        ["a docs asset", 200, "GET", "/v1/docs/static/swagger-ui.css", { headers: { origin: APP } }],
      ];

      it.each(cases)(
        "cors-vary-origin-header: %s (%i) carries Vary: Origin",
        async (_case, status, method, path, options) => {
          const response = await t.call(method, path, options);
          expect(response.status).toBe(status);
          expect(varyOf(response.headers)).toContain("Origin");
        },
      );

      it("an allowed origin gets Access-Control-Allow-Origin and credentials, also on errors", async () => {
        for (const path of ["/v1/health", "/v1/auth/me"]) {
          const response = await t.call("GET", path, { headers: { origin: APP } });
          expect(response.headers["access-control-allow-origin"]).toBe(APP);
          expect(response.headers["access-control-allow-credentials"]).toBe("true");
        }
      });

      it("a disallowed origin (or none) gets no CORS grant", async () => {
        const variants: Record<string, string>[] = [{ origin: EVIL }, { origin: PUBLIC }, { origin: "null" }, {}];
        for (const headers of variants) {
          const response = await t.call("GET", "/v1/health", { headers });
          expect(response.status).toBe(200);
          expect(response.headers["access-control-allow-origin"]).toBeUndefined();
          expect(response.headers["access-control-allow-credentials"]).toBeUndefined();
        }
      });

      it("a preflight from an allowed origin is 204 with the allowed methods and headers", async () => {
        const response = await t.call("OPTIONS", "/v1/orgs/acme", {
          headers: {
            origin: APP,
            "access-control-request-method": "PATCH",
            "access-control-request-headers": "content-type",
          },
        });
        expect(response.status).toBe(204);
        expect(response.headers).toMatchObject({
          "access-control-allow-origin": APP,
          "access-control-allow-credentials": "true",
          "access-control-max-age": "86400",
        });
        expect(String(response.headers["access-control-allow-methods"]).split(", ")).toEqual(
          expect.arrayContaining(["GET", "POST", "PATCH", "DELETE"]),
        );
        expect(String(response.headers["access-control-allow-headers"]).split(", ")).toEqual(
          expect.arrayContaining(["Content-Type", "Authorization"]),
        );
      });

      it("a preflight from a disallowed origin is 204 without any grant", async () => {
        const response = await t.call("OPTIONS", "/v1/orgs", {
          headers: { origin: EVIL, "access-control-request-method": "POST" },
        });
        expect(response.status).toBe(204);
        for (const header of [
          "access-control-allow-origin",
          "access-control-allow-credentials",
          "access-control-allow-methods",
          "access-control-allow-headers",
        ]) {
          expect(response.headers[header]).toBeUndefined();
        }
      });
    });

    describe("CSRF", () => {
      const createOrg = (slug: string, headers: Record<string, string>) =>
        t.call("POST", "/v1/orgs", { as: owner, body: { name: slug, slug }, headers });

      it.each([
        ["a foreign Origin", "csrf-origin", { origin: EVIL }],
        ["Origin: null", "csrf-null", { origin: "null" }],
        ["Sec-Fetch-Site: cross-site without Origin", "csrf-fetch-site", { "sec-fetch-site": "cross-site" }],
        ["a foreign Origin that claims same-site", "csrf-same-site", { origin: EVIL, "sec-fetch-site": "same-site" }],
      ])("a cookie-authenticated POST with %s is refused 403 and creates nothing", async (_case, slug, headers) => {
        const response = await createOrg(slug, headers);
        expect(response.status).toBe(403);
        expect(response.body).toEqual({
          error: { code: "forbidden", message: "cross-site request refused (Origin not allowed)" },
        });
        expect(await orgSlugs()).not.toContain(slug);
      });

      it("a cookie-authenticated DELETE from a foreign Origin is refused and the org survives", async () => {
        await t.org(owner, "keep-me");
        const response = await t.call("DELETE", "/v1/orgs/keep-me", { as: owner, headers: { origin: EVIL } });
        expect(response.status).toBe(403);
        expect(await orgSlugs()).toContain("keep-me");
      });

      it("sign-in from a foreign Origin is refused (login CSRF)", async () => {
        const response = await t.call("POST", "/v1/auth/login", {
          body: { email: "owner@example.com", password: "correct horse battery" },
          headers: { origin: EVIL },
        });
        expect(response.status).toBe(403);
        expect(response.headers["set-cookie"]).toBeUndefined();
      });

      it.each([
        ["the configured frontend origin (cross-site)", "ok-frontend", { origin: APP, "sec-fetch-site": "cross-site" }],
        ["the public URL origin", "ok-public-url", { origin: PUBLIC, "sec-fetch-site": "same-origin" }],
        ["no Origin (a non-browser client)", "ok-no-origin", {}],
      ])("a cookie-authenticated POST from %s is accepted", async (_case, slug, headers) => {
        const response = await createOrg(slug, headers);
        expect(response.status).toBe(201);
        expect(await orgSlugs()).toContain(slug);
      });

      it("a Bearer-authenticated write is not subject to the Origin check", async () => {
        await t.org(owner, "bearer-org");
        const key = await t.apiKey(owner, "bearer-org", "admin");
        const response = await t.call("PATCH", "/v1/orgs/bearer-org", {
          as: { key: key.key },
          body: { name: "Renamed" },
          headers: { origin: EVIL, "sec-fetch-site": "cross-site" },
        });
        expect(response.status).toBe(200);
        expect(response.body.name).toBe("Renamed");
      });
    });

    describe("meta routes", () => {
      it("/v1/health answers 200 ok without authentication", async () => {
        const response = await t.call("GET", "/v1/health");
        expect(response.status).toBe(200);
        expect(response.body).toEqual({ status: "ok" });
      });

      it("/v1/docs serves the API docs UI as HTML", async () => {
        const response = await t.call("GET", "/v1/docs");
        expect(response.status).toBe(200);
        expect(response.headers["content-type"]).toMatch(/^text\/html/);
        expect(response.body).toMatch(/swagger-ui/i);
      });
    });
  });

  describe("internal errors", () => {
    let t: TestServer;
    let owner: Caller;

    beforeAll(async () => {
      t = await startTestServer(kind, { corsOrigins: [APP] });
      owner = await t.user("owner@example.com");
      // A table going missing under a running server stands in for any unexpected database error.
      await sql`ALTER TABLE orgs RENAME TO orgs_moved_away`.execute(t.server.ctx.db);
    });
    afterAll(() => t?.close());

    it("internal-errors-not-leaked-to-clients: a database failure is a generic 500 for the client, with the detail only in the log", async () => {
      const response = await t.call("GET", "/v1/orgs", { as: owner });
      expect(response.status).toBe(500);
      expect(response.body).toEqual({ error: { code: "internal", message: "internal error" } });
      const logged = t.logs.map((line) => JSON.parse(line)).find((line) => line.msg === "unhandled error");
      expect(logged).toMatchObject({ level: 50, reqId: expect.any(String) });
      expect(logged.err.message).toMatch(/relation "orgs" does not exist/);
      expect(logged.err.stack).toEqual(expect.any(String));
    });

    it("cors-vary-origin-header: a 500 still carries Vary: Origin and the allowed origin's grant", async () => {
      const response = await t.call("GET", "/v1/orgs", { as: owner, headers: { origin: APP } });
      expect(response.status).toBe(500);
      expect(varyOf(response.headers)).toContain("Origin");
      expect(response.headers["access-control-allow-origin"]).toBe(APP);
    });
  });

  describe("deployment settings", () => {
    let t: TestServer | undefined;
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });

    const sessionIp = async (userId: string) =>
      (
        await t!.server.ctx.db
          .selectFrom("sessions")
          .select("ip_address")
          .where("user_id", "=", userId)
          .executeTakeFirstOrThrow()
      ).ip_address;

    it("every trusted proxy form loadConfig accepts starts a server, and X-Forwarded-For is believed from it", async () => {
      const config = loadConfig(
        ["--insecure", ...["127.0.0.1/32", "10.0.0.0/8", "fd00::/8", "::1"].flatMap((p) => ["--trusted-proxy", p])],
        {},
      );
      if ("help" in config) throw new Error("unexpected --help result");
      t = await startTestServer(kind, { trustedProxies: config.trustedProxies });
      const response = await t.call("POST", "/v1/auth/register", {
        body: { email: "behind@example.com", password: "correct horse battery", display_name: "B" },
        headers: { "x-forwarded-for": "203.0.113.7" },
      });
      expect(response.status).toBe(201);
      expect(await sessionIp(response.body.user.id)).toBe("203.0.113.7");
    });

    it("X-Forwarded-For from an untrusted peer is ignored, so clients cannot choose their rate-limit identity", async () => {
      t = await startTestServer(kind, { trustedProxies: ["10.0.0.0/8"] });
      const response = await t.call("POST", "/v1/auth/register", {
        body: { email: "direct@example.com", password: "correct horse battery", display_name: "D" },
        headers: { "x-forwarded-for": "203.0.113.7" },
      });
      expect(response.status).toBe(201);
      expect(await sessionIp(response.body.user.id)).toBe("127.0.0.1");
    });

    it("secure-cookies-default-consistent: with secure cookies the session cookie is set and cleared with Secure", async () => {
      t = await startTestServer(kind, { secureCookies: true });
      const user = await t.user("secure@example.com");
      const login = await t.call("POST", "/v1/auth/login", {
        body: { email: "secure@example.com", password: "correct horse battery" },
      });
      const logout = await t.call("POST", "/v1/auth/logout", { as: user });
      for (const response of [login, logout]) {
        expect(String(response.headers["set-cookie"])).toMatch(/^fluid_session=.*; Secure/);
      }
    });

    it("secure-cookies-default-consistent: without secure cookies the session cookie omits Secure (plain-http development)", async () => {
      t = await startTestServer(kind, { secureCookies: false });
      const response = await t.call("POST", "/v1/auth/register", {
        body: { email: "plain@example.com", password: "correct horse battery", display_name: "P" },
      });
      expect(String(response.headers["set-cookie"])).toMatch(/^fluid_session=/);
      expect(String(response.headers["set-cookie"])).not.toMatch(/Secure/);
    });
  });

  describe("with the docs UI disabled", () => {
    let t: TestServer | undefined;
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });

    it("api-docs-gated-in-production: /v1/docs and its assets are 404 while /v1/openapi.json stays available", async () => {
      t = await startTestServer(kind, { docs: false });
      for (const path of ["/v1/docs", "/v1/docs/", "/v1/docs/static/swagger-ui.css", "/v1/docs/json"]) {
        const response = await t.call("GET", path);
        expect(response.status).toBe(404);
        expect(response.body.error.code).toBe("not_found");
      }
      expect((await t.call("GET", "/v1/openapi.json")).status).toBe(200);
    });
  });

  describe("started from another working directory", () => {
    let t: TestServer | undefined;
    let dir: string | undefined;
    const cwd = process.cwd();
    afterEach(async () => {
      process.chdir(cwd);
      await t?.close();
      t = undefined;
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("swagger-json-embedded: the OpenAPI document and docs UI do not depend on the process cwd", async () => {
      dir = await mkdtemp(join(tmpdir(), "fluid-cwd-"));
      process.chdir(dir);
      t = await startTestServer(kind);
      const document = await t.call("GET", "/v1/openapi.json");
      expect(document.status).toBe(200);
      expect(document.body).toMatchObject({ openapi: "3.1.0", info: { title: "fluid API" } });
      expect(Object.keys(document.body.paths)).toContain("/v1/health");
      expect((await t.call("GET", "/v1/docs/static/swagger-ui.css")).status).toBe(200);
    });
  });
});
