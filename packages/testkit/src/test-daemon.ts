import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Outbox } from "@fluid/daemon/testing-api";
import {
  type ControlMessage,
  type HostMessage,
  HostMessageSchema,
  type HostMessageSchema as HostMessageSchemaType,
  HostService,
  type RegistrationAck,
} from "@fluid/proto";
import { processHandlers } from "./test-daemon-processes.js";

type HostPayload = MessageInitShape<typeof HostMessageSchemaType>["payload"];
type CommandCase = NonNullable<ControlMessage["payload"]["case"]>;

/** The diff the test host reports for every sandbox: one added file, with a text diff. */
export function testDiff() {
  return {
    hash: "a".repeat(64),
    summary: { total: 1, added: 1, changed: 0, removed: 0, by_kind: { file: 1 } },
    changes: [
      {
        kind: "file" as const,
        action: "added" as const,
        path: "/etc/app.conf",
        mode: "0644",
        size: 12,
        diff: "@@ -0,0 +1,1 @@\n+listen 8080\n",
      },
    ],
  };
}

/** What a handler answers: a reply payload, an error report, or "hold" (never answer). */
export type HandlerResult = HostPayload | { error: string; code?: string } | "hold";
export type Handler = (command: ControlMessage) => HandlerResult | Promise<HandlerResult>;

export interface TestDaemonOptions {
  token: string;
  registration?: Partial<{
    hostId: string;
    hostname: string;
    baseImages: string[];
    totalCpus: number;
    availableCpus: number;
    totalMemoryMb: bigint;
    availableMemoryMb: bigint;
    availableDiskMb: bigint;
  }>;
  handlers?: Partial<Record<CommandCase, Handler>>;
  /**
   * Heartbeat at the interval the server asks for, as a real daemon does, so a host in a long test
   * (a slow machine, a CLI test spawning processes) stays live. Off by default: stream tests decide
   * themselves when heartbeats go missing.
   */
  keepAlive?: boolean;
}

/** Opens a raw stream that sends `first` and nothing else; resolves with how the server ended it. */
export async function openRawStream(
  url: string,
  authorization: string | undefined,
  first: MessageInitShape<typeof HostMessageSchemaType>,
) {
  const outgoing = new Outbox<HostMessage>();
  outgoing.push(create(HostMessageSchema, first));
  const client: Client<typeof HostService> = createClient(HostService, createGrpcTransport({ baseUrl: url }));
  const responses = client.connect(outgoing, authorization ? { headers: { authorization } } : {});
  const received: ControlMessage[] = [];
  try {
    for await (const message of responses) received.push(message);
    return { received, error: undefined };
  } catch (err) {
    return { received, error: ConnectError.from(err) };
  } finally {
    outgoing.end();
  }
}

let ipCounter = 10;

