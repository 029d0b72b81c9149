import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ControlMessageSchema,
  type HostMessage,
  type HostRegistration,
  type HostService,
  RegistrationAckSchema,
  type ResourceReport,
  type SandboxProgress,
  type SandboxStateChanged,
} from "@fluid/proto";
import type { Kysely } from "kysely";
import type { DB } from "../db/schema.js";
import {
  findHostToken,
  type HostToken,
  markDisconnected,
  recordHeartbeat,
  recordResources,
  upsertRegisteredHost,
} from "../hosts/host-store.js";
import { parseBearer } from "../lib/secrets.js";
import type { Logger } from "../log/logger.js";
import type { CommandObserver } from "../metrics/metrics.js";
import { StreamClosedError } from "./errors.js";
import { HostSession } from "./host-session.js";

/** What the rest of the control plane does with sandbox news from hosts. */
export interface HostEvents {
  resourceReport(session: HostSession, report: ResourceReport): Promise<void>;
  stateChanged(session: HostSession, change: SandboxStateChanged): Promise<void>;
  progress(session: HostSession, progress: SandboxProgress): Promise<void>;
}

/**
 * Where sessions are recorded as the host's current stream: attach takes the host over from any
 * earlier stream (here or, with several replicas, on another), detach reports whether the session
 * was still the current one.
 */
export interface SessionDirectory {
  attach(session: HostSession): Promise<void>;
  detach(session: HostSession): Promise<boolean>;
}

export interface HostServiceDeps {
  db: Kysely<DB>;
  log: Logger;
  registry: SessionDirectory;
  events: HostEvents;
  heartbeatIntervalMs: number;
  missedHeartbeats: number;
  registrationTimeoutMs?: number;
  /** Why this replica takes no streams right now (its database is gone), or undefined when it does. */
  refusal?: () => string | undefined;
  observeCommand?: CommandObserver;
}

const DB_TIMEOUT_MS = 10_000;

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ConnectError(message, Code.Unavailable)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function authenticate(db: Kysely<DB>, header: string | null): Promise<HostToken> {
  if (!header) throw new ConnectError("missing authorization: send `Bearer <host token>`", Code.Unauthenticated);
  const secret = parseBearer(header);
  if (!secret) throw new ConnectError("authorization must be `Bearer <host token>`", Code.Unauthenticated);
  const token = await withTimeout(findHostToken(db, secret), DB_TIMEOUT_MS, "token lookup timed out");
  if (!token) throw new ConnectError("host token is invalid, expired or revoked", Code.Unauthenticated);
  return token;
}

function validateRegistration(reg: HostRegistration): string | undefined {
  if (reg.hostname.length > 255) return "hostname longer than 255 characters";
  if (reg.version.length > 64) return "version longer than 64 characters";
  if (reg.baseImages.length > 1000 || reg.baseImages.some((name) => name.length === 0 || name.length > 255)) {
    return "base_images must be at most 1000 non-empty names of up to 255 characters";
  }
  if (reg.sourceVms.length > 10_000) return "too many source VMs";
  const numbers = [
    reg.totalCpus,
    reg.availableCpus,
    reg.totalMemoryMb,
    reg.availableMemoryMb,
    reg.totalDiskMb,
    reg.availableDiskMb,
  ];
  if (numbers.some((n) => Number(n) < 0)) return "resource figures must not be negative";
  return undefined;
}

async function firstMessage(iterator: AsyncIterator<HostMessage>, timeoutMs: number): Promise<HostMessage> {
  const next = await withTimeout(iterator.next(), timeoutMs, "no registration received in time");
  if (next.done) throw new ConnectError("stream closed before registration", Code.InvalidArgument);
  return next.value;
}

export interface HostStreamService {
  impl: ServiceImpl<typeof HostService>;
  /** Resolves once every stream handler has finished its cleanup (host rows written). */
  drained(): Promise<void>;
}

/**
 * `fluid.v1.HostService/Connect`: authenticate the bearer host token, take the registration,
 * bind host identity to the token (whatever host_id the daemon claims), then run the session:
 * replies go to their waiters, heartbeats refresh the host row, and the outbox feeds the stream.
 */
