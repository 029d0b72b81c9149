import { startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthenticationError,
  createClient,
  FluidError,
  NotFoundError,
  QuotaExceededError,
  type Quotas,
  type Usage,
  unwrap,
} from "./index.js";

describe("@fluid/sdk against a real server", () => {
  let t: TestServer;
  let key: string;

  beforeAll(async () => {
    t = await startTestServer("pglite", { quotas: { sandboxes: null, vcpus: 2, memoryMb: null, snapshotBytes: null } });
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    key = (await t.apiKey(owner, "acme", "admin")).key;
  });

  afterAll(() => t.close());

  it("authenticates with the API key and returns typed data", async () => {
    const client = createClient({ baseUrl: t.restUrl, apiKey: key });
    const org = await unwrap(client.GET("/v1/orgs/{slug}", { params: { path: { slug: "acme" } } }));
    expect(org).toMatchObject({ slug: "acme", role: "admin" });
    const token = await unwrap(
      client.POST("/v1/orgs/{slug}/hosts/tokens", { params: { path: { slug: "acme" } }, body: { name: "h1" } }),
    );
    expect(token.token).toMatch(/^flh_/);
  });

  it("turns error responses into FluidError subclasses with the server's code", async () => {
    const client = createClient({ baseUrl: t.restUrl, apiKey: key });
    const failure = unwrap(client.GET("/v1/orgs/{slug}", { params: { path: { slug: "nope" } } }));
    await expect(failure).rejects.toBeInstanceOf(FluidError);
    await expect(failure).rejects.toBeInstanceOf(NotFoundError);
    await expect(failure).rejects.toMatchObject({ status: 404, code: "not_found", message: "organization not found" });
  });

  it("types the fork operation: count and optional snapshot_id and names, answered with {sandboxes}", async () => {
    const client = createClient({ baseUrl: t.restUrl, apiKey: key });
    const fork = unwrap(
      client.POST("/v1/orgs/{slug}/sandboxes/{id}/fork", {
        params: { path: { slug: "acme", id: "00000000-0000-4000-8000-000000000000" } },
        body: { count: 2, names: ["a", "b"] },
      }),
    ).then((result) => result.sandboxes.map((s) => s.forked_from));
    await expect(fork).rejects.toMatchObject({ status: 404, code: "not_found", message: "sandbox not found" });
  });

  it("reads quotas and usage as typed data", async () => {
    const client = createClient({ baseUrl: t.restUrl, apiKey: key });
    const slug = { path: { slug: "acme" } };
    const quotas: Quotas = await unwrap(client.GET("/v1/orgs/{slug}/quotas", { params: slug }));
    expect(quotas.vcpus).toEqual({ limit: 2, used: 0 });
    expect(quotas.sandboxes.limit).toBeNull();
    const usage: Usage = await unwrap(
      client.GET("/v1/orgs/{slug}/usage", { params: { ...slug, query: { from: "2026-01-01", to: "2026-01-31" } } }),
    );
    expect(usage).toEqual({
      from: "2026-01-01",
      to: "2026-01-31",
      days: [],
      totals: { sandbox_seconds: 0, vcpu_seconds: 0, memory_mb_seconds: 0 },
    });
  });

  it("a create past a quota throws QuotaExceededError (429) naming the limit", async () => {
    const client = createClient({ baseUrl: t.restUrl, apiKey: key });
    const create = unwrap(
      client.POST("/v1/orgs/{slug}/sandboxes", {
        params: { path: { slug: "acme" } },
        body: { source_vm: "tiny", vcpus: 4 },
      }),
    );
    await expect(create).rejects.toBeInstanceOf(QuotaExceededError);
    await expect(create).rejects.toMatchObject({
      status: 429,
      code: "quota_exceeded",
      message: "the organization's vCPUs quota would be exceeded: limit 2, in use 0, requested 4",
    });
  });

  it("without a key the server answers 401", async () => {
    const anonymous = createClient({ baseUrl: t.restUrl });
    const failure = unwrap(anonymous.GET("/v1/orgs"));
    await expect(failure).rejects.toMatchObject({ status: 401, code: "unauthenticated" });
    await expect(failure).rejects.toBeInstanceOf(AuthenticationError);
  });
});
