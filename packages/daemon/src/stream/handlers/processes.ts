import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ProcessInfoSchema } from "@fluid/proto";
import type { ProcessRow } from "../../state/schema.js";
import type { HandlerTable } from "./types.js";

/** Background processes: start, list, read logs, write stdin, signal. */
export const processHandlers: HandlerTable = {
  startProcess: async (c, { manager }) => {
    const row = await manager.processes.start({
      sandboxId: c.sandboxId,
      processId: c.processId,
      name: c.name,
      command: c.command,
      env: c.env,
    });
    return { case: "processStarted", value: { process: processInfo(row) } };
  },
  listProcesses: async (c, { manager }) => {
    const rows = await manager.processes.list(c.sandboxId, c.processId);
    return { case: "processList", value: { processes: rows.map(processInfo) } };
  },
  readProcessLog: async (c, { manager }) => {
    const log = await manager.processes.readLog({
      sandboxId: c.sandboxId,
      processId: c.processId,
      stdoutOffset: Number(c.stdoutOffset),
      stderrOffset: Number(c.stderrOffset),
      maxBytes: c.maxBytes,
    });
    return {
      case: "processLog",
      value: {
        process: processInfo(log.process),
        stdout: log.stdout,
        stderr: log.stderr,
        stdoutOffset: BigInt(log.stdoutOffset),
        stderrOffset: BigInt(log.stderrOffset),
        stdoutTruncated: log.stdoutTruncated,
        stderrTruncated: log.stderrTruncated,
      },
    };
  },
  processInput: async (c, { manager }) => {
    const written = await manager.processes.input({
      sandboxId: c.sandboxId,
      processId: c.processId,
      data: Buffer.from(c.data),
      close: c.closeStdin,
    });
    return {
      case: "processInputWritten",
      value: { sandboxId: c.sandboxId, processId: c.processId, bytesWritten: BigInt(written) },
    };
  },
  signalProcess: async (c, { manager }) => {
    const row = await manager.processes.signal({ sandboxId: c.sandboxId, processId: c.processId, signal: c.signal });
    return { case: "processSignalled", value: { process: processInfo(row) } };
  },
};

export function processInfo(row: ProcessRow): MessageInitShape<typeof ProcessInfoSchema> {
  return {
    sandboxId: row.sandbox_id,
    processId: row.id,
    name: row.name,
    command: row.command,
    pid: row.pid ?? 0,
    state: row.state,
    exitCode: row.exit_code ?? 0,
    startedAtUnixMs: BigInt(row.started_at),
    endedAtUnixMs: BigInt(row.ended_at ?? 0),
  };
}
