import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  CreateSandboxCommandSchema,
  DeleteSnapshotCommandSchema,
  DestroySandboxCommandSchema,
  DiffSandboxCommandSchema,
  ExtendSandboxCommandSchema,
  ForkSandboxCommandSchema,
  ListFilesCommandSchema,
  ListProcessesCommandSchema,
  ProcessInputCommandSchema,
  ReadFileCommandSchema,
  ReadProcessLogCommandSchema,
  RestoreSnapshotCommandSchema,
  RunCommandCommandSchema,
  RunPlaybookCommandSchema,
  SetEgressCommandSchema,
  SignalProcessCommandSchema,
  SnapshotCommandSchema,
  StartProcessCommandSchema,
  StartSandboxCommandSchema,
  StopSandboxCommandSchema,
  WriteFileCommandSchema,
} from "@fluid/proto";
import { AppError } from "../http/errors.js";
import type { HostRouter } from "../replicas/hosts.js";
import { HostCommandError, toAppError } from "../stream/errors.js";
import type { Command, TerminalWatcher } from "../stream/host-session.js";
import { type CommandTarget, expectReply, type ReplyCase, type ReplyValue, sendCommand } from "../stream/replies.js";
import { defaultDeadlines, type HostDeadlines } from "./limits.js";
import { openTerminalLink, type TerminalLink } from "./terminal-link.js";

/**
 * How a destroy ended when it did not fail: the host may already have lost the VM, or be away, and
 * either way its reconciliation removes what is left when it reports again.
 */
export type DestroyOutcome = "destroyed" | "unknown_to_host" | "host_away";

type HostRoutes = Pick<HostRouter, "request" | "connectedAmong"> &
  Partial<Pick<HostRouter, "requestStreaming" | "localSession">>;

/** A piece of a command's output as the control plane hands it on. */
export interface OutputPiece {
  stream: "stdout" | "stderr";
  data: Uint8Array;
}

type Init<S extends Parameters<typeof create>[0]> = MessageInitShape<S>;

/**
 * The control plane's commands to sandbox hosts: one method per command with its deadline, its
 * expected reply, and its failures as AppErrors (the action names what failed for the caller).
 */
export class HostClient {
  readonly deadlines: HostDeadlines;
  private readonly hosts: HostRoutes;

  constructor(hosts: HostRoutes, deadlines: Partial<HostDeadlines> = {}) {
    this.hosts = hosts;
    this.deadlines = { ...defaultDeadlines, ...deadlines };
  }

  async isConnected(hostId: string): Promise<boolean> {
    return (await this.hosts.connectedAmong([hostId])).has(hostId);
  }

  /** Of `hostIds`, those some replica has a stream to. */
  connectedAmong(hostIds: readonly string[]): Promise<Set<string>> {
    return this.hosts.connectedAmong(hostIds);
  }

  private async call<C extends ReplyCase>(
    hostId: string,
    command: Command,
    reply: C,
    timeoutMs: number,
    action: string,
  ): Promise<ReplyValue<C>> {
    try {
      return await sendCommand(this.target(hostId), command, reply, timeoutMs);
    } catch (err) {
      throw toAppError(err, action);
    }
  }

  private target(hostId: string): CommandTarget {
    return { request: (command, timeoutMs) => this.hosts.request(hostId, command, timeoutMs) };
  }

  createSandbox(hostId: string, input: Init<typeof CreateSandboxCommandSchema>) {
    const value = create(CreateSandboxCommandSchema, input);
    return this.call(
      hostId,
      { case: "createSandbox", value },
      "sandboxCreated",
      this.deadlines.createMs,
      "create sandbox",
    );
  }

  forkSandbox(hostId: string, input: Init<typeof ForkSandboxCommandSchema>) {
    const value = create(ForkSandboxCommandSchema, input);
    return this.call(
      hostId,
      { case: "forkSandbox", value },
      "sandboxesForked",
      this.deadlines.createMs,
      "fork sandbox",
    );
  }

  /** Any reply counts: older hosts answered a destroy with nothing in particular. */
  async destroySandbox(hostId: string, sandboxId: string, reason: string): Promise<DestroyOutcome> {
    const value = create(DestroySandboxCommandSchema, { sandboxId, reason });
    try {
      await this.hosts.request(hostId, { case: "destroySandbox", value }, this.deadlines.destroyMs);
      return "destroyed";
    } catch (err) {
      if (err instanceof HostCommandError && err.hostCode === "not_found") return "unknown_to_host";
      if (err instanceof AppError && err.code === "host_unavailable") return "host_away";
      throw toAppError(err, "destroy sandbox");
    }
  }

