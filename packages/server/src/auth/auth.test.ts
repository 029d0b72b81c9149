import { createHash } from "node:crypto";
import { databaseKinds, startTestServer, type TestServer } from "@fluid/testkit";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reapOnce } from "../jobs/reaper.fixtures.js";
import { newId } from "../lib/ids.js";
import { deleteSession, purgeExpiredSessions } from "./sessions.js";

const PASSWORD = "correct horse battery";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Computed here rather than with the product's hashSecret so the test does not trust the code under test.
const sha256 = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

let clients = 0;
/** A distinct client address per request, so the per-IP auth budgets never decide an unrelated test. */
function freshIp(): string {
  clients += 1;
  return `198.18.${Math.floor(clients / 250)}.${(clients % 250) + 1}`;
}

let emails = 0;
const uniqueEmail = (name: string) => `${name}-${++emails}@example.com`;

function sessionCookie(response: LightMyRequestResponse) {
  return response.cookies.find((c) => c.name === "fluid_session");
}

function setCookieHeader(response: LightMyRequestResponse): string {
  const header = response.headers["set-cookie"];
  const all = Array.isArray(header) ? header : header ? [header] : [];
  const session = all.find((c) => c.startsWith("fluid_session="));
  if (!session) throw new Error(`no fluid_session Set-Cookie in ${response.statusCode}: ${response.body}`);
  return session;
}