export function hostService(deps: HostServiceDeps): HostStreamService {
  const { db, log, registry, events } = deps;
  const running = new Set<Promise<void>>();
  const livenessMs = deps.heartbeatIntervalMs * deps.missedHeartbeats;

  async function readLoop(session: HostSession, iterator: AsyncIterator<HostMessage>): Promise<void> {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      const message = next.value;
      session.touch();
      const payload = message.payload;
      switch (payload.case) {
        case "heartbeat": {
          const beat = payload.value;
          session.enqueueWork(async () => {
            const current = await recordHeartbeat(db, session.hostId, session.connectedAt, beat);
            if (!current) session.close(new StreamClosedError("token_revoked", "or another connection took over"));
          });
          break;
        }
        case "resourceReport": {
          const report = payload.value;
          session.enqueueWork(async () => {
            await recordResources(db, session.hostId, session.connectedAt, report);
            await events.resourceReport(session, report);
          });
          break;
        }
        case "stateChanged": {
          const change = payload.value;
          session.enqueueWork(() => events.stateChanged(session, change));
          break;
        }
        case "sandboxProgress": {
          // Not a reply: the create it reports on is still waiting for its SandboxCreated, and
          // waits longer for it while the host keeps reporting.
          const progress = payload.value;
          session.progressed(message.requestId);
          session.enqueueWork(() => events.progress(session, progress));
          break;
        }
        case "commandOutput":
          session.output(message.requestId, payload.value);
          break;
        case "terminalOutput":
          session.terminalOutput(payload.value);
          break;
        case "terminalClosed":
          // The reply to a close carries its request_id; a terminal that ended by itself has none.
          if (message.requestId) session.deliver(message);
          session.terminalClosed(payload.value);
          break;
        case "registration":
          session.close(new StreamClosedError("protocol_error", "registration sent twice"));
          return;
        case "errorReport":
          if (!session.deliver(message)) {
            log.warn(
              { hostId: session.hostId, report: payload.value.error, context: payload.value.context },
              "host reported an error",
            );
          }
          break;
        case undefined:
          log.debug({ hostId: session.hostId }, "empty host message ignored");
          break;
        default:
          session.deliver(message);
      }
    }
  }

  const refuseIfUnable = () => {
    const refusal = deps.refusal?.();
    if (refusal) throw new ConnectError(refusal, Code.Unavailable);
  };

  async function* connect(requests: AsyncIterable<HostMessage>, context: HandlerContext) {
    refuseIfUnable();
    const token = await authenticate(db, context.requestHeader.get("authorization"));
    const iterator = requests[Symbol.asyncIterator]();
    const first = await firstMessage(iterator, deps.registrationTimeoutMs ?? 30_000);
    if (first.payload.case !== "registration") {
      throw new ConnectError("the first message must be a registration", Code.InvalidArgument);
    }
    const registration = first.payload.value;
    const problem = validateRegistration(registration);
    if (problem) throw new ConnectError(`invalid registration: ${problem}`, Code.InvalidArgument);
    if (registration.hostId && registration.hostId !== token.id) {
      log.info(
        { claimed: registration.hostId, assigned: token.id },
        "host identity comes from its token; claimed host_id ignored",
      );
    }

    const session = new HostSession({
      hostId: token.id,
      orgId: token.orgId,
      log,
      livenessMs,
      ...(deps.observeCommand ? { observe: deps.observeCommand } : {}),
    });
    await withTimeout(
      upsertRegisteredHost(db, token, registration, session.connectedAt),
      DB_TIMEOUT_MS,
      "could not record the host registration in time",
    );
    refuseIfUnable();
    await withTimeout(registry.attach(session), DB_TIMEOUT_MS, "could not take the host's lease in time").catch(
      (err: unknown) => {
        // A lease taken after the timeout must not be renewed for a stream that never started.
        session.close(new StreamClosedError("host_disconnected"));
        throw err;
      },
    );
    log.info(
      { hostId: session.hostId, hostname: registration.hostname, connectionId: session.connectionId },
      "host connected",
    );

    const onAbort = () => session.close(new StreamClosedError("host_disconnected"));
    context.signal.addEventListener("abort", onAbort, { once: true });
    session.push(
      create(ControlMessageSchema, {
        requestId: first.requestId,
        payload: {
          case: "registrationAck",
          value: create(RegistrationAckSchema, {
            accepted: true,
            assignedHostId: token.id,
            heartbeatIntervalSeconds: Math.max(1, Math.round(deps.heartbeatIntervalMs / 1000)),
          }),
        },
      }),
    );
    readLoop(session, iterator).then(
      () => session.close(new StreamClosedError("host_disconnected")),
      (err: unknown) => {
        log.debug({ err, hostId: session.hostId }, "host stream read failed");
        session.close(new StreamClosedError("host_disconnected"));
      },
    );

    let finished: () => void = () => undefined;
    const cleanup = new Promise<void>((resolve) => {
      finished = resolve;
    });
    running.add(cleanup);
    try {
      yield* session.outbox();
    } finally {
      context.signal.removeEventListener("abort", onAbort);
      session.close(new StreamClosedError("host_disconnected"));
      const wasCurrent = await registry.detach(session);
      await session.drainWork();
      if (wasCurrent) {
        await markDisconnected(db, session.hostId, session.connectedAt).catch((err: unknown) =>
          log.error({ err, hostId: session.hostId }, "could not mark host offline"),
        );
      }
      log.info(
        { hostId: session.hostId, reason: session.closed?.message, connectionId: session.connectionId },
        "host stream ended",
      );
      running.delete(cleanup);
      finished();
    }
  }

  return {
    impl: { connect },
    drained: async () => {
      await Promise.all([...running]);
    },
  };
}