  startSandbox(hostId: string, sandboxId: string) {
    const value = create(StartSandboxCommandSchema, { sandboxId });
    return this.call(
      hostId,
      { case: "startSandbox", value },
      "sandboxStarted",
      this.deadlines.startMs,
      "start sandbox",
    );
  }

  stopSandbox(hostId: string, sandboxId: string, force: boolean) {
    const value = create(StopSandboxCommandSchema, { sandboxId, force });
    return this.call(hostId, { case: "stopSandbox", value }, "sandboxStopped", this.deadlines.stopMs, "stop sandbox");
  }

  /** Moves the host's lease deadline (its janitor's) to `expiresAt`. */
  extendSandbox(hostId: string, sandboxId: string, expiresAt: Date) {
    const value = create(ExtendSandboxCommandSchema, {
      sandboxId,
      expiresAtUnix: BigInt(Math.floor(expiresAt.getTime() / 1000)),
    });
    return this.call(
      hostId,
      { case: "extendSandbox", value },
      "sandboxExtended",
      this.deadlines.extendMs,
      "extend sandbox lease",
    );
  }

  /** Replaces the sandbox's egress on its host: anywhere, only the allowlist, or (neither) nowhere. */
  setEgress(hostId: string, sandboxId: string, egress: { allowAll: boolean; allow: readonly string[] }) {
    const value = create(SetEgressCommandSchema, { sandboxId, allowAll: egress.allowAll, allow: [...egress.allow] });
    return this.call(hostId, { case: "setEgress", value }, "egressSet", this.deadlines.egressMs, "set sandbox egress");
  }

  startProcess(hostId: string, input: Init<typeof StartProcessCommandSchema>) {
    const value = create(StartProcessCommandSchema, input);
    return this.call(hostId, { case: "startProcess", value }, "processStarted", this.deadlines.fileMs, "start process");
  }

  listProcesses(hostId: string, sandboxId: string, processId = "") {
    const value = create(ListProcessesCommandSchema, { sandboxId, processId });
    return this.call(hostId, { case: "listProcesses", value }, "processList", this.deadlines.fileMs, "list processes");
  }

  readProcessLog(hostId: string, input: Init<typeof ReadProcessLogCommandSchema>) {
    const value = create(ReadProcessLogCommandSchema, input);
    return this.call(
      hostId,
      { case: "readProcessLog", value },
      "processLog",
      this.deadlines.fileMs,
      "read process log",
    );
  }

  processInput(hostId: string, input: Init<typeof ProcessInputCommandSchema>) {
    const value = create(ProcessInputCommandSchema, input);
    return this.call(
      hostId,
      { case: "processInput", value },
      "processInputWritten",
      this.deadlines.fileMs,
      "write process stdin",
    );
  }

  signalProcess(hostId: string, input: Init<typeof SignalProcessCommandSchema>) {
    const value = create(SignalProcessCommandSchema, input);
    return this.call(
      hostId,
      { case: "signalProcess", value },
      "processSignalled",
      this.deadlines.fileMs,
      "signal process",
    );
  }

  runCommand(
    hostId: string,
    input: { sandboxId: string; command: string; timeoutSeconds: number; env: Record<string, string> },
  ) {
    const value = create(RunCommandCommandSchema, input);
    const timeoutMs = input.timeoutSeconds * 1000 + this.deadlines.commandGraceMs;
    return this.call(hostId, { case: "runCommand", value }, "commandResult", timeoutMs, "run command");
  }

