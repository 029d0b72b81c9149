import { databaseKinds, openTestDatabase, startTestServer, type TestServer, testConfig } from "@fluid/testkit";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { reapOnce } from "../jobs/reaper.fixtures.js";
import { type RunningServer, startServer } from "../server.js";
import { rateRules } from "./rate-limit.js";

const PASSWORD = "correct horse battery";

let emails = 0;
const uniqueEmail = (name: string) => `${name}-${++emails}@example.com`;

type Injectable = Pick<RunningServer["app"], "inject">;

function login(
  app: Injectable,
  email: string,
  options: { remoteAddress?: string; forwardedFor?: string; password?: string } = {},
) {
  return app.inject({
    method: "POST",
    url: "/v1/auth/login",
    payload: { email, password: options.password ?? PASSWORD },
    ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
    ...(options.forwardedFor ? { headers: { "x-forwarded-for": options.forwardedFor } } : {}),
  });
}

function register(app: Injectable, email: string, options: { remoteAddress?: string; forwardedFor?: string } = {}) {
  return app.inject({
    method: "POST",
    url: "/v1/auth/register",
    payload: { email, password: PASSWORD, display_name: "Rate Limited" },
    ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
    ...(options.forwardedFor ? { headers: { "x-forwarded-for": options.forwardedFor } } : {}),
  });
}

function expectRateLimited(response: LightMyRequestResponse, maxRetryAfterS: number) {
  expect(response.statusCode).toBe(429);
  expect(JSON.parse(response.body).error.code).toBe("rate_limited");
  const retryAfter = Number(response.headers["retry-after"]);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxRetryAfterS);
}

/** Spends a per-IP login budget exactly; every attempt must still be judged on its credentials. */
async function spendLoginBudget(
  app: Injectable,
  options: { remoteAddress?: string; forwardedFor?: (i: number) => string },
) {
  for (let i = 0; i < rateRules.login.limit; i++) {
    const response = await login(app, uniqueEmail("spend"), {
      ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
      ...(options.forwardedFor ? { forwardedFor: options.forwardedFor(i) } : {}),
    });
    expect(response.statusCode).toBe(401);
  }
}