/** Replies a well-behaved host would give; tests override per command. */
export const defaultHandlers: Partial<Record<CommandCase, Handler>> = {
  ...processHandlers,
  createSandbox: (m) => {
    const id = m.payload.case === "createSandbox" ? m.payload.value.sandboxId : "";
    return {
      case: "sandboxCreated",
      value: {
        sandboxId: id,
        state: "RUNNING",
        ipAddress: `10.0.0.${ipCounter++ % 250}`,
        macAddress: "52:54:00:00:00:01",
        bridge: "fluid0",
        pid: 4242,
      },
    };
  },
  forkSandbox: (m) => {
    const clones = m.payload.case === "forkSandbox" ? m.payload.value.clones : [];
    return {
      case: "sandboxesForked",
      value: {
        sandboxes: clones.map((clone, n) => ({
          sandboxId: clone.sandboxId,
          name: clone.name,
          state: "RUNNING",
          ipAddress: `10.0.0.${ipCounter++ % 250}`,
          macAddress: `52:54:00:00:01:${(n + 16).toString(16)}`,
          bridge: "fluid0",
          pid: 5000 + n,
        })),
      },
    };
  },
  destroySandbox: (m) => ({
    case: "sandboxDestroyed",
    value: { sandboxId: m.payload.case === "destroySandbox" ? m.payload.value.sandboxId : "" },
  }),
  startSandbox: (m) => ({
    case: "sandboxStarted",
    value: {
      sandboxId: m.payload.case === "startSandbox" ? m.payload.value.sandboxId : "",
      state: "RUNNING",
      ipAddress: "10.0.0.99",
    },
  }),
  stopSandbox: (m) => ({
    case: "sandboxStopped",
    value: { sandboxId: m.payload.case === "stopSandbox" ? m.payload.value.sandboxId : "", state: "STOPPED" },
  }),
  runCommand: (m) => {
    const cmd = m.payload.case === "runCommand" ? m.payload.value : undefined;
    return {
      case: "commandResult",
      value: { sandboxId: cmd?.sandboxId, stdout: `ran: ${cmd?.command}\n`, stderr: "", exitCode: 0, durationMs: 7n },
    };
  },
  createSnapshot: (m) => {
    const cmd = m.payload.case === "createSnapshot" ? m.payload.value : undefined;
    return {
      case: "snapshotCreated",
      value: {
        sandboxId: cmd?.sandboxId,
        snapshotId: `snap-${cmd?.snapshotName}`,
        snapshotName: cmd?.snapshotName,
        sizeBytes: 1024n,
        hasMemory: cmd?.includeMemory,
      },
    };
  },
  readFile: (m) => {
    const cmd = m.payload.case === "readFile" ? m.payload.value : undefined;
    return {
      case: "fileContent",
      value: { sandboxId: cmd?.sandboxId, path: cmd?.path, content: new Uint8Array([0, 1, 2, 255]) },
    };
  },
  writeFile: (m) => {
    const cmd = m.payload.case === "writeFile" ? m.payload.value : undefined;
    return {
      case: "fileWritten",
      value: { sandboxId: cmd?.sandboxId, path: cmd?.path, size: BigInt(cmd?.content.length ?? 0) },
    };
  },
  listFiles: (m) => {
    const cmd = m.payload.case === "listFiles" ? m.payload.value : undefined;
    return {
      case: "fileList",
      value: {
        sandboxId: cmd?.sandboxId,
        path: cmd?.path,
        entries: [{ name: "hosts", type: "file", size: 42n, modifiedUnix: 1_700_000_000n }],
      },
    };
  },
  diffSandbox: (m) => {
    const cmd = m.payload.case === "diffSandbox" ? m.payload.value : undefined;
    const diff = testDiff();
    return {
      case: "sandboxDiff",
      value: { sandboxId: cmd?.sandboxId, diffJson: Buffer.from(JSON.stringify(diff)), hash: diff.hash },
    };
  },
  // A playbook that applies cleanly and changes nothing; verification tests script their own runs.
  runPlaybook: (m) => ({
    case: "playbookRun",
    value: {
      sandboxId: m.payload.case === "runPlaybook" ? m.payload.value.sandboxId : "",
      exitCode: 0,
      recap: { ok: 2, changed: 0 },
      log: "PLAY RECAP *********\nsandbox : ok=2 changed=0 unreachable=0 failed=0\n",
      durationMs: 40n,
    },
  }),
  restoreSnapshot: (m) => {
    const cmd = m.payload.case === "restoreSnapshot" ? m.payload.value : undefined;
    return { case: "sandboxRestored", value: { sandboxId: cmd?.sandboxId, state: "RUNNING", ipAddress: "10.0.0.77" } };
  },
  deleteSnapshot: (m) => {
    const cmd = m.payload.case === "deleteSnapshot" ? m.payload.value : undefined;
    return { case: "snapshotDeleted", value: { snapshotId: cmd?.snapshotId, existed: true } };
  },
  setEgress: (m) => ({
    case: "egressSet",
    value: { sandboxId: m.payload.case === "setEgress" ? m.payload.value.sandboxId : "" },
  }),
  extendSandbox: (m) => {
    const cmd = m.payload.case === "extendSandbox" ? m.payload.value : undefined;
    return { case: "sandboxExtended", value: { sandboxId: cmd?.sandboxId, expiresAtUnix: cmd?.expiresAtUnix } };
  },
  // Every source host has one running VM, web-1; `rm` is refused the way a host's policy refuses it.
  listSourceVms: () => ({
    case: "sourceVmsList",
    value: { vms: [{ name: "web-1", state: "running", ipAddress: "192.0.2.10" }] },
  }),
  runSourceCommand: (m) => {
    const cmd = m.payload.case === "runSourceCommand" ? m.payload.value : undefined;
    if (cmd?.command.startsWith("rm")) return { error: "rm is not on the read-only allowlist", code: "refused" };
    return {
      case: "sourceCommandResult",
      value: { sourceVm: cmd?.sourceVm, exitCode: 0, stdout: `ran ${cmd?.command}\n` },
    };
  },
  // Text for most paths; a few ELF bytes for /bin/true. Contents travel base64-encoded.
  readSourceFile: (m) => {
    const cmd = m.payload.case === "readSourceFile" ? m.payload.value : undefined;
    const bytes = cmd?.path === "/bin/true" ? Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1]) : Buffer.from("ID=debian\n");
    return {
      case: "sourceFileResult",
      value: { sourceVm: cmd?.sourceVm, path: cmd?.path, content: bytes.toString("base64") },
    };
  },
  prepareSourceVm: (m) => {
    const cmd = m.payload.case === "prepareSourceVm" ? m.payload.value : undefined;
    return {
      case: "sourceVmPrepared",
      value: {
        sourceVm: cmd?.sourceVm,
        ipAddress: "192.0.2.10",
        prepared: true,
        userCreated: true,
        shellInstalled: true,
        caKeyInstalled: true,
        sshdConfigured: true,
        principalsCreated: true,
        sshdRestarted: true,
      },
    };
  },
};

