import { type CreateSandboxCommand, SnapshotMode } from "@fluid/proto";
import type { PullPhase, PullProgress } from "../../clone/pull.js";
import { SandboxError } from "../../errors.js";
import { sandboxDefaults } from "../../sandboxes/defaults.js";
import { asSandboxError, type SourceServices, sourceHostFor } from "../source-handlers.js";
import { sandboxInfo } from "./sandbox-info.js";
import type { CreateProgress, HandlerContext, Reply } from "./types.js";

/** A copy reports every chunk; the control plane hears of it at most this often (phase changes always). */
const PROGRESS_INTERVAL_MS = 1_000;

/** Boots a sandbox from an image, or from a source VM's pulled disk, reporting progress on the way. */
export async function createSandbox(
  c: CreateSandboxCommand,
  { manager, sources, onProgress }: HandlerContext,
): Promise<Reply> {
  const ttl = c.ttlSeconds > 0 ? c.ttlSeconds : undefined;
  const report = throttled(onProgress);
  const pulled = c.sourceHostConnection?.sshHost
    ? await pulledImage(sources, c, (p) =>
        report({ sandboxId: c.sandboxId, phase: p.phase, bytesDone: p.bytesCopied, bytesTotal: p.totalBytes ?? 0 }),
      )
    : undefined;
  const image = pulled?.image ?? (c.baseImage || c.sourceVm);
  report({ sandboxId: c.sandboxId, phase: "boot", bytesDone: 0, bytesTotal: 0 });
  const row = await manager.create({
    id: c.sandboxId || undefined,
    name: c.name || undefined,
    image,
    vcpus: c.vcpus > 0 ? c.vcpus : sandboxDefaults.vcpus,
    memoryMb: c.memoryMb > 0 ? c.memoryMb : sandboxDefaults.memoryMb,
    expiresAt: ttl ? Date.now() + ttl * 1000 : undefined,
    allowEgress: c.allowEgress,
    egressAllow: c.egressAllow,
    agentId: c.agentId || undefined,
  });
  return {
    case: "sandboxCreated",
    value: { ...sandboxInfo(row), sourceCapturedAt: pulled?.capturedAt ?? "" },
  };
}

/**
 * A sandbox from a source VM boots the VM's pulled disk: the cached copy unless the command asks for
 * a fresh one (a concurrent pull of the same VM is shared).
 */
async function pulledImage(
  sources: SourceServices | undefined,
  c: Pick<CreateSandboxCommand, "sourceVm" | "snapshotMode" | "sourceHostConnection">,
  onProgress: (progress: PullProgress & { phase: Exclude<PullPhase, "done"> }) => void,
): Promise<{ image: string; capturedAt: string }> {
  if (!sources) throw new SandboxError("host_unavailable", "this sandbox host does not reach source hosts");
  try {
    const host = sourceHostFor(sources, c.sourceHostConnection);
    const pulled = await host.pull(c.sourceVm, {
      fresh: c.snapshotMode === SnapshotMode.FRESH,
      onProgress: ({ phase, ...rest }) => {
        if (phase !== "done") onProgress({ phase, ...rest });
      },
    });
    if (!pulled.fluidGuest) {
      const why = pulled.warnings.join("; ") || "its disk has no fluid guest";
      // A copy cached by an older daemon may lack what a new pull would add.
      const again = pulled.cached ? ` (this is the copy captured ${pulled.capturedAt}; fresh pulls it again)` : "";
      throw new SandboxError("invalid_request", `${c.sourceVm} cannot boot as a sandbox: ${why}${again}`);
    }
    return { image: pulled.image, capturedAt: pulled.capturedAt };
  } catch (err) {
    throw asSandboxError(err);
  }
}

/** Passes on phase changes at once and progress within a phase at most every PROGRESS_INTERVAL_MS. */
function throttled(send: ((progress: CreateProgress) => void) | undefined): (progress: CreateProgress) => void {
  let lastPhase: string | undefined;
  let lastAt = 0;
  return (progress) => {
    if (!send) return;
    const now = Date.now();
    if (progress.phase === lastPhase && now - lastAt < PROGRESS_INTERVAL_MS) return;
    lastPhase = progress.phase;
    lastAt = now;
    send(progress);
  };
}