  /**
   * Runs a command with its output handed to `onOutput` as the host produces it. A host that
   * streams to another replica runs it buffered instead (the pieces do not cross the command bus):
   * its whole stdout, then its whole stderr, are handed on when it ends, and `live` is false.
   */
  async runCommandStreaming(
    hostId: string,
    input: { sandboxId: string; command: string; timeoutSeconds: number; env: Record<string, string> },
    onOutput: (piece: OutputPiece) => void,
  ): Promise<{ result: ReplyValue<"commandResult">; live: boolean }> {
    const timeoutMs = input.timeoutSeconds * 1000 + this.deadlines.commandGraceMs;
    const value = create(RunCommandCommandSchema, { ...input, streamOutput: true });
    const live = this.hosts.requestStreaming?.(hostId, { case: "runCommand", value }, timeoutMs, (o) => {
      if (o.stream === "stdout" || o.stream === "stderr") onOutput({ stream: o.stream, data: o.data });
    });
    const result = live
      ? await live.then(
          (reply) => expectReply(reply, "commandResult"),
          (err: unknown) => {
            throw toAppError(err, "run command");
          },
        )
      : await this.runCommand(hostId, input);
    // Output in the reply itself: the buffered fallback, or a host that predates streaming.
    const encoder = new TextEncoder();
    if (result.stdout) onOutput({ stream: "stdout", data: encoder.encode(result.stdout) });
    if (result.stderr) onOutput({ stream: "stderr", data: encoder.encode(result.stderr) });
    return { result, live: live !== undefined };
  }

  /**
   * Opens a terminal on the sandbox's host, whose output and end go to `watcher`. Only a host
   * streaming to this replica: terminal bytes do not cross the command bus between replicas.
   */
  async openTerminal(
    hostId: string,
    input: { sandboxId: string; terminalId: string; cols: number; rows: number },
    watcher: TerminalWatcher,
  ): Promise<TerminalLink> {
    const session = this.hosts.localSession?.(hostId);
    if (!session) {
      const elsewhere = await this.isConnected(hostId);
      throw new AppError(
        "host_unavailable",
        elsewhere
          ? "the sandbox's host is connected to another server replica; open the terminal through that replica"
          : "the sandbox's host is not connected",
      );
    }
    return openTerminalLink(session, input, watcher, this.deadlines.fileMs);
  }

  runPlaybook(hostId: string, input: { sandboxId: string; playbookYaml: string; timeoutSeconds: number }) {
    const value = create(RunPlaybookCommandSchema, input);
    const timeoutMs = input.timeoutSeconds * 1000 + this.deadlines.commandGraceMs;
    return this.call(hostId, { case: "runPlaybook", value }, "playbookRun", timeoutMs, "run playbook");
  }

  createSnapshot(hostId: string, input: { sandboxId: string; snapshotName: string; includeMemory: boolean }) {
    const value = create(SnapshotCommandSchema, input);
    return this.call(
      hostId,
      { case: "createSnapshot", value },
      "snapshotCreated",
      this.deadlines.snapshotMs,
      "snapshot sandbox",
    );
  }

  restoreSnapshot(hostId: string, sandboxId: string, hostSnapshotId: string) {
    const value = create(RestoreSnapshotCommandSchema, { sandboxId, snapshotId: hostSnapshotId });
    return this.call(
      hostId,
      { case: "restoreSnapshot", value },
      "sandboxRestored",
      this.deadlines.startMs,
      "restore snapshot",
    );
  }

  deleteSnapshot(hostId: string, hostSnapshotId: string) {
    const value = create(DeleteSnapshotCommandSchema, { snapshotId: hostSnapshotId });
    return this.call(
      hostId,
      { case: "deleteSnapshot", value },
      "snapshotDeleted",
      this.deadlines.fileMs,
      "delete snapshot",
    );
  }

  diffSandbox(hostId: string, input: { sandboxId: string; noiseOverrideJson: string; withPlaybook: boolean }) {
    const value = create(DiffSandboxCommandSchema, input);
    return this.call(hostId, { case: "diffSandbox", value }, "sandboxDiff", this.deadlines.diffMs, "diff sandbox");
  }

  readFile(hostId: string, sandboxId: string, path: string, maxBytes: number) {
    const value = create(ReadFileCommandSchema, { sandboxId, path, maxBytes: BigInt(maxBytes) });
    return this.call(hostId, { case: "readFile", value }, "fileContent", this.deadlines.fileMs, "read file");
  }

  writeFile(hostId: string, input: { sandboxId: string; path: string; content: Uint8Array; mode: number }) {
    const value = create(WriteFileCommandSchema, input);
    return this.call(hostId, { case: "writeFile", value }, "fileWritten", this.deadlines.fileMs, "write file");
  }

  listFiles(hostId: string, sandboxId: string, path: string) {
    const value = create(ListFilesCommandSchema, { sandboxId, path });
    return this.call(hostId, { case: "listFiles", value }, "fileList", this.deadlines.fileMs, "list files");
  }
}
