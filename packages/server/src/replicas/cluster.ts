import type { HostMessage } from "@fluid/proto";
import { type Kysely, sql } from "kysely";
import type { DB } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import type { Logger } from "../log/logger.js";
import { StreamClosedError } from "../stream/errors.js";
import type { Command, HostSession } from "../stream/host-session.js";
import type { HostRegistry } from "../stream/registry.js";
import { COMMAND_CHANNEL, CommandBus, DONE_CHANNEL } from "./command-bus.js";
import { beat, REPLICA_HEARTBEAT_MS, registerReplica, stopReplica } from "./identity.js";
import { dropLease, leaseHolders, remoteHostsInOrg, renewLeases, takeLease } from "./leases.js";
import { NotificationListener } from "./listener.js";

const SWEEP_MS = 1_000;
/** Revocations and org deletions reach the replica holding the stream through this channel. */
export const CLOSE_CHANNEL = "fluid_host_close";

/** What every replica closes on a close notification. */
export type CloseNotice = { hostId: string; reason: "token_revoked" } | { orgId: string; detail: string };
/** Finished command rows are kept this long for inspection, then deleted. */
const KEEP_FINISHED = sql`interval '1 hour'`;

/**
 * This replica's part in a PostgreSQL deployment of several: its heartbeat row, the leases of the
 * hosts streaming to it, and the command bus to hosts streaming elsewhere.
 */
export class ReplicaCluster {
  private readonly epochs = new Map<HostSession, string>();
  private readonly bus: CommandBus;
  private readonly listener: NotificationListener;
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;
  private sweeping = false;

  constructor(
    private readonly deps: { db: Kysely<DB>; log: Logger; replicaId: string; url: string; local: HostRegistry },
  ) {
    this.bus = new CommandBus(deps);
    this.listener = new NotificationListener({
      url: deps.url,
      name: `fluid-listen:${deps.replicaId}`.slice(0, 63),
      log: deps.log,
      channels: {
        [COMMAND_CHANNEL]: (id) => this.bus.onQueued(id),
        [DONE_CHANNEL]: (id) => this.bus.onDone(id),
        [CLOSE_CHANNEL]: (payload) => this.onClose(payload),
      },
      onConnected: () => void this.sweep(),
    });
  }

  async start(): Promise<void> {
    await registerReplica(this.deps.db, this.deps.replicaId, this.deps.log);
    try {
      await this.listener.start();
    } catch (err) {
      await stopReplica(this.deps.db, this.deps.replicaId).catch(() => undefined);
      throw err;
    }
    this.timers = [
      setInterval(() => void this.tick(), REPLICA_HEARTBEAT_MS),
      setInterval(() => void this.sweep(), SWEEP_MS),
    ];
    for (const timer of this.timers) timer.unref();
    this.deps.log.info({ replicaId: this.deps.replicaId }, "replica started");
  }

  /** After the streams have closed: the remaining leases go with the replica row's stop mark. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.bus.stop();
    await this.listener.stop();
    await stopReplica(this.deps.db, this.deps.replicaId).catch((err: unknown) =>
      this.deps.log.warn({ err }, "could not mark the replica stopped"),
    );
  }

  async takeLease(session: HostSession): Promise<void> {
    const epoch = await takeLease(this.deps.db, session.hostId, this.deps.replicaId, session.connectedAt);
    this.epochs.set(session, epoch);
  }

  /** Never throws: a lease left behind expires, and the next take bumps its epoch anyway. */
  async dropLease(session: HostSession): Promise<void> {
    const epoch = this.epochs.get(session);
    this.epochs.delete(session);
    if (epoch === undefined) return;
    await dropLease(this.deps.db, session.hostId, this.deps.replicaId, epoch).catch((err: unknown) =>
      this.deps.log.warn({ err, hostId: session.hostId }, "could not release the host's lease"),
    );
  }

  /** A command to a host whose stream is not here: through the bus, or host_unavailable at once. */
  async request(hostId: string, command: Command, timeoutMs: number): Promise<HostMessage> {
    const holder = (await leaseHolders(this.deps.db, [hostId])).get(hostId);
    if (!holder || holder.replicaId === this.deps.replicaId) {
      throw new AppError("host_unavailable", "the sandbox's host is not connected");
    }
    if (!holder.live) {
      throw new AppError(
        "host_unavailable",
        `the sandbox's host is connected to replica ${holder.replicaId}, which is not answering`,
      );
    }
    return this.bus.send(hostId, command, timeoutMs);
  }

  /** Of `hostIds`, those whose stream is on another live replica. */
  async remoteConnected(hostIds: string[]): Promise<Set<string>> {
    const holders = await leaseHolders(this.deps.db, hostIds);
    const connected = new Set<string>();
    for (const [hostId, holder] of holders) {
      if (holder.live && holder.replicaId !== this.deps.replicaId) connected.add(hostId);
    }
    return connected;
  }

  remoteInOrg(orgId: string): Promise<{ hostId: string; open: number }[]> {
    return remoteHostsInOrg(this.deps.db, orgId, this.deps.replicaId);
  }

  /**
   * Tells every replica (this one included) to close the streams `notice` names. Never throws: the
   * heartbeat's token check still closes a revoked host's stream, only later.
   */
  broadcastClose(notice: CloseNotice): void {
    sql`SELECT pg_notify(${CLOSE_CHANNEL}, ${JSON.stringify(notice)})`
      .execute(this.deps.db)
      .catch((err: unknown) => this.deps.log.warn({ err, notice }, "could not tell other replicas to close streams"));
  }

  private onClose(payload: string): void {
    let notice: CloseNotice;
    try {
      notice = JSON.parse(payload) as CloseNotice;
    } catch (err) {
      this.deps.log.warn({ err }, "unreadable close notification");
      return;
    }
    if ("hostId" in notice) this.deps.local.closeHost(notice.hostId, notice.reason);
    else this.deps.local.closeOrg(notice.orgId, notice.detail);
  }

  /** Heartbeat, lease renewal (a session whose lease another replica took is closed) and cleanup. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      if (!(await beat(this.deps.db, this.deps.replicaId))) {
        this.deps.log.error({ replicaId: this.deps.replicaId }, "this replica's row is marked stopped");
      }
      const open = [...this.epochs].filter(([session]) => !session.closed);
      const held = await renewLeases(
        this.deps.db,
        this.deps.replicaId,
        open.map(([session]) => session.hostId),
      );
      for (const [session, epoch] of open) {
        if (held.get(session.hostId) !== epoch) {
          session.close(new StreamClosedError("host_replaced", "another replica holds the host's lease"));
        }
      }
      await this.deps.db
        .deleteFrom("host_commands")
        .where("finished_at", "<", sql<Date>`now() - ${KEEP_FINISHED}`)
        .execute();
    } catch (err) {
      this.deps.log.warn({ err }, "replica heartbeat failed");
    } finally {
      this.ticking = false;
    }
  }

  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.bus.sweep();
    } catch (err) {
      this.deps.log.warn({ err }, "host command sweep failed");
    } finally {
      this.sweeping = false;
    }
  }
}
