import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { databaseKinds, startTestServer, type TestServer, testConfig } from "@fluid/testkit";
import pg from "pg";
import { afterEach, describe, expect, inject, it } from "vitest";
import { startServer } from "../server.js";
import { createLogger, redactDatabaseUrl } from "./logger.js";

/** A destination that keeps every line pino writes. */
function memorySink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { stream, lines, text: () => lines.join("") };
}

describe("redactDatabaseUrl", () => {
  it("hides the password but keeps user, host, port, database and harmless parameters", () => {
    expect(redactDatabaseUrl("postgres://fluid:s3cret@db.internal:5432/fluid?sslmode=require")).toBe(
      "postgres://fluid:***@db.internal:5432/fluid?sslmode=require",
    );
  });

  it("hides a percent-encoded password in both its raw and encoded forms", () => {
    const redacted = redactDatabaseUrl("postgresql://fluid:p%40ss%2Fword@db/fluid");
    expect(redacted).toBe("postgresql://fluid:***@db/fluid");
  });

  it("hides secret-looking query parameters", () => {
    const redacted = redactDatabaseUrl(
      "postgres://db/fluid?password=a1&sslpassword=b2&api_key=c3&token=d4&client_secret=e5&application_name=fluid",
    );
    expect(redacted).toBe(
      "postgres://db/fluid?password=***&sslpassword=***&api_key=***&token=***&client_secret=***&application_name=fluid",
    );
  });

  it("leaves a URL without secrets unchanged", () => {
    expect(redactDatabaseUrl("postgres://fluid@db.internal:5432/fluid")).toBe(
      "postgres://fluid@db.internal:5432/fluid",
    );
  });

  it("never echoes an unparseable value, which may still contain a password", () => {
    expect(redactDatabaseUrl("host=db user=fluid password=s3cret")).toBe("<unparseable database URL>");
  });
});

describe("createLogger", () => {
  it("redacts credential headers of requests and responses, keeping the other headers", () => {
    const sink = memorySink();
    createLogger({ level: "info" }, sink.stream).info(
      {
        req: { headers: { authorization: "Bearer fl_live-key", cookie: "fluid_session=fls_live", "user-agent": "ua" } },
        res: { headers: { "set-cookie": "fluid_session=fls_new; HttpOnly" } },
      },
      "request",
    );
    const line = JSON.parse(sink.text());
    expect(line.req.headers).toEqual({ authorization: "[redacted]", cookie: "[redacted]", "user-agent": "ua" });
    expect(line.res.headers).toEqual({ "set-cookie": "[redacted]" });
    expect(sink.text()).not.toMatch(/fl_live-key|fls_live|fls_new/);
  });

  it("redacts password, token and key fields of logged objects", () => {
    const sink = memorySink();
    createLogger({ level: "info" }, sink.stream).info(
      { body: { email: "a@example.com", password: "hunter2", token: "flh_x", key: "fl_y" } },
      "body",
    );
    expect(JSON.parse(sink.text()).body).toEqual({
      email: "a@example.com",
      password: "[redacted]",
      token: "[redacted]",
      key: "[redacted]",
    });
  });

  it("writes nothing below the configured level", () => {
    const sink = memorySink();
    const log = createLogger({ level: "warn" }, sink.stream);
    log.info("quiet");
    log.warn("loud");
    expect(sink.lines.map((l) => JSON.parse(l).msg)).toEqual(["loud"]);
  });
});

describe.each(databaseKinds)("request logging (%s)", (kind) => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("credentials sent with requests never reach the log", async () => {
    t = await startTestServer(kind);
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    const key = await t.apiKey(owner, "acme", "admin");
    await t.call("GET", "/v1/orgs", { as: { key: key.key } });
    await t.call("GET", "/v1/auth/me", { headers: { authorization: "Bearer fl_not-a-real-key" } });
    const logs = t.logs.join("");
    expect(logs).toMatch(/request completed/);
    for (const secret of [owner.cookie, key.key, "fl_not-a-real-key", "correct horse battery"]) {
      expect(logs).not.toContain(secret);
    }
  });
});

describe("startServer logging", () => {
  const postgres = inject("postgres");

  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: postgres?.adminUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };

  it.skipIf(!postgres)(
    "db-url-redacted-in-logs: the DATABASE_URL password never appears in the logs, a redacted URL does (needs FLUID_TEST_DATABASE_URL)",
    async () => {
      const name = `fluid_test_${randomBytes(6).toString("hex")}`;
      // Not dropped here: the global teardown drops every fluid_test_ database once the workers are gone,
      // whereas forcing the drop now would race the closing pool's connections into an unhandled error.
      await admin(`CREATE DATABASE ${name}`);
      // The test cluster trusts local connections, so any password is accepted and only its logging matters.
      const url = new URL(postgres!.adminUrl);
      url.pathname = `/${name}`;
      url.password = "hunter2/s3cret";
      const sink = memorySink();
      const config = testConfig({ database: { kind: "postgres", url: url.toString() }, migrate: true });
      const server = await startServer(config, { log: createLogger({ level: "trace" }, sink.stream) });
      try {
        await server.app.inject({ method: "GET", url: "/v1/health" });
        await server.app.inject({ method: "GET", url: "/v1/no-such-route" });
      } finally {
        await server.close();
      }
      const logs = sink.text();
      expect(logs).toContain(`"database":"${url.protocol}//${url.username}:***@${url.host}/${name}"`);
      expect(logs).toMatch(/migrations applied/);
      expect(logs).not.toContain("hunter2");
      expect(logs).not.toContain("s3cret");
    },
  );
});
