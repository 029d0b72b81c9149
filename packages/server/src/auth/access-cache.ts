import type { Role } from "../db/schema.js";
import type { Principal } from "./principal.js";

/** The org row an org-scoped route resolves `{slug}` to, with the caller's membership role there. */
export interface OrgAccess {
  orgId: string;
  slug: string;
  name: string;
  ownerId: string;
  memberRole: Role;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/**
 * Short-lived memory of what an API key resolves to and which orgs a caller may act in, so a read
 * such as `GET sandbox` costs one query instead of three. Any change to keys, memberships or orgs
 * made through this replica clears it at once (`invalidate`); a change made through another
 * replica is seen here within `ttlMs`, which bounds how long a revoked key keeps working there.
 * Cookie sessions are not cached: they are looked up per request.
 */
export class AccessCache {
  private readonly principals = new Map<string, Entry<Extract<Principal, { kind: "api_key" }>>>();
  private readonly orgs = new Map<string, Entry<OrgAccess>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  principal(keyHash: string): Extract<Principal, { kind: "api_key" }> | undefined {
    return this.read(this.principals, keyHash);
  }

  /** `keyExpiresAt` keeps a key that expires sooner than the TTL from outliving its expiry here. */
  rememberPrincipal(keyHash: string, principal: Extract<Principal, { kind: "api_key" }>, keyExpiresAt: Date | null) {
    const limit = keyExpiresAt ? keyExpiresAt.getTime() : Number.POSITIVE_INFINITY;
    this.write(this.principals, keyHash, principal, Math.min(this.now() + this.ttlMs, limit));
  }

  org(principal: Principal, slug: string): OrgAccess | undefined {
    return this.read(this.orgs, orgKey(principal, slug));
  }

  rememberOrg(principal: Principal, slug: string, access: OrgAccess): void {
    this.write(this.orgs, orgKey(principal, slug), access, this.now() + this.ttlMs);
  }

  /** Called after any write to api_keys, org_members or orgs that can narrow someone's access. */
  invalidate(): void {
    this.principals.clear();
    this.orgs.clear();
  }

  private read<V>(map: Map<string, Entry<V>>, key: string): V | undefined {
    const entry = map.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      map.delete(key);
      return undefined;
    }
    return entry.value;
  }

  private write<V>(map: Map<string, Entry<V>>, key: string, value: V, expiresAt: number): void {
    if (this.ttlMs <= 0) return;
    // Maps iterate in insertion order, so the first key is the oldest entry.
    if (map.size >= this.maxEntries && !map.has(key)) map.delete(map.keys().next().value as string);
    map.set(key, { value, expiresAt });
  }
}

/** An API key is scoped by the key itself (its role may be narrower than its creator's); a session by its user. */
function orgKey(principal: Principal, slug: string): string {
  return principal.kind === "api_key" ? `key:${principal.keyId}:${slug}` : `user:${principal.userId}:${slug}`;
}
