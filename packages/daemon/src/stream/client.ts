import { lookup } from "node:dns/promises";
import { hostname } from "node:os";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { type ControlMessage, type HostMessage, HostMessageSchema, HostService } from "@fluid/proto";
import type { Logger } from "pino";
import { codeOf } from "../errors.js";
import type { ImageSource } from "../images/source.js";
import type { SandboxManager } from "../sandboxes/manager.js";
import type { SandboxEvent } from "../sandboxes/types.js";
import { hostCapacity } from "../system/resources.js";
import { VERSION } from "../version.js";
import { Backoff } from "./backoff.js";
import type { Reply } from "./handlers/types.js";
import { type CommandOutputPiece, type CreateProgress, handleCommand } from "./handlers.js";
import { Outbox } from "./outbox.js";
import { type Clock, ServerRotation, systemClock } from "./rotation.js";
import { type Endpoint, endpointKey, type Resolver, type ServerAddress } from "./server-list.js";
import type { SourceServices } from "./source-handlers.js";
import { untrustedCertificate } from "./tls-errors.js";
import { endpointTransport } from "./transport.js";

export interface StreamClientOptions {
  /** The control plane's gRPC listeners (replicas), tried in turn. */
  servers: ServerAddress[];
  token: string;
  insecure: boolean;
  caFile?: string | undefined;
  stateDir: string;
  manager: SandboxManager;
  images: ImageSource;
  log: Logger;
  /** Commands handled at once; more wait their turn (never dropped). */
  maxConcurrentCommands?: number;
  /** Source hosts and read-only VM access; without them source commands answer "host_unavailable". */
  sources?: SourceServices | undefined;
  /** How long one address may take to acknowledge the registration before the next is tried. */
  connectTimeoutMs?: number;
  resolve?: Resolver;
  clock?: Clock;
  /** Counts handled commands by kind and outcome. */
  onCommand?: (kind: string, outcome: "ok" | "error") => void;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * The daemon's outbound stream to the control plane: register with real capacity, heartbeat,
 * answer every command exactly once, and on a lost or failed stream move on to the next address
 * (`ServerRotation`: round robin, jittered backoff between rounds). Sandboxes keep running while
 * disconnected; a ResourceReport after each (re)registration lets the new server reconcile.
 */
export class StreamClient {
  private readonly o: StreamClientOptions;
  private readonly backoff = new Backoff({ baseMs: 1_000, capMs: 60_000, stableMs: 60_000 });
  private stopped = false;
  private readonly stopping = new AbortController();
  private current: { outbox: Outbox<HostMessage>; abort: AbortController } | undefined;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  hostId: string | undefined;
  /** True between a registration's acknowledgement and the end of that stream. */
  registered = false;
  private connectedResolvers: Array<() => void> = [];

  constructor(options: StreamClientOptions) {
    this.o = options;
  }

  /** Resolves once the next registration has been acknowledged. */
  connected(): Promise<void> {
    return new Promise((resolve) => this.connectedResolvers.push(resolve));
  }