describe.each(databaseKinds)("auth rate limits (%s)", (kind) => {
  // Budgets live in the database, so tests share servers and stay apart by using their own client addresses.
  let t: TestServer;
  let proxied: TestServer;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    [t, proxied] = await Promise.all([startTestServer(kind), startTestServer(kind, { trustedProxies: ["127.0.0.1"] })]);
  });

  afterAll(async () => {
    await Promise.all([t.close(), proxied.close()]);
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("auth-endpoints-rate-limited: login past the per-IP limit answers 429 rate_limited with Retry-After", async () => {
    await spendLoginBudget(t.server.app, { remoteAddress: "203.0.113.7" });
    expectRateLimited(await login(t.server.app, uniqueEmail("over"), { remoteAddress: "203.0.113.7" }), 60);
  });

  it("auth-endpoints-rate-limited: a limited login does not even check credentials (no session for the right password)", async () => {
    const email = uniqueEmail("victim");
    expect((await register(t.server.app, email, { remoteAddress: "198.51.100.250" })).statusCode).toBe(201);
    await spendLoginBudget(t.server.app, { remoteAddress: "203.0.113.8" });
    const response = await login(t.server.app, email, { remoteAddress: "203.0.113.8" });
    expectRateLimited(response, 60);
    expect(response.cookies.find((c) => c.name === "fluid_session")).toBeUndefined();
  });

  it("auth-endpoints-rate-limited: the login budget is per client IP; another address is unaffected", async () => {
    await spendLoginBudget(t.server.app, { remoteAddress: "203.0.113.9" });
    expect((await login(t.server.app, uniqueEmail("other"), { remoteAddress: "203.0.113.10" })).statusCode).toBe(401);
  });

  it("auth-endpoints-rate-limited: register past the per-IP limit answers 429 and creates no account", async () => {
    for (let i = 0; i < rateRules.register.limit; i++) {
      expect((await register(t.server.app, uniqueEmail("reg"), { remoteAddress: "203.0.113.20" })).statusCode).toBe(
        201,
      );
    }
    const email = uniqueEmail("reg-over");
    expectRateLimited(await register(t.server.app, email, { remoteAddress: "203.0.113.20" }), 600);
    const rows = await t.server.ctx.db.selectFrom("users").select("id").where("email", "=", email).execute();
    expect(rows).toHaveLength(0);
  });

  it("rate-limit-window-resets: once the window has passed, the same IP may try again", async () => {
    await spendLoginBudget(t.server.app, { remoteAddress: "203.0.113.30" });
    expectRateLimited(await login(t.server.app, uniqueEmail("blocked"), { remoteAddress: "203.0.113.30" }), 60);
    await t.server.ctx.db
      .updateTable("rate_limits")
      .set({ window_start: new Date(Date.now() - rateRules.login.windowMs - 1_000) })
      .where("key", "=", "login:203.0.113.30")
      .execute();
    expect((await login(t.server.app, uniqueEmail("again"), { remoteAddress: "203.0.113.30" })).statusCode).toBe(401);
  });

  it("rate-limit-rows-purged-periodically: the reaper's housekeeping drops day-old windows and keeps current ones", async () => {
    await login(t.server.app, uniqueEmail("fresh"), { remoteAddress: "203.0.113.31" });
    await login(t.server.app, uniqueEmail("stale"), { remoteAddress: "203.0.113.32" });
    await t.server.ctx.db
      .updateTable("rate_limits")
      .set({ window_start: new Date(Date.now() - 25 * 3_600_000) })
      .where("key", "=", "login:203.0.113.32")
      .execute();
    await reapOnce(t.server);
    const keys = await t.server.ctx.db
      .selectFrom("rate_limits")
      .select("key")
      .where("key", "in", ["login:203.0.113.31", "login:203.0.113.32"])
      .execute();
    expect(keys.map((k) => k.key)).toEqual(["login:203.0.113.31"]);
  });

  it("rate-limit-ignores-xff-from-untrusted-proxy: rotating X-Forwarded-For without trusted proxies still hits 429", async () => {
    expect(t.server.ctx.config.trustedProxies).toEqual([]);
    await spendLoginBudget(t.server.app, { forwardedFor: (i) => `192.0.2.${i + 1}` });
    expectRateLimited(await login(t.server.app, uniqueEmail("xff"), { forwardedFor: "192.0.2.200" }), 60);
  });

  it("rate-limit-ignores-xff-from-untrusted-proxy: a session records the socket address, not the spoofed header", async () => {
    const response = await register(t.server.app, uniqueEmail("xff-session"), {
      remoteAddress: "203.0.113.40",
      forwardedFor: "192.0.2.99",
    });
    const user = JSON.parse(response.body).user;
    const session = await t.server.ctx.db
      .selectFrom("sessions")
      .select("ip_address")
      .where("user_id", "=", user.id)
      .executeTakeFirstOrThrow();
    expect(session.ip_address).toBe("203.0.113.40");
  });

  it("rate-limit-uses-client-ip-behind-trusted-proxy: distinct X-Forwarded-For clients get distinct budgets", async () => {
    const t = proxied;
    await spendLoginBudget(t.server.app, { forwardedFor: () => "192.0.2.1" });
    expectRateLimited(await login(t.server.app, uniqueEmail("a"), { forwardedFor: "192.0.2.1" }), 60);
    expect((await login(t.server.app, uniqueEmail("b"), { forwardedFor: "192.0.2.2" })).statusCode).toBe(401);
  });

  it("rate-limit-uses-client-ip-behind-trusted-proxy: a client cannot reset its budget by prepending fake hops", async () => {
    const t = proxied;
    await spendLoginBudget(t.server.app, { forwardedFor: (i) => `10.9.9.${i}, 192.0.2.3` });
    expectRateLimited(await login(t.server.app, uniqueEmail("c"), { forwardedFor: "10.9.9.200, 192.0.2.3" }), 60);
  });

  it("rate-limit-uses-client-ip-behind-trusted-proxy: a request from an untrusted address is charged to that address", async () => {
    const t = proxied;
    await spendLoginBudget(t.server.app, {
      remoteAddress: "203.0.113.50",
      forwardedFor: (i) => `192.0.2.${i + 10}`,
    });
    expectRateLimited(
      await login(t.server.app, uniqueEmail("d"), { remoteAddress: "203.0.113.50", forwardedFor: "192.0.2.250" }),
      60,
    );
  });

  it("rate-limit-shared-across-instances: two servers on one database share one per-IP budget", async () => {
    const database = await openTestDatabase(kind);
    cleanups.push(() => database.close());
    const config = testConfig();
    const a = await startServer(config, { database });
    cleanups.push(() => a.close());
    const b = await startServer({ ...config, replicaId: `${config.replicaId}-b` }, { database });
    cleanups.push(() => b.close());
    const half = Math.floor(rateRules.login.limit / 2);
    for (let i = 0; i < rateRules.login.limit; i++) {
      const replica = i < half ? a : b;
      expect((await login(replica.app, uniqueEmail("replica"), { remoteAddress: "203.0.113.60" })).statusCode).toBe(
        401,
      );
    }
    expectRateLimited(await login(a.app, uniqueEmail("replica-a"), { remoteAddress: "203.0.113.60" }), 60);
    expectRateLimited(await login(b.app, uniqueEmail("replica-b"), { remoteAddress: "203.0.113.60" }), 60);
  });

  /** Fails `count` sign-ins to `email` from one address, reopening its per-IP window as it fills. */
  async function failLogins(email: string, remoteAddress: string, count: number, password = "wrong guess") {
    for (let i = 0; i < count; i++) {
      if (i > 0 && i % rateRules.login.limit === 0) {
        await t.server.ctx.db
          .updateTable("rate_limits")
          .set({ window_start: new Date(Date.now() - rateRules.login.windowMs - 1_000) })
          .where("key", "=", `login:${remoteAddress}`)
          .execute();
      }
      expect((await login(t.server.app, email, { remoteAddress, password })).statusCode).toBe(401);
    }
  }

  async function openLoginWindow(remoteAddress: string) {
    await t.server.ctx.db.deleteFrom("rate_limits").where("key", "=", `login:${remoteAddress}`).execute();
  }

  it("login-lockout-by-strangers: the right password from a clean address passes after 20+ failures from another", async () => {
    const email = uniqueEmail("victim");
    expect((await register(t.server.app, email, { remoteAddress: "198.51.100.1" })).statusCode).toBe(201);
    await failLogins(email, "198.51.100.66", rateRules.loginFailures.limit);
    await openLoginWindow("198.51.100.66");
    expect((await login(t.server.app, email, { remoteAddress: "198.51.100.66", password: "guess" })).statusCode).toBe(
      429,
    );
    const response = await login(t.server.app, email, { remoteAddress: "198.51.100.77" });
    expect(response.statusCode).toBe(200);
    expect(response.cookies.find((c) => c.name === "fluid_session")).toBeDefined();
  });

  it("login-lockout-by-strangers: failures spread over many addresses lock none of them out", async () => {
    const email = uniqueEmail("spread");
    expect((await register(t.server.app, email, { remoteAddress: "198.51.100.2" })).statusCode).toBe(201);
    for (let i = 0; i < rateRules.loginFailures.limit + 5; i++) {
      const response = await login(t.server.app, email, { remoteAddress: `198.51.101.${i + 1}`, password: "guess" });
      expect(response.statusCode).toBe(401);
    }
    expect((await login(t.server.app, email, { remoteAddress: "198.51.101.200" })).statusCode).toBe(200);
  });

  it("login-lockout-by-strangers: the attacking address stays locked out of that account, right password included", async () => {
    const email = uniqueEmail("target");
    expect((await register(t.server.app, email, { remoteAddress: "198.51.100.3" })).statusCode).toBe(201);
    await failLogins(email, "198.51.100.88", rateRules.loginFailures.limit);
    await openLoginWindow("198.51.100.88");
    const response = await login(t.server.app, email, { remoteAddress: "198.51.100.88" });
    expectRateLimited(response, rateRules.loginFailures.windowMs / 1000);
    expect(response.cookies.find((c) => c.name === "fluid_session")).toBeUndefined();
    expect(
      (await login(t.server.app, uniqueEmail("bystander"), { remoteAddress: "198.51.100.88", password: "guess" }))
        .statusCode,
    ).toBe(401);
  });

  it("login-lockout-by-strangers: case variants of an email share one lockout per address", async () => {
    const email = uniqueEmail("variant");
    for (let i = 0; i < rateRules.loginFailures.limit; i++) {
      if (i === rateRules.login.limit) await openLoginWindow("198.51.100.99");
      const variant = i % 2 === 0 ? email : email.toUpperCase();
      const response = await login(t.server.app, variant, { remoteAddress: "198.51.100.99", password: "guess" });
      expect(response.statusCode).toBe(401);
    }
    await openLoginWindow("198.51.100.99");
    expectRateLimited(
      await login(t.server.app, ` ${email.toUpperCase()} `, { remoteAddress: "198.51.100.99", password: "guess" }),
      rateRules.loginFailures.windowMs / 1000,
    );
  });

  it("login-lockout-unlogged: a lockout is logged once with the account and address, never the password", async () => {
    const email = uniqueEmail("logged");
    const guess = "hunter2-never-logged";
    await failLogins(email, "198.51.100.111", rateRules.loginFailures.limit, guess);
    await openLoginWindow("198.51.100.111");
    expect((await login(t.server.app, email, { remoteAddress: "198.51.100.111", password: guess })).statusCode).toBe(
      429,
    );
    const lockouts = t.logs.filter((line) => line.includes('"event":"login_lockout"') && line.includes(email));
    expect(lockouts).toHaveLength(1);
    expect(JSON.parse(lockouts[0] as string)).toMatchObject({ level: 40, email, ip: "198.51.100.111" });
    expect(t.logs.some((line) => line.includes(guess))).toBe(false);
  });
});
