import type { MessageInitShape } from "@bufbuild/protobuf";
import { type ControlMessage, type HostMessageSchema, SnapshotMode, type SourceHostConnection } from "@fluid/proto";
import { DEFAULT_PLAYBOOK_TIMEOUT_SECONDS, runPlaybook } from "../ansible/run-playbook.js";
import { parseNoiseOverride } from "../review/noise.js";
import { diffSandbox } from "../review/sandbox-diff.js";
import { sandboxDefaults } from "../sandboxes/defaults.js";
import { SandboxError } from "../sandboxes/errors.js";
import type { SandboxManager } from "../sandboxes/manager.js";
import type { PullPhase, PullProgress } from "../sources/pull.js";
import { forkSandbox } from "./fork-handler.js";
import { asSandboxError, handleSourceCommand, type SourceServices, sourceHostFor } from "./source-handlers.js";

type Reply = MessageInitShape<typeof HostMessageSchema>["payload"];

/** How far a sandbox creation has got (see SandboxProgress in the protocol). */
export interface CreateProgress {
  sandboxId: string;
  phase: Exclude<PullPhase, "done"> | "boot";
  bytesDone: number;
  bytesTotal: number;
}

/** A copy reports every chunk; the control plane hears of it at most this often (phase changes always). */
const PROGRESS_INTERVAL_MS = 1_000;

/** Largest file moved through the stream (the stream refuses messages over 16 MiB). */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;

/**
 * Largest diff sent back, with its playbook; text diffs and copied files are capped per file, so
 * only a vast change set comes near it.
 */
const MAX_DIFF_BYTES = 12 * 1024 * 1024;

/**
 * Turns one control-plane command into one reply payload. Throwing is the failure reply: the
 * caller sends it as an ErrorReport with the same request_id, so every command gets exactly one answer.
 */
