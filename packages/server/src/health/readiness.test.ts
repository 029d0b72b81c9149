import { Code } from "@connectrpc/connect";
import {
  type PrivatePostgres,
  startPrivatePostgres,
  startTestServer,
  TestDaemon,
  type TestServer,
} from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("a replica losing PostgreSQL (a private cluster stopped and started by the test)", () => {
  let postgres: PrivatePostgres;
  let t: TestServer;

  beforeAll(async () => {
    postgres = await startPrivatePostgres();
    t = await startTestServer("postgres", {
      database: { kind: "postgres", url: postgres.url },
      migrate: true,
      readiness: { probeEveryMs: 200, probeTimeoutMs: 1_000, failuresBeforeUnready: 2 },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await postgres?.destroy();
  });

  it("goes not ready, refuses and closes host streams and answers 503 at once; recovers by itself", async () => {
    const owner = await t.fastUser("owner");
    await t.org(owner, "acme");
    const { token } = await t.hostToken(owner, "acme");
    const daemon = await TestDaemon.connect(t.grpcUrl, { token });

    const live = await t.call("GET", "/livez");
    expect(live).toMatchObject({ status: 200, body: { status: "ok" } });
    const ready = await t.call("GET", "/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      status: "ready",
      checks: { database: { ok: true }, migrations: { ok: true }, draining: { ok: true } },
    });

    await postgres.stop();
    const notReady = await until("/readyz to answer 503", async () => {
      const res = await t.call("GET", "/readyz");
      return res.status === 503 ? res : undefined;
    });
    expect(notReady.body).toMatchObject({
      status: "not_ready",
      checks: { database: { ok: false }, draining: { ok: true } },
    });
    expect(notReady.body.checks.database.error).toMatch(/unreachable/);
    expect((await t.call("GET", "/livez")).status).toBe(200);

    // The open stream was closed so the daemon moves on; a new one is refused.
    const ended = await daemon.ended;
    expect(ended?.code).toBe(Code.Unavailable);
    expect(ended?.rawMessage).toMatch(/lost its database/);
    const refused = await TestDaemon.connect(t.grpcUrl, { token }).then(
      () => undefined,
      (err: { code?: Code; rawMessage?: string }) => err,
    );
    expect(refused?.code).toBe(Code.Unavailable);
    expect(refused?.rawMessage).toMatch(/cannot reach its database/);

    // REST answers at once with a clear 503 instead of waiting on the pool.
    const started = Date.now();
    const list = await t.call("GET", "/v1/orgs/acme/sandboxes", { as: owner });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(list.status).toBe(503);
    expect(list.body.error.code).toBe("service_unavailable");
    expect(list.headers["retry-after"]).toBe("5");
    // Sign-in needs the database too (it is public, not exempt); the API description does not.
    const login = await t.call("POST", "/v1/auth/login", {
      body: { email: "a@example.com", password: "x".repeat(12) },
    });
    expect(login.status).toBe(503);
    expect((await t.call("GET", "/v1/openapi.json")).status).toBe(200);
    expect((await t.call("GET", "/v1/health")).status).toBe(200);

    await postgres.start();
    await until("/readyz to answer 200", async () =>
      (await t.call("GET", "/readyz")).status === 200 ? true : undefined,
    );
    const again = await until("a request to succeed", async () => {
      const res = await t.call("GET", "/v1/orgs/acme/sandboxes", { as: owner });
      return res.status === 200 ? res : undefined;
    });
    expect(again.status).toBe(200);
    const back = await TestDaemon.connect(t.grpcUrl, { token });
    expect(back.ack?.assignedHostId).toBeTruthy();
    back.abort();
  }, 90_000);
});
