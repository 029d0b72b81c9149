import type { HostMessage } from "@fluid/proto";
import { type Kysely, sql } from "kysely";
import type { DB } from "../db/schema.js";
import { newId } from "../lib/ids.js";
import type { Logger } from "../log/logger.js";
import { CommandTimeoutError, StreamClosedError } from "../stream/errors.js";
import type { Command } from "../stream/host-session.js";
import type { HostRegistry } from "../stream/registry.js";
import { decodeCommand, decodeFailure, decodeReply, encodeCommand, encodeFailure, encodeReply } from "./codec.js";
import { hostHasLiveLease, sendingStreamHoldsLease } from "./leases.js";

export const COMMAND_CHANNEL = "fluid_host_command";
/** A host reporting progress moves the row's deadline at most this often. */
const EXTEND_EVERY_MS = 1_000;
export const DONE_CHANNEL = "fluid_host_command_done";

interface Waiter {
  command: string;
  timeoutMs: number;
  resolve(reply: HostMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

interface FinishedRow {
  id: string;
  state: string;
  reply: Buffer | null;
  error_code: string | null;
  error_message: string | null;
}

/**
 * Host commands between replicas, through `host_commands`. The requester inserts the row and
 * notifies in one transaction and waits; the replica holding the host's stream claims it
 * (queued → sent, once), sends it on the stream and writes the outcome (sent → done|failed, once),
 * then notifies. Every transition is a conditional UPDATE, so a command has exactly one outcome
 * whichever of reply, host error, owner loss or the requester's deadline comes first. NOTIFY is
 * only a hint: `sweep()` catches anything a lost notification left behind.
 */
export class CommandBus {
  private readonly waiting = new Map<string, Waiter>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: { db: Kysely<DB>; log: Logger; replicaId: string; local: HostRegistry }) {}

  /** Sends `command` to a host whose stream another replica holds; settles like a local request. */
  async send(hostId: string, command: Command, timeoutMs: number): Promise<HostMessage> {
    const id = newId();
    const outcome = new Promise<HostMessage>((resolve, reject) => {
      const waiter: Waiter = { command: command.case, timeoutMs, resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => this.expire(id), timeoutMs);
      waiter.timer.unref();
      this.waiting.set(id, waiter);
    });
    try {
      // One statement is one transaction: the row and its notification commit together, in one round trip.
      await sql`
        WITH queued AS (
          INSERT INTO host_commands (id, host_id, requested_by, command, deadline_at)
          VALUES (${id}, ${hostId}, ${this.deps.replicaId}, ${encodeCommand(command)},
            now() + ${timeoutMs} * interval '1 millisecond')
          RETURNING id)
        SELECT pg_notify(${COMMAND_CHANNEL}, id::text) FROM queued`.execute(this.deps.db);
    } catch (err) {
      this.settle(id, undefined, err instanceof Error ? err : new Error(String(err)));
    }
    return outcome;
  }

  /** A command was queued somewhere: claim it if its host's stream is here. */
  onQueued(id: string): void {
    this.claim(id).catch((err: unknown) => this.deps.log.warn({ err, id }, "could not claim a host command"));
  }

  /** A command finished somewhere: settle it if it is ours. */
  onDone(id: string): void {
    if (!this.waiting.has(id)) return;
    this.collect([id]).catch((err: unknown) =>
      this.deps.log.warn({ err, id }, "could not read a host command's outcome"),
    );
  }

  /**
   * Catches up on missed notifications, on both sides, and fails this replica's commands that nobody
   * can answer any more: queued for a host without a live owner, or sent on a stream that lost the lease.
   */
  async sweep(): Promise<void> {
    await this.claim(undefined);
    const ids = [...this.waiting.keys()];
    if (ids.length === 0) return;
    await this.collect(ids);
    // Never sent again: the host may have run a sent command whose answer went down with its stream.
    const orphaned = await sql<FinishedRow>`
      UPDATE host_commands c SET state = 'failed', error_code = 'app:host_unavailable',
        error_message = CASE WHEN c.state = 'queued'
          THEN 'the replica holding the host''s stream stopped before answering'
          ELSE 'the replica that sent the command to the host stopped or lost the host''s stream before answering; the command may have run'
        END,
        finished_at = now()
      WHERE c.id = ANY(${ids}::uuid[])
        AND ((c.state = 'queued' AND NOT ${hostHasLiveLease}) OR (c.state = 'sent' AND NOT ${sendingStreamHoldsLease}))
      RETURNING c.id, c.state, c.reply, c.error_code, c.error_message`.execute(this.deps.db);
    for (const row of orphaned.rows) this.settleFrom(row);
  }

  /** Fails this replica's waiters (shutdown) and waits for the commands it is sending for others. */
  async stop(): Promise<void> {
    const ids = [...this.waiting.keys()];
    for (const id of ids) this.settle(id, undefined, new StreamClosedError("server_shutdown"));
    if (ids.length > 0) {
      await this.deps.db
        .updateTable("host_commands")
        .set({
          state: "failed",
          error_code: "closed:server_shutdown",
          error_message: "requester shut down",
          finished_at: sql`now()`,
        })
        .where("id", "in", ids)
        .where("state", "in", ["queued", "sent"])
        .execute()
        .catch((err: unknown) => this.deps.log.warn({ err }, "could not fail commands at shutdown"));
    }
    await Promise.all([...this.inFlight]);
  }

  /**
   * Claims one queued command (or, with no id, every queued one) for hosts streaming here whose lease
   * this replica still holds (a stream another replica just took over is not used), and runs each.
   */
  private async claim(id: string | undefined): Promise<void> {
    const hostIds = this.deps.local.hostIds();
    if (hostIds.length === 0) return;
    const claimed = await sql<{ id: string; host_id: string; command: Buffer; remaining_ms: number }>`
      UPDATE host_commands c SET state = 'sent', claimed_by = l.replica_id, claimed_epoch = l.epoch
      FROM host_leases l
      WHERE c.state = 'queued' AND c.deadline_at > now() AND c.host_id = ANY(${hostIds}::uuid[])
        AND l.host_id = c.host_id AND l.replica_id = ${this.deps.replicaId}
        ${id === undefined ? sql`` : sql`AND c.id = ${id}`}
      RETURNING c.id, c.host_id, c.command, ceil(extract(epoch FROM c.deadline_at - now()) * 1000)::int AS remaining_ms`.execute(
      this.deps.db,
    );
    for (const row of claimed.rows) {
      const run = this.run(row.id, row.host_id, row.command, row.remaining_ms).finally(() => this.inFlight.delete(run));
      this.inFlight.add(run);
    }
  }

  private async run(id: string, hostId: string, bytes: Buffer, remainingMs: number): Promise<void> {
    let reply: HostMessage | undefined;
    let failure: unknown;
    try {
      const session = this.deps.local.get(hostId);
      if (!session) throw new StreamClosedError("host_disconnected");
      const timeoutMs = Math.max(1, remainingMs);
      let extendedAt = 0;
      // Progress restarts the session's deadline; the row's moves with it so the requester waits too.
      const onProgress = () => {
        if (Date.now() - extendedAt < EXTEND_EVERY_MS) return;
        extendedAt = Date.now();
        // Slack of one throttle period: reports skipped meanwhile restart only the session's deadline.
        this.extend(id, timeoutMs + EXTEND_EVERY_MS);
      };
      reply = await session.request(decodeCommand(bytes), timeoutMs, onProgress);
    } catch (err) {
      failure = err;
    }
    const stored = failure === undefined ? undefined : encodeFailure(failure);
    try {
      await sql`
        WITH finished AS (
          UPDATE host_commands SET state = ${stored ? "failed" : "done"}, reply = ${reply ? encodeReply(reply) : null},
            error_code = ${stored?.code ?? null}, error_message = ${stored?.message ?? null}, finished_at = now()
          WHERE id = ${id} AND state = 'sent'
          RETURNING id)
        SELECT pg_notify(${DONE_CHANNEL}, id::text) FROM finished`.execute(this.deps.db);
    } catch (err) {
      this.deps.log.error({ err, id, hostId }, "could not record a host command's outcome");
    }
  }

  private extend(id: string, timeoutMs: number): void {
    this.deps.db
      .updateTable("host_commands")
      .set({ deadline_at: sql<Date>`now() + ${timeoutMs} * interval '1 millisecond'` })
      .where("id", "=", id)
      .where("state", "=", "sent")
      .execute()
      .catch((err: unknown) => this.deps.log.warn({ err, id }, "could not extend a host command's deadline"));
  }

  private async collect(ids: string[]): Promise<void> {
    const rows = await this.deps.db
      .selectFrom("host_commands")
      .select(["id", "state", "reply", "error_code", "error_message"])
      .where("id", "in", ids)
      .where("state", "in", ["done", "failed"])
      .execute();
    for (const row of rows) this.settleFrom(row);
  }

  /**
   * The requester's deadline: fail the row if nobody finished it and its deadline (which host
   * progress may have moved) has passed; else take the outcome that won, or wait for the new deadline.
   */
  private expire(id: string): void {
    const waiter = this.waiting.get(id);
    if (!waiter) return;
    this.deps.db
      .updateTable("host_commands")
      .set({
        state: "failed",
        error_code: "timeout",
        error_message: "requester deadline passed",
        finished_at: sql<Date>`now()`,
      })
      .where("id", "=", id)
      .where("state", "in", ["queued", "sent"])
      .where("deadline_at", "<=", sql<Date>`now()`)
      .executeTakeFirst()
      .then(async (result) => {
        if (result.numUpdatedRows > 0n) {
          this.settle(id, undefined, new CommandTimeoutError(waiter.command, waiter.timeoutMs));
          return;
        }
        const open = await sql<{ remaining_ms: number }>`
          SELECT ceil(greatest(0, extract(epoch FROM deadline_at - now()) * 1000))::int AS remaining_ms
          FROM host_commands WHERE id = ${id} AND state IN ('queued', 'sent')`.execute(this.deps.db);
        const row = open.rows[0];
        if (!row) {
          await this.collect([id]);
          return;
        }
        if (this.waiting.get(id) !== waiter) return;
        waiter.timer = setTimeout(() => this.expire(id), Math.max(20, row.remaining_ms));
        waiter.timer.unref();
      })
      .catch((err: unknown) => this.settle(id, undefined, err instanceof Error ? err : new Error(String(err))));
  }

  private settleFrom(row: FinishedRow): void {
    const waiter = this.waiting.get(row.id);
    if (!waiter) return;
    if (row.state === "done" && row.reply) {
      this.settle(row.id, decodeReply(row.reply), undefined);
    } else {
      const failure = { code: row.error_code ?? "app:internal", message: row.error_message ?? "host command failed" };
      this.settle(row.id, undefined, decodeFailure(failure, waiter.command, waiter.timeoutMs));
    }
  }

  private settle(id: string, reply: HostMessage | undefined, err: Error | undefined): void {
    const waiter = this.waiting.get(id);
    if (!waiter) return;
    this.waiting.delete(id);
    clearTimeout(waiter.timer);
    if (err) waiter.reject(err);
    else if (reply) waiter.resolve(reply);
  }
}
