import { describe, expect, it } from "vitest";
import { AccessCache } from "./access-cache.js";

const principal = { kind: "api_key" as const, userId: "u1", keyId: "k1", orgId: "o1", role: "member" as const };
const org = { orgId: "o1", slug: "acme", name: "Acme", ownerId: "u1", memberRole: "owner" as const };

function clock() {
  let at = 1_000_000;
  return { now: () => at, advance: (ms: number) => (at += ms) };
}

describe("AccessCache", () => {
  it("remembers a key for the TTL and forgets it after", () => {
    const c = clock();
    const cache = new AccessCache(5_000, 100, c.now);
    cache.rememberPrincipal("h1", principal, null);
    c.advance(4_999);
    expect(cache.principal("h1")).toEqual(principal);
    c.advance(1);
    expect(cache.principal("h1")).toBeUndefined();
  });

  it("never keeps a key past its own expiry", () => {
    const c = clock();
    const cache = new AccessCache(5_000, 100, c.now);
    cache.rememberPrincipal("h1", principal, new Date(c.now() + 1_000));
    c.advance(1_000);
    expect(cache.principal("h1")).toBeUndefined();
  });

  it("keeps org access apart per key and per user", () => {
    const cache = new AccessCache(5_000);
    cache.rememberOrg(principal, "acme", org);
    expect(cache.org(principal, "acme")).toEqual(org);
    expect(cache.org({ ...principal, keyId: "k2" }, "acme")).toBeUndefined();
    expect(cache.org({ kind: "user", userId: "u1", sessionId: "s1" }, "acme")).toBeUndefined();
    expect(cache.org(principal, "other")).toBeUndefined();
  });

  it("invalidate forgets everything at once", () => {
    const cache = new AccessCache(5_000);
    cache.rememberPrincipal("h1", principal, null);
    cache.rememberOrg(principal, "acme", org);
    cache.invalidate();
    expect(cache.principal("h1")).toBeUndefined();
    expect(cache.org(principal, "acme")).toBeUndefined();
  });

  it("a TTL of zero caches nothing", () => {
    const cache = new AccessCache(0);
    cache.rememberPrincipal("h1", principal, null);
    expect(cache.principal("h1")).toBeUndefined();
  });

  it("stays within its size bound by dropping the oldest entry", () => {
    const cache = new AccessCache(5_000, 2);
    cache.rememberPrincipal("h1", principal, null);
    cache.rememberPrincipal("h2", principal, null);
    cache.rememberPrincipal("h3", principal, null);
    expect(cache.principal("h1")).toBeUndefined();
    expect(cache.principal("h2")).toEqual(principal);
    expect(cache.principal("h3")).toEqual(principal);
  });
});
