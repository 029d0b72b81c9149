import type { Role } from "../db/schema.js";

export const roles = ["owner", "admin", "member", "viewer"] as const satisfies readonly Role[];

const rank: Record<Role, number> = { owner: 4, admin: 3, member: 2, viewer: 1 };

export function atLeast(role: Role, minimum: Role): boolean {
  return rank[role] >= rank[minimum];
}

/** The weaker of two roles: an API key never carries more than its creator currently holds. */
export function weaker(a: Role, b: Role): Role {
  return rank[a] <= rank[b] ? a : b;
}
