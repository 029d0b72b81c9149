import type { Sandbox } from "@fluid/sdk";

export type Role = "viewer" | "member" | "admin" | "owner";

const rank: Record<Role, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };

export function atLeast(role: string, minimum: Role): boolean {
  return (rank[role as Role] ?? -1) >= rank[minimum];
}

/**
 * What the signed-in person may do, mirroring the server's rules (SPEC §3) so the page offers only
 * controls that will work; the server still decides every call.
 */
export const can = {
  /** Host tokens, API keys, members. */
  manageOrg: (role: string) => atLeast(role, "admin"),
  createSandbox: (role: string) => atLeast(role, "member"),
  /** Command output and files are as sensitive as production: own sandboxes for members, all for admins. */
  readContents: (role: string, userId: string, sandbox: Pick<Sandbox, "created_by">) =>
    atLeast(role, "admin") || (atLeast(role, "member") && sandbox.created_by === userId),
  /** Run, stop, start, extend, snapshot and destroy follow the same rule as reading contents. */
  operate: (role: string, userId: string, sandbox: Pick<Sandbox, "created_by">) =>
    atLeast(role, "admin") || (atLeast(role, "member") && sandbox.created_by === userId),
};
