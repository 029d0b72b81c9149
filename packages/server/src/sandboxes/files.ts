import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { Sandbox } from "../db/schema.js";
import { invalid } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import { toAppError } from "../stream/errors.js";
import { assertCanModify, assertCanRead, assertState } from "./access.js";
import type { SandboxDeps } from "./deps.js";
import { hostDiff, type NoiseOverride, type SandboxDiff } from "./diff.js";
import { sandboxLimits } from "./limits.js";
import { getSandbox } from "./store.js";

/**
 * The routes check these bounds in their schemas; the service checks them again because other callers
 * (the E2B API, MCP through REST aside) reach it without those schemas.
 */
function assertGuestPath(path: string): void {
  if (!path.startsWith("/") || path.includes("\0") || Buffer.byteLength(path) > sandboxLimits.maxGuestPathBytes) {
    throw invalid(`path: must be absolute, without NUL, at most ${sandboxLimits.maxGuestPathBytes} bytes`);
  }
}

/** Reads a file inside a running sandbox through its host. */
export async function readFile(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  path: string,
  maxBytes: number,
): Promise<{ content: Uint8Array; truncated: boolean }> {
  assertGuestPath(path);
  if (!Number.isInteger(maxBytes) || maxBytes < 0 || maxBytes > sandboxLimits.maxFileBytes) {
    throw invalid(`max_bytes: must be an integer from 0 to ${sandboxLimits.maxFileBytes}`);
  }
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanRead(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "read files in");
  const file = await deps.host.readFile(sandbox.host_id, id, path, maxBytes);
  return { content: file.content, truncated: file.truncated };
}

export async function writeFile(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  input: { path: string; content: Uint8Array; mode?: number | undefined },
): Promise<number> {
  assertGuestPath(input.path);
  if (input.content.byteLength > sandboxLimits.maxFileBytes) {
    throw invalid(`content: must be at most ${sandboxLimits.maxFileBytes} bytes`);
  }
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanModify(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "write files in");
  try {
    const written = await deps.host.writeFile(sandbox.host_id, {
      sandboxId: id,
      path: input.path,
      content: input.content,
      mode: input.mode ?? 0,
    });
    const size = Number(written.size);
    // No row records a write, so the event is appended once the host has confirmed it.
    await appendAuditEvent(deps.db, {
      orgId: scope.orgId,
      actor: auditActorOf(scope.principal),
      action: "sandbox.file_written",
      target: { type: "sandbox", id },
      details: { path: input.path, size, mode: input.mode ?? null },
    });
    return size;
  } catch (err) {
    throw toAppError(err, "write file");
  }
}

export async function listFiles(deps: SandboxDeps, scope: OrgScope, id: string, path: string) {
  assertGuestPath(path);
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanRead(scope, sandbox);
  assertState(sandbox, ["RUNNING"], "list files in");
  return (await deps.host.listFiles(sandbox.host_id, id, path)).entries;
}

export interface ReviewedDiff {
  sandbox: Sandbox;
  diff: SandboxDiff;
  playbookYaml: string;
  playbookNotes: string[];
}

/**
 * What a sandbox changed against its image, read by its host from its disk (running or stopped),
 * with the playbook the host generates from it when asked.
 */
export async function diffSandbox(
  deps: SandboxDeps,
  scope: OrgScope,
  id: string,
  options: { noise: NoiseOverride | undefined; withPlaybook: boolean },
): Promise<ReviewedDiff> {
  const sandbox = await getSandbox(deps.db, scope, id);
  assertCanRead(scope, sandbox);
  assertState(sandbox, ["RUNNING", "STOPPED"], "diff");
  const answer = await deps.host.diffSandbox(sandbox.host_id, {
    sandboxId: id,
    noiseOverrideJson: options.noise ? JSON.stringify(options.noise) : "",
    withPlaybook: options.withPlaybook,
  });
  try {
    return { sandbox, diff: hostDiff(answer), playbookYaml: answer.playbookYaml, playbookNotes: answer.playbookNotes };
  } catch (err) {
    throw toAppError(err, "diff sandbox");
  }
}