export async function handleCommand(
  manager: SandboxManager,
  message: ControlMessage,
  sources?: SourceServices,
  onProgress?: (progress: CreateProgress) => void,
): Promise<Reply> {
  const payload = message.payload;
  switch (payload.case) {
    case "createSandbox": {
      const c = payload.value;
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
        agentId: c.agentId || undefined,
      });
      return {
        case: "sandboxCreated",
        value: {
          sandboxId: row.id,
          name: row.name,
          state: row.state,
          ipAddress: row.ip ?? "",
          macAddress: row.mac ?? "",
          bridge: row.tap ? "fluid0" : "",
          pid: row.pid ?? 0,
          sourceCapturedAt: pulled?.capturedAt ?? "",
        },
      };
    }
    case "destroySandbox":
      await manager.destroy(payload.value.sandboxId, payload.value.reason || "user_request");
      return { case: "sandboxDestroyed", value: { sandboxId: payload.value.sandboxId } };
    case "startSandbox": {
      const row = await manager.start(payload.value.sandboxId);
      return { case: "sandboxStarted", value: { sandboxId: row.id, state: row.state, ipAddress: row.ip ?? "" } };
    }
    case "stopSandbox": {
      const row = await manager.stop(payload.value.sandboxId, payload.value.force);
      return { case: "sandboxStopped", value: { sandboxId: row.id, state: row.state } };
    }
    case "runCommand": {
      const c = payload.value;
      const result = await manager.exec(c.sandboxId, {
        command: c.command,
        env: c.env,
        timeoutSeconds: c.timeoutSeconds > 0 ? c.timeoutSeconds : sandboxDefaults.commandTimeoutSeconds,
      });
      return {
        case: "commandResult",
        value: {
          sandboxId: c.sandboxId,
          stdout: result.stdout.toString("utf8"),
          stderr: result.stderr.toString("utf8"),
          exitCode: result.exitCode,
          durationMs: BigInt(result.durationMs),
          stdoutTruncated: result.stdoutTruncated,
          stderrTruncated: result.stderrTruncated,
          timedOut: result.timedOut,
        },
      };
    }
    case "createSnapshot": {
      const c = payload.value;
      const snapshot = await manager.snapshot(c.sandboxId, {
        name: c.snapshotName || `snap-${Date.now()}`,
        includeMemory: c.includeMemory,
      });
      return {
        case: "snapshotCreated",
        value: {
          sandboxId: c.sandboxId,
          snapshotId: snapshot.id,
          snapshotName: snapshot.name,
          sizeBytes: BigInt(snapshot.size_bytes),
          hasMemory: snapshot.has_memory === 1,
        },
      };
    }
    case "extendSandbox": {
      const c = payload.value;
      await manager.extend(c.sandboxId, Number(c.expiresAtUnix) * 1000);
      return { case: "sandboxExtended", value: { sandboxId: c.sandboxId, expiresAtUnix: c.expiresAtUnix } };
    }
    case "readFile": {
      const c = payload.value;
      const file = await manager.readFile(
        c.sandboxId,
        c.path,
        Number(c.maxBytes) > 0 ? Number(c.maxBytes) : MAX_FILE_BYTES,
      );
      return {
        case: "fileContent",
        value: { sandboxId: c.sandboxId, path: c.path, content: file.data, truncated: file.truncated },
      };
    }
    case "writeFile": {
      const c = payload.value;
      if (c.content.length > MAX_FILE_BYTES)
        throw new SandboxError("invalid_request", `files are limited to ${MAX_FILE_BYTES} bytes`);
      await manager.writeFile(c.sandboxId, c.path, Buffer.from(c.content), c.mode || undefined);
      return { case: "fileWritten", value: { sandboxId: c.sandboxId, path: c.path, size: BigInt(c.content.length) } };
    }
    case "listFiles": {
      const c = payload.value;
      const entries = await manager.listFiles(c.sandboxId, c.path);
      return {
        case: "fileList",
        value: {
          sandboxId: c.sandboxId,
          path: c.path,
          entries: entries.map((e) => ({
            name: e.name,
            type: e.type,
            size: BigInt(e.size),
            modifiedUnix: BigInt(e.modifiedUnix),
          })),
        },
      };
    }
    case "restoreSnapshot": {
      const row = await manager.restore(payload.value.sandboxId, payload.value.snapshotId);
      return { case: "sandboxRestored", value: { sandboxId: row.id, state: row.state, ipAddress: row.ip ?? "" } };
    }
    case "forkSandbox":
      return forkSandbox(manager, payload.value);
    case "diffSandbox": {
      const c = payload.value;
      const noise = c.noiseOverrideJson ? parseNoiseOverride(c.noiseOverrideJson) : undefined;
      const { diff, playbook } = await diffSandbox(manager, c.sandboxId, { noise, withPlaybook: c.withPlaybook });
      const json = Buffer.from(JSON.stringify(diff), "utf8");
      const size = json.length + Buffer.byteLength(playbook?.yaml ?? "", "utf8");
      if (size > MAX_DIFF_BYTES) {
        const what = playbook ? "the diff and its playbook are" : "the diff is";
        throw new SandboxError("command_refused", `${what} ${size} bytes; at most ${MAX_DIFF_BYTES} travel`);
      }
      return {
        case: "sandboxDiff",
        value: {
          sandboxId: c.sandboxId,
          diffJson: json,
          hash: diff.hash,
          playbookYaml: playbook?.yaml ?? "",
          playbookNotes: playbook?.notes ?? [],
        },
      };
    }
    case "runPlaybook": {
      const c = payload.value;
      const result = await runPlaybook(manager, c.sandboxId, {
        playbookYaml: c.playbookYaml,
        check: c.check,
        timeoutSeconds: c.timeoutSeconds > 0 ? c.timeoutSeconds : DEFAULT_PLAYBOOK_TIMEOUT_SECONDS,
      });
      return {
        case: "playbookRun",
        value: {
          sandboxId: c.sandboxId,
          exitCode: result.exitCode,
          recap: result.recap,
          log: result.log,
          logTruncated: result.logTruncated,
          durationMs: BigInt(result.durationMs),
          timedOut: result.timedOut,
        },
      };
    }
    case "prepareSourceVm":
    case "runSourceCommand":
    case "readSourceFile":
    case "listSourceVms":
    case "validateSourceVm":
    case "applyPlaybook":
      if (!sources) throw new SandboxError("host_unavailable", "this sandbox host does not reach source hosts");
      return handleSourceCommand(sources, message);
    case "discoverHosts":
      throw new SandboxError("host_unavailable", "host discovery is not supported");
    default:
      throw new SandboxError("invalid_request", `unknown command ${payload.case ?? "(empty)"}`);
  }
}

/**
 * A sandbox from a source VM boots the VM's pulled disk: the cached copy unless the command asks for
 * a fresh one (a concurrent pull of the same VM is shared).
 */
async function pulledImage(
  sources: SourceServices | undefined,
  c: { sourceVm: string; snapshotMode: SnapshotMode; sourceHostConnection?: SourceHostConnection | undefined },
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
