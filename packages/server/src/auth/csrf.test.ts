import { startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PUBLIC = "https://fluid.example";
const APP = "https://app.example";
const EVIL = "http://evil.example";

/** POST /v1/orgs with a session cookie and the given headers; the status says whether CSRF let it through. */
const cookieWrite = async (t: TestServer, slug: string, headers: Record<string, string>) => {
  const owner = await t.fastUser(slug);
  return (await t.call("POST", "/v1/orgs", { as: owner, body: { name: slug, slug }, headers })).status;
};

// The check runs before any query, so one database kind is enough here.
describe("CSRF origin check with a configured public URL", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer("pglite", { publicUrl: PUBLIC, corsOrigins: [APP] });
  });
  afterAll(() => t?.close());

  it("CSRF origin check trusts the Host header: Host evil.example with Origin http://evil.example is refused", async () => {
    expect(await cookieWrite(t, "host-spoof", { host: "evil.example", origin: EVIL })).toBe(403);
  });

  it("accepts the public URL as Origin whatever the Host header says", async () => {
    expect(await cookieWrite(t, "public-url", { host: "10.0.0.7:8080", origin: PUBLIC })).toBe(201);
  });

  it("accepts a CORS-configured frontend origin", async () => {
    expect(await cookieWrite(t, "cors-frontend", { origin: APP, "sec-fetch-site": "cross-site" })).toBe(201);
  });

  it("does not trust the listen address once a public URL names the API's origin", async () => {
    const port = t.server.restAddress.port;
    expect(await cookieWrite(t, "listen-addr", { origin: `http://127.0.0.1:${port}` })).toBe(403);
  });
});

describe("CSRF origin check without a public URL (loopback listen)", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer("pglite");
  });
  afterAll(() => t?.close());

  it("CSRF origin check trusts the Host header: Host evil.example with Origin http://evil.example is refused", async () => {
    expect(await cookieWrite(t, "host-spoof", { host: "evil.example", origin: EVIL })).toBe(403);
  });

  it.each(["127.0.0.1", "localhost", "[::1]"])(
    "accepts the bound listen port reached as %s, the loopback equivalents of the listen address",
    async (name) => {
      const port = t.server.restAddress.port;
      expect(await cookieWrite(t, `loop-${name.replace(/\W/g, "")}`, { origin: `http://${name}:${port}` })).toBe(201);
    },
  );

  it("refuses another port on the same loopback address", async () => {
    const port = t.server.restAddress.port;
    expect(await cookieWrite(t, "other-port", { origin: `http://127.0.0.1:${port + 1}` })).toBe(403);
  });
});
