import { atLeast } from "../auth/roles.js";
import type { Sandbox, SandboxState } from "../db/schema.js";
import { AppError, forbidden } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";

/**
 * Acting on a sandbox and reading what is in it (files, command output) take the same standing: a
 * clone holds production data (SPEC §3), so members reach their own sandboxes and admins everyone's.
 */
export function mayEnter(scope: OrgScope, sandbox: Sandbox): boolean {
  return (
    atLeast(scope.role, "admin") || (atLeast(scope.role, "member") && sandbox.created_by === scope.principal.userId)
  );
}

export function assertCanModify(scope: OrgScope, sandbox: Sandbox): void {
  if (!atLeast(scope.role, "member")) throw forbidden("viewers cannot change sandboxes");
  if (!mayEnter(scope, sandbox)) throw forbidden("only admins can change sandboxes created by someone else");
}

export function assertCanRead(scope: OrgScope, sandbox: Sandbox): void {
  if (!atLeast(scope.role, "member")) throw forbidden("viewers see sandbox metadata only, not files or output");
  if (!mayEnter(scope, sandbox)) throw forbidden("only admins can read sandboxes created by someone else");
}

export function assertState(sandbox: Sandbox, allowed: SandboxState[], action: string): void {
  if (sandbox.ended_at)
    throw new AppError("invalid_state", `sandbox has ended (${sandbox.end_reason}); cannot ${action}`);
  if (!allowed.includes(sandbox.state)) {
    throw new AppError("invalid_state", `cannot ${action} a sandbox that is ${sandbox.state}`);
  }
}
