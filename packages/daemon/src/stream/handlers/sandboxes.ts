import { canonicalAllowlist } from "../../network/egress.js";
import { sandboxDefaults } from "../../sandboxes/defaults.js";
import { createSandbox } from "./create.js";
import { forkSandbox } from "./fork.js";
import type { HandlerTable } from "./types.js";

/** Lifecycle and exec: create, destroy, start, stop, extend, set egress, fork and run a command. */
export const sandboxHandlers: HandlerTable = {
  createSandbox,
  destroySandbox: async (c, { manager }) => {
    await manager.destroy(c.sandboxId, c.reason || "user_request");
    return { case: "sandboxDestroyed", value: { sandboxId: c.sandboxId } };
  },
  startSandbox: async (c, { manager }) => {
    const row = await manager.start(c.sandboxId);
    return { case: "sandboxStarted", value: { sandboxId: row.id, state: row.state, ipAddress: row.ip ?? "" } };
  },
  stopSandbox: async (c, { manager }) => {
    const row = await manager.stop(c.sandboxId, c.force);
    return { case: "sandboxStopped", value: { sandboxId: row.id, state: row.state } };
  },
  extendSandbox: async (c, { manager }) => {
    await manager.extend(c.sandboxId, Number(c.expiresAtUnix) * 1000);
    return { case: "sandboxExtended", value: { sandboxId: c.sandboxId, expiresAtUnix: c.expiresAtUnix } };
  },
  setEgress: async (c, { manager }) => {
    await manager.setEgress(c.sandboxId, c.allowAll ? true : c.allow.length > 0 ? canonicalAllowlist(c.allow) : false);
    return { case: "egressSet", value: { sandboxId: c.sandboxId } };
  },
  forkSandbox: (c, { manager }) => forkSandbox(manager, c),
  runCommand: async (c, { manager, onOutput }) => {
    const send = c.streamOutput ? onOutput : undefined;
    const result = await manager.exec(
      c.sandboxId,
      {
        command: c.command,
        env: c.env,
        timeoutSeconds: c.timeoutSeconds > 0 ? c.timeoutSeconds : sandboxDefaults.commandTimeoutSeconds,
      },
      send && ((stream, data) => send({ sandboxId: c.sandboxId, stream, data })),
    );
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
  },
};