/**
 * A sandbox host written against the generated protocol, speaking real gRPC over HTTP/2 to the
 * server under test. It answers commands through handlers and records everything it receives.
 */
export class TestDaemon {
  readonly received: ControlMessage[] = [];
  ack: RegistrationAck | undefined;
  handlers: Partial<Record<CommandCase, Handler>>;
  /** Settles when the server ends the stream: undefined for a clean end, else the error. */
  readonly ended: Promise<ConnectError | undefined>;
  private readonly outgoing = new Outbox<HostMessage>();
  private readonly controller = new AbortController();
  private readonly listeners = new Set<(m: ControlMessage) => void>();
  private ackWaiter: { resolve(ack: RegistrationAck): void; reject(err: unknown): void } | undefined;

  private constructor(url: string, options: TestDaemonOptions) {
    this.handlers = { ...defaultHandlers, ...options.handlers };
    const client: Client<typeof HostService> = createClient(HostService, createGrpcTransport({ baseUrl: url }));
    const responses = client.connect(this.outgoing, {
      headers: { authorization: `Bearer ${options.token}` },
      signal: this.controller.signal,
    });
    this.ended = (async () => {
      try {
        for await (const message of responses) this.onMessage(message);
        return undefined;
      } catch (err) {
        const error = ConnectError.from(err);
        this.ackWaiter?.reject(error);
        return error;
      }
    })();
  }

  /** Opens a stream, registers, and resolves once the server has acknowledged. */
  static async connect(url: string, options: TestDaemonOptions): Promise<TestDaemon> {
    const daemon = new TestDaemon(url, options);
    const acked = new Promise<RegistrationAck>((resolve, reject) => {
      daemon.ackWaiter = { resolve, reject };
    });
    daemon.send({
      requestId: "registration-1",
      payload: {
        case: "registration",
        value: {
          hostId: "daemon-chosen-id",
          hostname: "test-host",
          version: "test",
          totalCpus: 4,
          availableCpus: 4,
          totalMemoryMb: 8192n,
          availableMemoryMb: 8192n,
          totalDiskMb: 100_000n,
          availableDiskMb: 100_000n,
          baseImages: ["debian-12", "tiny"],
          ...options.registration,
        },
      },
    });
    daemon.ack = await acked;
    if (options.keepAlive) {
      const timer = setInterval(() => daemon.heartbeat(), daemon.ack.heartbeatIntervalSeconds * 1000);
      timer.unref();
      daemon.controller.signal.addEventListener("abort", () => clearInterval(timer));
      void daemon.ended.then(() => clearInterval(timer));
    }
    return daemon;
  }

  send(message: MessageInitShape<typeof HostMessageSchemaType>): void {
    this.outgoing.push(create(HostMessageSchema, message));
  }

  heartbeat(
    values: {
      activeSandboxes?: number;
      availableCpus?: number;
      availableMemoryMb?: bigint;
      availableDiskMb?: bigint;
    } = {},
  ): void {
    this.send({
      payload: {
        case: "heartbeat",
        value: { availableCpus: 4, availableMemoryMb: 8192n, availableDiskMb: 100_000n, ...values },
      },
    });
  }

  reply(requestId: string, payload: HostPayload): void {
    this.send({ requestId, payload });
  }

  /** Resolves with the next received command matching `predicate` (or one already received). */
  waitFor(predicate: (m: ControlMessage) => boolean, timeoutMs = 10_000): Promise<ControlMessage> {
    const existing = this.received.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error("timed out waiting for a command"));
      }, timeoutMs);
      const listener = (m: ControlMessage) => {
        if (!predicate(m)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(m);
      };
      this.listeners.add(listener);
    });
  }

  commands(kind: CommandCase): ControlMessage[] {
    return this.received.filter((m) => m.payload.case === kind);
  }

  /** Ends the request side cleanly (like a daemon shutting down). */
  end(): void {
    this.outgoing.end();
  }

  /** Cuts the stream abruptly (like a network failure or kill -9). */
  abort(): void {
    this.controller.abort();
  }

  private onMessage(message: ControlMessage): void {
    if (message.payload.case === "registrationAck") {
      this.ackWaiter?.resolve(message.payload.value);
      return;
    }
    this.received.push(message);
    for (const listener of this.listeners) listener(message);
    const handler = message.payload.case ? this.handlers[message.payload.case] : undefined;
    if (!handler) return;
    Promise.resolve(handler(message)).then((result) => {
      if (result === "hold") return;
      if (result && "error" in result) {
        this.reply(message.requestId, { case: "errorReport", value: { error: result.error, code: result.code ?? "" } });
      } else {
        this.reply(message.requestId, result);
      }
    });
  }
}
