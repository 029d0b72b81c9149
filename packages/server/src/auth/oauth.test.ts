import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { databaseKinds, startTestServer, type TestServer } from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STATE_COOKIE } from "./oauth-routes.js";

/** A stand-in for GitHub's OAuth and REST endpoints, with per-test answers. */
class FakeGithub {
  server: Server;
  url = "";
  tokenStatus = 200;
  userStatus = 200;
  hang = false;
  emails: Array<{ email: string; primary: boolean; verified: boolean }> = [
    { email: "Dev@Example.com", primary: true, verified: true },
  ];
  codesSeen: string[] = [];

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    if (this.hang) return;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.url === "/token" && req.method === "POST") {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      this.codesSeen.push(new URLSearchParams(raw).get("code") ?? "");
      return send(
        this.tokenStatus,
        this.tokenStatus === 200 ? { access_token: "gho_upstream" } : { error: "bad_verification_code" },
      );
    }
    if (req.headers.authorization !== "Bearer gho_upstream") return send(401, { message: "Bad credentials" });
    if (req.url === "/user")
      return send(
        this.userStatus,
        this.userStatus === 200
          ? { id: 4242, login: "dev", name: "Dev Eloper", avatar_url: null }
          : { message: "boom" },
      );
    if (req.url === "/user/emails") return send(200, this.emails);
    return send(404, {});
  }

  close() {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(resolve));
  }
}

describe.each(databaseKinds)("GitHub sign-in (%s)", (kind) => {
  let t: TestServer;
  let github: FakeGithub;

  beforeEach(async () => {
    github = new FakeGithub();
    await github.start();
    t = await startTestServer(kind, {
      publicUrl: "https://fluid.example.com",
      secureCookies: true,
      oauth: {
        github: {
          clientId: "client-id",
          clientSecret: "client-secret",
          authorizeUrl: "https://github.example/login/oauth/authorize",
          tokenUrl: `${github.url}/token`,
          apiBaseUrl: github.url,
        },
      },
    });
  });

  afterEach(async () => {
    await t.close();
    await github.close();
  });

  const start = async () => {
    const res = await t.server.app.inject({ method: "GET", url: "/v1/auth/github" });
    const cookie = res.cookies.find((c) => c.name === STATE_COOKIE);
    return { res, state: cookie?.value ?? "", cookie };
  };

  const callback = (query: Record<string, string>, stateCookie?: string) =>
    t.server.app.inject({
      method: "GET",
      url: "/v1/auth/github/callback",
      query,
      ...(stateCookie ? { cookies: { [STATE_COOKIE]: stateCookie } } : {}),
    });

  it("oauth-state-random-per-request-and-verified: each start sets a fresh random state in a short-lived HttpOnly cookie", async () => {
    const first = await start();
    const second = await start();
    expect(first.res.statusCode).toBe(302);
    const location = new URL(first.res.headers.location as string);
    expect(location.searchParams.get("state")).toBe(first.state);
    expect(location.searchParams.get("redirect_uri")).toBe("https://fluid.example.com/v1/auth/github/callback");
    expect(first.state).toHaveLength(43);
    expect(first.state).not.toBe(second.state);
    expect(first.cookie).toMatchObject({ httpOnly: true, secure: true, maxAge: 600, path: "/v1/auth" });
  });

  it("signs in with a matching state: verified email, session cookie, redirect to the dashboard", async () => {
    const { state } = await start();
    const res = await callback({ code: "the-code", state }, state);
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe("https://fluid.example.com/");
    const session = res.cookies.find((c) => c.name === "fluid_session");
    expect(session?.secure).toBe(true);
    expect(github.codesSeen).toEqual(["the-code"]);
    const me = await t.call("GET", "/v1/auth/me", { as: { cookie: session?.value ?? "" } });
    expect(me.body.user).toMatchObject({ email: "dev@example.com", display_name: "Dev Eloper", email_verified: true });
  });

  it("oauth-state-random-per-request-and-verified: a missing or mismatched state creates no session", async () => {
    const { state } = await start();
    for (const [query, cookie] of [
      [{ code: "c", state }, undefined],
      [{ code: "c", state: `${state}x` }, state],
      [{ code: "c" }, state],
    ] as const) {
      const res = await callback(query, cookie);
      expect(res.statusCode).toBe(400);
      expect(res.cookies.find((c) => c.name === "fluid_session")).toBeUndefined();
    }
    expect(github.codesSeen).toEqual([]);
    expect(await t.server.ctx.db.selectFrom("users").select("id").execute()).toHaveLength(0);
  });

  it("oauth-upstream-status-checked: an upstream error creates no user", async () => {
    github.userStatus = 500;
    const { state } = await start();
    const res = await callback({ code: "c", state }, state);
    expect(res.statusCode).toBe(502);
    expect(JSON.parse(res.body).error.message).toMatch(/refused user profile \(HTTP 500\)/);
    expect(await t.server.ctx.db.selectFrom("users").select("id").execute()).toHaveLength(0);
  });

  it("a rejected code is reported, not turned into an empty account", async () => {
    github.tokenStatus = 401;
    const { state } = await start();
    expect((await callback({ code: "c", state }, state)).statusCode).toBe(502);
    expect(await t.server.ctx.db.selectFrom("users").select("id").execute()).toHaveLength(0);
  });

  it("github-email-fallback-requires-verified: an account with only unverified emails cannot sign in", async () => {
    github.emails = [
      { email: "primary@example.com", primary: true, verified: false },
      { email: "other@example.com", primary: false, verified: false },
    ];
    const { state } = await start();
    const res = await callback({ code: "c", state }, state);
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error.message).toMatch(/no verified email/);
  });

  it("oauth-link-requires-verified-email: a verified provider email links to the existing password account", async () => {
    const existing = await t.user("dev@example.com");
    const { state } = await start();
    const res = await callback({ code: "c", state }, state);
    const session = res.cookies.find((c) => c.name === "fluid_session");
    const me = await t.call("GET", "/v1/auth/me", { as: { cookie: session?.value ?? "" } });
    expect(me.body.user.id).toBe(existing.id);
  });

  it("oauth-tokens-encrypted-at-rest: provider tokens are never persisted at all", async () => {
    const { state } = await start();
    await callback({ code: "c", state }, state);
    const rows = await t.server.ctx.db.selectFrom("oauth_accounts").selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain("gho_upstream");
  });

  it("oauth-http-client-has-timeout: a hung provider fails the sign-in instead of hanging", {
    timeout: 20_000,
  }, async () => {
    github.hang = true;
    const { state } = await start();
    const started = Date.now();
    const res = await callback({ code: "c", state }, state);
    expect(res.statusCode).toBe(502);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("oauth-endpoints-rate-limited: the start and callback routes answer 429 past the limit", async () => {
    const statuses = [];
    for (let i = 0; i < 21; i++)
      statuses.push((await t.server.app.inject({ method: "GET", url: "/v1/auth/github" })).statusCode);
    expect(statuses.slice(0, 20).every((s) => s === 302)).toBe(true);
    expect(statuses[20]).toBe(429);
  });

  it("lists only the configured providers, without a session", async () => {
    const res = await t.server.app.inject({ method: "GET", url: "/v1/auth/providers" });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ providers: ["github"] });
  });

  it("an unconfigured provider answers 501", async () => {
    const res = await t.server.app.inject({ method: "GET", url: "/v1/auth/google" });
    expect(res.statusCode).toBe(501);
    expect(JSON.parse(res.body).error.code).toBe("not_implemented");
  });
});