  /** Runs until stop(): connect, serve, and reconnect on any failure. */
  async run(): Promise<void> {
    const rotation = new ServerRotation({
      servers: this.o.servers,
      resolve: this.o.resolve ?? ((host) => lookup(host, { all: true })),
      backoff: this.backoff,
      clock: this.o.clock ?? systemClock,
      onUnresolved: (server, err) =>
        this.o.log.warn({ server: server.entry, err: String(err) }, "control-plane address does not resolve"),
      onWait: (ms) => this.o.log.info({ retryInMs: ms }, "reconnecting to the control plane"),
    });
    while (!this.stopped) {
      let endpoint: Endpoint;
      try {
        endpoint = await rotation.next(this.stopping.signal);
      } catch (err) {
        if (this.stopped) break;
        throw err;
      }
      const where = { server: endpoint.server.entry, address: endpointKey(endpoint) };
      try {
        await this.session(endpoint, () => rotation.registered());
        if (!this.stopped) this.o.log.warn(where, "control-plane stream ended");
      } catch (err) {
        const untrusted = untrustedCertificate(err);
        const error = ConnectError.from(err);
        if (untrusted) this.o.log.error(where, untrusted);
        else {
          const level = error.code === Code.Unauthenticated ? "error" : "warn";
          this.o.log[level](
            { ...where, code: Code[error.code], message: error.rawMessage },
            "control-plane stream ended",
          );
        }
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.stopping.abort();
    this.current?.outbox.end();
    this.current?.abort.abort();
  }

  /** Sends a sandbox change the host made on its own (lease expiry, crash), if connected. */
  report(event: SandboxEvent): void {
    this.current?.outbox.push(
      create(HostMessageSchema, {
        payload: {
          case: "stateChanged",
          value: {
            sandboxId: event.sandboxId,
            previousState: event.previousState,
            newState: event.newState,
            reason: event.reason,
          },
        },
      }),
    );
  }

  private async resources() {
    const capacity = await hostCapacity(this.o.stateDir);
    const committed = await this.o.manager.committedMemoryMb();
    return {
      ...capacity,
      availableMemoryMb: Math.max(0, capacity.allocatableMemoryMb - committed),
      availableCpus: capacity.totalCpus,
      images: await this.o.images.names(),
    };
  }

  /** What registration and resource reports both say of this host's capacity, as the protocol spells it. */
  private async capacity() {
    const r = await this.resources();
    return {
      totalCpus: r.totalCpus,
      availableCpus: r.availableCpus,
      totalMemoryMb: BigInt(r.allocatableMemoryMb),
      availableMemoryMb: BigInt(r.availableMemoryMb),
      totalDiskMb: BigInt(r.totalDiskMb),
      availableDiskMb: BigInt(r.availableDiskMb),
      baseImages: r.images,
    };
  }

  /** One stream to one address; it must acknowledge the registration within the connect timeout. */
  private async session(endpoint: Endpoint, onRegistered: () => void): Promise<void> {
    const client = createClient(HostService, await endpointTransport(endpoint, this.o));
    const outbox = new Outbox<HostMessage>();
    const abort = new AbortController();
    this.current = { outbox, abort };
    const capacity = await this.capacity();
    outbox.push(
      create(HostMessageSchema, {
        requestId: "registration",
        payload: {
          case: "registration",
          value: {
            hostId: this.hostId ?? "",
            hostname: hostname(),
            version: VERSION,
            ...capacity,
          },
        },
      }),
    );
    const responses = client.connect(outbox, {
      headers: { authorization: `Bearer ${this.o.token}` },
      signal: abort.signal,
    });
    let heartbeat: NodeJS.Timeout | undefined;
    const timeoutMs = this.o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    let timedOut = false;
    const connectTimer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    try {
      for await (const message of responses) {
        if (message.payload.case === "registrationAck") {
          clearTimeout(connectTimer);
          const ack = message.payload.value;
          if (!ack.accepted) throw new ConnectError(`registration refused: ${ack.reason}`, Code.PermissionDenied);
          this.hostId = ack.assignedHostId;
          this.registered = true;
          onRegistered();
          this.o.log.info(
            { hostId: this.hostId, server: endpoint.server.entry, address: endpointKey(endpoint) },
            "registered with the control plane",
          );
          await this.sendResourceReport(outbox);
          const everyMs = Math.max(1, ack.heartbeatIntervalSeconds || 10) * 1000;
          heartbeat = setInterval(() => this.sendHeartbeat(outbox).catch(() => undefined), everyMs);
          for (const resolve of this.connectedResolvers.splice(0)) resolve();
          continue;
        }
        this.dispatch(outbox, message);
      }
    } catch (err) {
      if (timedOut)
        throw new ConnectError(`no registration acknowledged within ${timeoutMs} ms`, Code.DeadlineExceeded);
      throw err;
    } finally {
      this.registered = false;
      clearTimeout(connectTimer);
      clearInterval(heartbeat);
      outbox.end();
      if (this.current?.outbox === outbox) this.current = undefined;
      // Their output went to this stream; the control plane cannot attach them to the next one.
      this.closeTerminals();
    }
  }

  /**
   * Runs from a session's `finally`, so it must not throw there: an error of its own would replace
   * whatever ended the session (a registration timeout, say), which the reconnect loop logs.
   */
  private closeTerminals(): void {
    Promise.resolve()
      .then(() => this.o.manager.terminals.closeAll())
      .catch((err: unknown) => this.o.log.warn({ err: String(err) }, "closing terminals failed"));
  }

  private async sendHeartbeat(outbox: Outbox<HostMessage>): Promise<void> {
    const r = await this.resources();
    outbox.push(
      create(HostMessageSchema, {
        payload: {
          case: "heartbeat",
          value: {
            activeSandboxes: await this.o.manager.liveCount(),
            availableCpus: r.availableCpus,
            availableMemoryMb: BigInt(r.availableMemoryMb),
            availableDiskMb: BigInt(r.availableDiskMb),
          },
        },
      }),
    );
  }

  private async sendResourceReport(outbox: Outbox<HostMessage>): Promise<void> {
    const capacity = await this.capacity();
    const statuses = await this.o.manager.statuses();
    outbox.push(
      create(HostMessageSchema, {
        payload: {
          case: "resourceReport",
          value: {
            ...capacity,
            sandboxStatuses: statuses.map((s) => ({
              sandboxId: s.sandboxId,
              state: s.state,
              ipAddress: s.ip,
              pid: s.pid,
            })),
          },
        },
      }),
    );
  }

  /** Handles a command with bounded concurrency; the reply (or ErrorReport) carries its request_id. */
  private dispatch(outbox: Outbox<HostMessage>, message: ControlMessage): void {
    const limit = this.o.maxConcurrentCommands ?? 16;
    const start = () => {
      this.running++;
      const progress = (p: CreateProgress) =>
        outbox.push(
          create(HostMessageSchema, {
            requestId: message.requestId,
            payload: {
              case: "sandboxProgress",
              value: {
                sandboxId: p.sandboxId,
                phase: p.phase,
                bytesDone: BigInt(p.bytesDone),
                bytesTotal: BigInt(p.bytesTotal),
              },
            },
          }),
        );
      const output = (o: CommandOutputPiece) =>
        outbox.push(
          create(HostMessageSchema, {
            requestId: message.requestId,
            payload: { case: "commandOutput", value: { sandboxId: o.sandboxId, stream: o.stream, data: o.data } },
          }),
        );
      const emit = (payload: Reply) => outbox.push(create(HostMessageSchema, { payload }));
      const kind = message.payload.case ?? "unknown";
      handleCommand(this.o.manager, message, this.o.sources, progress, output, emit)
        .then(
          (payload) => {
            this.o.onCommand?.(kind, "ok");
            outbox.push(create(HostMessageSchema, { requestId: message.requestId, payload }));
          },
          (err: unknown) => {
            this.o.onCommand?.(kind, "error");
            this.o.log.warn({ err, command: message.payload.case, requestId: message.requestId }, "command failed");
            outbox.push(
              create(HostMessageSchema, {
                requestId: message.requestId,
                payload: {
                  case: "errorReport",
                  value: {
                    error: err instanceof Error ? err.message : String(err),
                    code: codeOf(err),
                    context: message.payload.case ?? "",
                  },
                },
              }),
            );
          },
        )
        .finally(() => {
          this.running--;
          this.waiting.shift()?.();
        });
    };
    if (this.running < limit) start();
    else this.waiting.push(start);
  }
}
