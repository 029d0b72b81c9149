import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import { newId } from "../lib/ids.js";
import type { OrgScope } from "../orgs/access.js";
import type { TerminalWatcher } from "../stream/host-session.js";
import { assertCanModify, assertState } from "./access.js";
import type { SandboxDeps } from "./deps.js";
import { getSandbox } from "./store.js";
import type { TerminalLink } from "./terminal-link.js";

/**
 * The sandbox a terminal would open in: whoever may run commands in the sandbox may open a shell in it.
 */
export async function terminalSandbox(deps: SandboxDeps, scope: OrgScope, id: string) {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "open a terminal in");
  return sandbox;
}

/** Opens a terminal, audited before it is sent like a command. */
export async function openTerminal(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  size: { cols: number; rows: number },
  watcher: TerminalWatcher,
): Promise<TerminalLink & { terminalId: string }> {
  const sandbox = await terminalSandbox(deps, scope, id);
  const terminalId = newId();
  await appendAuditEvent(deps.db, {
    orgId: scope.orgId,
    actor: auditActorOf(scope.principal),
    action: "sandbox.terminal_opened",
    target: { type: "sandbox", id },
    details: { terminal_id: terminalId, cols: size.cols, rows: size.rows },
  });
  const link = await deps.host.openTerminal(sandbox.host_id, { sandboxId: id, terminalId, ...size }, watcher);
  return { ...link, terminalId };
}
