import type { ControlMessage } from "@fluid/proto";

const LISTED_ID = "5f0c0a52-56f5-4c4e-9d43-7d4e3f0c2a11";

/** The one process the scripted host knows: whatever was started, it is running `sleep 1` as pid 42. */
function runningProcess(sandboxId: string, processId: string) {
  return {
    sandboxId,
    processId: processId || LISTED_ID,
    name: "",
    command: "sleep 1",
    pid: 42,
    state: "running",
    startedAtUnixMs: 1_700_000_000_000n,
  };
}

const ids = (m: ControlMessage) => {
  const value = m.payload.value as { sandboxId?: string; processId?: string } | undefined;
  return { sandboxId: value?.sandboxId ?? "", processId: value?.processId ?? "" };
};

/** Background process replies for the scripted test host. */
export const processHandlers = {
  startProcess: (m: ControlMessage) => {
    const { sandboxId, processId } = ids(m);
    return { case: "processStarted" as const, value: { process: runningProcess(sandboxId, processId) } };
  },
  listProcesses: (m: ControlMessage) => {
    const { sandboxId, processId } = ids(m);
    return { case: "processList" as const, value: { processes: [runningProcess(sandboxId, processId)] } };
  },
  readProcessLog: (m: ControlMessage) => {
    const { sandboxId, processId } = ids(m);
    return {
      case: "processLog" as const,
      value: { process: runningProcess(sandboxId, processId), stdout: new TextEncoder().encode("1\n") },
    };
  },
  processInput: (m: ControlMessage) => ({
    case: "processInputWritten" as const,
    value: { ...ids(m), bytesWritten: 1n },
  }),
  signalProcess: (m: ControlMessage) => {
    const { sandboxId, processId } = ids(m);
    return { case: "processSignalled" as const, value: { process: runningProcess(sandboxId, processId) } };
  },
};