describe.each(databaseKinds)("auth and sessions (%s)", (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(kind);
  });

  afterAll(async () => {
    await t.close();
  });

  const register = (email: string, password = PASSWORD) =>
    t.server.app.inject({
      method: "POST",
      url: "/v1/auth/register",
      payload: { email, password, display_name: "Test User" },
      remoteAddress: freshIp(),
    });

  const login = (email: string, password = PASSWORD) =>
    t.server.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { email, password },
      remoteAddress: freshIp(),
    });

  const usersWithEmail = (email: string) =>
    t.server.ctx.db.selectFrom("users").selectAll().where("email", "=", email).execute();

  const sessionByToken = (token: string) =>
    t.server.ctx.db.selectFrom("sessions").selectAll().where("token_hash", "=", sha256(token)).executeTakeFirst();

  describe("register, login, logout, me", () => {
    it("register: answers 201 with the new user and a session cookie that signs them in", async () => {
      const email = uniqueEmail("register");
      const response = await register(email);
      expect(response.statusCode).toBe(201);
      const user = JSON.parse(response.body).user;
      expect(user).toMatchObject({ email, display_name: "Test User", email_verified: false });
      const cookie = sessionCookie(response)?.value;
      expect(cookie).toMatch(/^fls_/);
      const me = await t.call("GET", "/v1/auth/me", { as: { cookie: cookie! } });
      expect(me.status).toBe(200);
      expect(me.body.user.id).toBe(user.id);
    });

    it("offers no OAuth provider when none is configured", async () => {
      const providers = await t.call("GET", "/v1/auth/providers");
      expect(providers.status).toBe(200);
      expect(providers.body).toEqual({ providers: [] });
    });

    it("register never returns the password hash", async () => {
      const response = await register(uniqueEmail("nohash"));
      expect(response.statusCode).toBe(201);
      expect(response.body).not.toContain("argon2");
      expect(JSON.parse(response.body).user).not.toHaveProperty("password_hash");
    });

    it("login: the right password answers 200 and issues a new, working session", async () => {
      const email = uniqueEmail("login");
      const first = sessionCookie(await register(email))?.value;
      const response = await login(email);
      expect(response.statusCode).toBe(200);
      expect(JSON.parse(response.body).user.email).toBe(email);
      const cookie = sessionCookie(response)?.value;
      expect(cookie).toBeDefined();
      expect(cookie).not.toBe(first);
      const me = await t.call("GET", "/v1/auth/me", { as: { cookie: cookie! } });
      expect(me.status).toBe(200);
      expect(me.body.user.email).toBe(email);
    });

    it("logout: deletes the session row, clears the cookie, and the old cookie no longer works", async () => {
      const { cookie } = await t.fastUser("logout");
      expect(await sessionByToken(cookie)).toBeDefined();
      const response = await t.server.app.inject({
        method: "POST",
        url: "/v1/auth/logout",
        headers: { cookie: `fluid_session=${cookie}` },
      });
      expect(response.statusCode).toBe(200);
      expect(await sessionByToken(cookie)).toBeUndefined();
      const cleared = sessionCookie(response);
      expect(cleared?.value).toBe("");
      expect(cleared?.expires?.getTime() ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(Date.now());
      const me = await t.call("GET", "/v1/auth/me", { as: { cookie } });
      expect(me.status).toBe(401);
    });

    it("logout: only ends the current session: the user's other sessions stay signed in", async () => {
      const email = uniqueEmail("two-sessions");
      const first = sessionCookie(await register(email))!.value;
      const second = sessionCookie(await login(email))!.value;
      const out = await t.call("POST", "/v1/auth/logout", { as: { cookie: first } });
      expect(out.status).toBe(200);
      expect((await t.call("GET", "/v1/auth/me", { as: { cookie: second } })).status).toBe(200);
    });

    it("logout: without a session it answers 401", async () => {
      const response = await t.call("POST", "/v1/auth/logout");
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe("unauthenticated");
    });

    it("me: with a session cookie it answers the signed-in user", async () => {
      const { cookie, id } = await t.fastUser("me-cookie");
      const me = await t.call("GET", "/v1/auth/me", { as: { cookie } });
      expect(me.status).toBe(200);
      expect(me.body.user.id).toBe(id);
    });

    it("me: with an API key it answers the user who created the key", async () => {
      const { cookie, id } = await t.fastUser("me-key");
      const slug = `me-key-${emails}`;
      await t.org({ cookie }, slug);
      const key = await t.apiKey({ cookie }, slug, "viewer");
      const me = await t.call("GET", "/v1/auth/me", { as: { key: key.key } });
      expect(me.status).toBe(200);
      expect(me.body.user.id).toBe(id);
    });

    it("me: without credentials it answers 401 unauthenticated", async () => {
      const me = await t.call("GET", "/v1/auth/me");
      expect(me.status).toBe(401);
      expect(me.body.error.code).toBe("unauthenticated");
    });

    it("me: a cookie that was never issued answers 401", async () => {
      const me = await t.call("GET", "/v1/auth/me", { as: { cookie: "fls_made-up-token" } });
      expect(me.status).toBe(401);
    });
  });

  describe("input validation", () => {
    it.each(["not-an-email", "missing-domain@", "@missing-local.com", "two@@example.com", "spaces in@example.com", ""])(
      "register-validates-email-format: %j is refused with 400 and no account is created",
      async (email) => {
        const response = await register(email);
        expect(response.statusCode).toBe(400);
        expect(JSON.parse(response.body).error.code).toBe("invalid_request");
        expect(await usersWithEmail(email.trim().toLowerCase())).toHaveLength(0);
      },
    );

    it("register-validates-email-format: an address longer than 254 characters is refused", async () => {
      const email = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.com`;
      expect(email.length).toBeGreaterThan(254);
      const response = await register(email);
      expect(response.statusCode).toBe(400);
      expect(await usersWithEmail(email)).toHaveLength(0);
    });

    it("register-enforces-min-password-length: a 7-character password is refused with 400 and no account", async () => {
      const email = uniqueEmail("short-password");
      const response = await register(email, "1234567");
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body).error.message).toMatch(/at least 8 characters/);
      expect(await usersWithEmail(email)).toHaveLength(0);
    });

    it("register-enforces-min-password-length: exactly 8 characters is accepted", async () => {
      const response = await register(uniqueEmail("eight"), "12345678");
      expect(response.statusCode).toBe(201);
    });

    it("register refuses a password over 256 characters, bounding the argon2 work an attacker can ask for", async () => {
      const email = uniqueEmail("long-password");
      const response = await register(email, "x".repeat(257));
      expect(response.statusCode).toBe(400);
      expect(await usersWithEmail(email)).toHaveLength(0);
    });

    it("register refuses unknown fields rather than ignoring them", async () => {
      const email = uniqueEmail("extra");
      const response = await t.server.app.inject({
        method: "POST",
        url: "/v1/auth/register",
        payload: { email, password: PASSWORD, display_name: "x", email_verified: true },
        remoteAddress: freshIp(),
      });
      expect(response.statusCode).toBe(400);
      expect(await usersWithEmail(email)).toHaveLength(0);
    });
  });

  describe("email normalisation", () => {
    it("email-normalized-case-insensitive: register stores the address trimmed and lowercased", async () => {
      const n = ++emails;
      const response = await register(`  Mixed.Case-${n}@Example.COM `);
      expect(response.statusCode).toBe(201);
      expect(JSON.parse(response.body).user.email).toBe(`mixed.case-${n}@example.com`);
      expect(await usersWithEmail(`mixed.case-${n}@example.com`)).toHaveLength(1);
    });

    it("email-normalized-case-insensitive: login matches the account whatever the case", async () => {
      const n = ++emails;
      expect((await register(`casey-${n}@example.com`)).statusCode).toBe(201);
      const response = await login(`CASEY-${n}@EXAMPLE.com`);
      expect(response.statusCode).toBe(200);
      expect(JSON.parse(response.body).user.email).toBe(`casey-${n}@example.com`);
    });

    it("email-normalized-case-insensitive: a case-variant duplicate registration answers 409 and adds no row", async () => {
      const n = ++emails;
      expect((await register(`dup-${n}@example.com`)).statusCode).toBe(201);
      const response = await register(`DUP-${n}@Example.com`);
      expect(response.statusCode).toBe(409);
      expect(JSON.parse(response.body).error.code).toBe("conflict");
      expect(await usersWithEmail(`dup-${n}@example.com`)).toHaveLength(1);
    });

    it("concurrent registrations of one email create exactly one account; the loser gets 409", async () => {
      const email = uniqueEmail("race");
      const responses = await Promise.all([register(email), register(email.toUpperCase()), register(email)]);
      const statuses = responses.map((r) => r.statusCode).sort();
      expect(statuses).toEqual([201, 409, 409]);
      expect(await usersWithEmail(email)).toHaveLength(1);
    });
  });

  describe("credential errors", () => {
    it("login-errors-indistinguishable: wrong password and unknown email give the same 401 body, revealing no account", async () => {
      const email = uniqueEmail("known");
      await register(email);
      const wrongPassword = await login(email, "not the password");
      const unknownEmail = await login(uniqueEmail("unknown"), "not the password");
      expect(wrongPassword.statusCode).toBe(401);
      expect(unknownEmail.statusCode).toBe(401);
      expect(JSON.parse(wrongPassword.body)).toEqual(JSON.parse(unknownEmail.body));
      expect(JSON.parse(wrongPassword.body).error.code).toBe("unauthenticated");
      expect(sessionCookie(wrongPassword)).toBeUndefined();
    });
  });

  describe("session storage and lifetime", () => {
    it("session-token-stored-hashed: the DB holds SHA-256 of the cookie and nothing findable by the raw value", async () => {
      const { cookie, id } = await t.fastUser("hashed");
      const row = await sessionByToken(cookie);
      expect(row?.user_id).toBe(id);
      expect(row?.token_hash).toBe(sha256(cookie));
      const byRaw = await t.server.ctx.db
        .selectFrom("sessions")
        .select("id")
        .where("token_hash", "=", cookie)
        .execute();
      expect(byRaw).toHaveLength(0);
      expect(JSON.stringify(row)).not.toContain(cookie.slice("fls_".length));
    });

    it("expired-session-rejected: a session whose expires_at has passed answers 401", async () => {
      const { cookie } = await t.fastUser("expired");
      await t.server.ctx.db
        .updateTable("sessions")
        .set({ expires_at: new Date(Date.now() - 1_000) })
        .where("token_hash", "=", sha256(cookie))
        .execute();
      const me = await t.call("GET", "/v1/auth/me", { as: { cookie } });
      expect(me.status).toBe(401);
    });

    it("session lifetime follows the configured TTL, in the row and in the cookie's Max-Age", async () => {
      const before = Date.now();
      const response = await register(uniqueEmail("ttl"));
      const cookie = sessionCookie(response)!;
      const row = await sessionByToken(cookie.value);
      const ttl = t.server.ctx.config.sessionTtlMs;
      expect(row!.expires_at.getTime()).toBeGreaterThanOrEqual(before + ttl - 1_000);
      expect(row!.expires_at.getTime()).toBeLessThanOrEqual(Date.now() + ttl + 1_000);
      expect(cookie.maxAge).toBe(Math.floor(ttl / 1000));
    });

    it("expired-sessions-purged-periodically: purgeExpiredSessions removes expired rows and keeps live ones", async () => {
      const live = await t.fastUser("purge-live");
      const expired = await t.fastUser("purge-expired");
      await t.server.ctx.db
        .updateTable("sessions")
        .set({ expires_at: new Date(Date.now() - 60_000) })
        .where("token_hash", "=", sha256(expired.cookie))
        .execute();
      const purged = await purgeExpiredSessions(t.server.ctx.db);
      expect(purged).toBeGreaterThanOrEqual(1);
      expect(await sessionByToken(expired.cookie)).toBeUndefined();
      expect(await sessionByToken(live.cookie)).toBeDefined();
    });

    it("expired-sessions-purged-periodically: the reaper's housekeeping pass purges expired sessions only", async () => {
      const live = await t.fastUser("reaper-live");
      const expired = await t.fastUser("reaper-expired");
      await t.server.ctx.db
        .updateTable("sessions")
        .set({ expires_at: new Date(Date.now() - 60_000) })
        .where("token_hash", "=", sha256(expired.cookie))
        .execute();
      await reapOnce(t.server);
      expect(await sessionByToken(expired.cookie)).toBeUndefined();
      expect(await sessionByToken(live.cookie)).toBeDefined();
    });

    it("delete-session-reports-not-found: deleteSession answers false for an id that has no session", async () => {
      expect(await deleteSession(t.server.ctx.db, newId())).toBe(false);
    });

    it("delete-session-reports-not-found: deleting a real session answers true once, then false", async () => {
      const { cookie } = await t.fastUser("delete-twice");
      const row = await sessionByToken(cookie);
      expect(await deleteSession(t.server.ctx.db, row!.id)).toBe(true);
      expect(await deleteSession(t.server.ctx.db, row!.id)).toBe(false);
    });

    it("a user deleted (deleted_at set) loses their session at once", async () => {
      const { cookie, id } = await t.fastUser("deleted");
      await t.server.ctx.db.updateTable("users").set({ deleted_at: new Date() }).where("id", "=", id).execute();
      const me = await t.call("GET", "/v1/auth/me", { as: { cookie } });
      expect(me.status).toBe(401);
    });

    it("a deleted user cannot sign in again with their password", async () => {
      const email = uniqueEmail("deleted-login");
      const { id } = JSON.parse((await register(email)).body).user;
      await t.server.ctx.db.updateTable("users").set({ deleted_at: new Date() }).where("id", "=", id).execute();
      expect((await login(email)).statusCode).toBe(401);
    });
  });

  describe("identifiers", () => {
    it("user-id-full-entropy: user ids are complete, distinct UUIDs, the same in the API and the DB", async () => {
      const a = await t.fastUser("entropy-a");
      const b = await t.fastUser("entropy-b");
      expect(a.id).toMatch(UUID);
      expect(b.id).toMatch(UUID);
      expect(a.id).not.toBe(b.id);
      const row = await t.server.ctx.db.selectFrom("users").select("id").where("id", "=", a.id).executeTakeFirst();
      expect(row?.id).toBe(a.id);
    });

    it("session tokens carry 256 random bits: 43 base64url characters after the prefix, never repeated", async () => {
      const a = await t.fastUser("token-a");
      const b = await t.fastUser("token-b");
      expect(a.cookie).toMatch(/^fls_[A-Za-z0-9_-]{43}$/);
      expect(a.cookie).not.toBe(b.cookie);
    });
  });

  describe("session cookie attributes", () => {
    it("session-cookie-attributes: HttpOnly, Path=/ and SameSite=Lax (Lax is intentional: cookie writes are origin-checked)", async () => {
      const header = setCookieHeader(await register(uniqueEmail("attrs")));
      expect(header).toMatch(/;\s*HttpOnly/i);
      expect(header).toMatch(/;\s*Path=\/(;|$)/);
      expect(header).toMatch(/;\s*SameSite=Lax/i);
    });

    it("session-cookie-secure-flag-from-config: secureCookies false sets no Secure attribute", async () => {
      expect(t.server.ctx.config.secureCookies).toBe(false);
      const header = setCookieHeader(await register(uniqueEmail("insecure")));
      expect(header).not.toMatch(/;\s*Secure/i);
    });

    it("origin-check backs SameSite=Lax: a cookie-authenticated write from a foreign Origin is refused with 403", async () => {
      const { cookie } = await t.fastUser("csrf");
      const response = await t.call("POST", "/v1/auth/logout", {
        as: { cookie },
        headers: { origin: "https://evil.example" },
      });
      expect(response.status).toBe(403);
      expect(await sessionByToken(cookie)).toBeDefined();
    });

    it("origin-check backs SameSite=Lax: a cross-site login form post is refused with 403", async () => {
      const response = await t.server.app.inject({
        method: "POST",
        url: "/v1/auth/login",
        payload: { email: uniqueEmail("csrf-login"), password: PASSWORD },
        headers: { "sec-fetch-site": "cross-site" },
        remoteAddress: freshIp(),
      });
      expect(response.statusCode).toBe(403);
    });
  });
});

describe.each(databaseKinds)("secure session cookies (%s)", (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(kind, { secureCookies: true });
  });

  afterAll(async () => {
    await t.close();
  });

  it("session-cookie-secure-flag-from-config: secureCookies true marks the cookie Secure even over plain HTTP", async () => {
    const response = await t.server.app.inject({
      method: "POST",
      url: "/v1/auth/register",
      payload: { email: uniqueEmail("secure"), password: PASSWORD, display_name: "Secure" },
      remoteAddress: freshIp(),
    });
    expect(response.statusCode).toBe(201);
    expect(setCookieHeader(response)).toMatch(/;\s*Secure/i);
  });

  it("session-cookie-secure-flag-from-config: the logout cookie that clears the session is Secure too", async () => {
    const registered = await t.server.app.inject({
      method: "POST",
      url: "/v1/auth/register",
      payload: { email: uniqueEmail("secure-logout"), password: PASSWORD, display_name: "Secure" },
      remoteAddress: freshIp(),
    });
    const cookie = sessionCookie(registered)!.value;
    const response = await t.server.app.inject({
      method: "POST",
      url: "/v1/auth/logout",
      headers: { cookie: `fluid_session=${cookie}` },
    });
    expect(response.statusCode).toBe(200);
    expect(setCookieHeader(response)).toMatch(/;\s*Secure/i);
  });
});
