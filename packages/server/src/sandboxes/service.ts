import { create } from "@bufbuild/protobuf";
import {
  CreateSandboxCommandSchema,
  DestroySandboxCommandSchema,
  DiffSandboxCommandSchema,
  ExtendSandboxCommandSchema,
  type HostMessage,
  ListFilesCommandSchema,
  ReadFileCommandSchema,
  type ResourceReport,
  RestoreSnapshotCommandSchema,
  RunCommandCommandSchema,
  RunPlaybookCommandSchema,
  type SandboxProgress,
  type SandboxStateChanged,
  SnapshotCommandSchema,
  SnapshotMode,
  type SourceHostConnection,
  StartSandboxCommandSchema,
  StopSandboxCommandSchema,
  WriteFileCommandSchema,
} from "@fluid/proto";
import { type Kysely, sql } from "kysely";
import { type AuditActor, appendAuditEvent, auditActorOf } from "../audit/append.js";
import { atLeast } from "../auth/roles.js";
import type { ServerConfig } from "../config/config.js";
import type { Command, DB, EndReason, Sandbox, SandboxState, Snapshot } from "../db/schema.js";
import { AppError, forbidden, notFound } from "../http/errors.js";
import { newId } from "../lib/ids.js";
import type { Logger } from "../log/logger.js";
import type { OrgScope } from "../orgs/access.js";
import { HostCommandError, toAppError } from "../stream/errors.js";
import type { HostSession } from "../stream/host-session.js";
import type { HostRegistry } from "../stream/registry.js";
import { hostDiff, type NoiseOverride, type SandboxDiff } from "./diff.js";
import { defaultDeadlines, type HostDeadlines, sandboxDefaults, sandboxLimits } from "./limits.js";
import { type Demand, explainNoFit, type PlacementHost, rankHosts } from "./placement.js";
import { recordNewSandbox } from "./record.js";

export interface CreateSandboxInput {
  sourceVm: string;
  name?: string | undefined;
  vcpus?: number | undefined;
  memoryMb?: number | undefined;
  ttlSeconds?: number | undefined;
  agentId?: string | undefined;
  allowEgress?: boolean | undefined;
  /** Place on this host only (a verification clone must boot where its base image or capture is). */
  hostId?: string | undefined;
  /**
   * Clone a source VM: the host pulls its disk (cached unless `fresh`) with these credentials, which
   * travel with this one command and are not stored with the sandbox.
   */
  source?: { connection: SourceHostConnection; fresh: boolean } | undefined;
}

export interface RunInput {
  command: string;
  timeoutSeconds: number;
  env: Record<string, string>;
}

const activeStates: SandboxState[] = ["CREATING", "RUNNING"];

type Reply = HostMessage["payload"];
type ReplyCase = NonNullable<Reply["case"]>;
export type ReplyValue<C extends ReplyCase> = Extract<Reply, { case: C }>["value"];

export function expectReply<C extends ReplyCase>(reply: HostMessage, kind: C): ReplyValue<C> {
  const payload = reply.payload;
  if (payload.case !== kind) {
    throw new HostCommandError("protocol_error", `expected ${kind}, host sent ${payload.case ?? "nothing"}`);
  }
  return payload.value as ReplyValue<C>;
}

/**
 * Acting on a sandbox and reading what is in it (files, command output) take the same standing: a
 * clone holds production data (SPEC §3), so members reach their own sandboxes and admins everyone's.
 */
function mayEnter(scope: OrgScope, sandbox: Sandbox): boolean {
  return (
    atLeast(scope.role, "admin") || (atLeast(scope.role, "member") && sandbox.created_by === scope.principal.userId)
  );
}

function cap(text: string): { text: string; truncated: boolean } {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes <= sandboxLimits.maxStoredOutputBytes) return { text, truncated: false };
  return {
    text: Buffer.from(text, "utf8").subarray(0, sandboxLimits.maxStoredOutputBytes).toString("utf8"),
    truncated: true,
  };
}

/**
 * Sandboxes as the control plane sees them: placement with reservation, commands to hosts over
 * their streams, leases, and the record of every end. Every lookup is scoped by org in SQL.
 */
export class SandboxService {
  private readonly db: Kysely<DB>;
  private readonly config: ServerConfig;
  private readonly log: Logger;
  private readonly hosts: HostRegistry;
  readonly deadlines: HostDeadlines;
  private readonly provisioning = new Set<Promise<unknown>>();

  constructor(deps: {
    db: Kysely<DB>;
    config: ServerConfig;
    log: Logger;
    hosts: HostRegistry;
    deadlines?: Partial<HostDeadlines>;
  }) {
    this.db = deps.db;
    this.config = deps.config;
    this.log = deps.log;
    this.hosts = deps.hosts;
    this.deadlines = { ...defaultDeadlines, ...deps.deadlines };
  }

  /** Waits for creations still talking to hosts (used at shutdown and by tests). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.provisioning]);
  }

  async get(scope: OrgScope, id: string): Promise<Sandbox> {
    const row = await this.db
      .selectFrom("sandboxes")
      .selectAll()
      .where("id", "=", id)
      .where("org_id", "=", scope.orgId)
      .executeTakeFirst();
    if (!row) throw notFound("sandbox");
    return row;
  }

  async list(scope: OrgScope, page: { limit: number; offset: number; includeEnded: boolean }): Promise<Sandbox[]> {
    let query = this.db
      .selectFrom("sandboxes")
      .selectAll()
      .where("org_id", "=", scope.orgId)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(page.limit + 1)
      .offset(page.offset);
    if (!page.includeEnded) query = query.where("ended_at", "is", null);
    return query.execute();
  }

  // ---- placement ----------------------------------------------------------------------------

  /** Connected hosts with room to place on; `anyImage` when every host can get the image itself (a pull). */
  private async candidates(
    orgId: string,
    sourceVm: string,
    anyImage = false,
  ): Promise<{ hosts: PlacementHost[]; connected: number }> {
    const liveSince = new Date(Date.now() - this.config.heartbeatIntervalMs * this.config.missedHeartbeats);
    const image = JSON.stringify([sourceVm]);
    const sourceVmEntry = JSON.stringify([{ name: sourceVm }]);
    const rows = await this.db
      .selectFrom("hosts as h")
      .leftJoin(
        (eb) =>
          eb
            .selectFrom("sandboxes")
            .select(["host_id"])
            .select((s) => [s.fn.sum<string>("vcpus").as("vcpus"), s.fn.sum<string>("memory_mb").as("memory_mb")])
            .where("ended_at", "is", null)
            .where("state", "in", activeStates)
            .groupBy("host_id")
            .as("c"),
        (join) => join.onRef("c.host_id", "=", "h.id"),
      )
      .select([
        "h.id",
        "h.total_cpus",
        "h.total_memory_mb",
        "h.available_memory_mb",
        "h.available_disk_mb",
        "c.vcpus",
        "c.memory_mb",
        sql<boolean>`(h.base_images @> ${image}::jsonb OR h.source_vms @> ${sourceVmEntry}::jsonb)`.as("has_image"),
      ])
      .where("h.org_id", "=", orgId)
      .where("h.status", "=", "ONLINE")
      .where("h.last_heartbeat", ">", liveSince)
      .execute();
    const connected = rows.filter((row) => this.hosts.isConnected(row.id));
    return {
      connected: connected.length,
      hosts: connected
        .filter((row) => anyImage || row.has_image)
        .map((row) => ({
          id: row.id,
          totalCpus: row.total_cpus,
          totalMemoryMb: row.total_memory_mb,
          availableMemoryMb: row.available_memory_mb,
          availableDiskMb: row.available_disk_mb,
          committedVcpus: Number(row.vcpus ?? 0),
          committedMemoryMb: Number(row.memory_mb ?? 0),
        })),
    };
  }

  /**
   * Picks a host and records the sandbox on it in one transaction that locks the host row and
   * re-counts its commitments, so concurrent creates cannot both take the last free memory.
   */
  private async reserve(scope: OrgScope, input: CreateSandboxInput, demand: Demand): Promise<Sandbox> {
    const found = await this.candidates(scope.orgId, input.sourceVm, input.source !== undefined);
    const connected = found.connected;
    const hosts = input.hostId ? found.hosts.filter((host) => host.id === input.hostId) : found.hosts;
    if (connected === 0) throw new AppError("no_capacity", "no sandbox host of this organization is connected");
    if (input.hostId && hosts.length === 0) {
      throw new AppError("no_capacity", `host ${input.hostId} is not connected or lacks "${input.sourceVm}"`);
    }
    if (hosts.length === 0) {
      throw new AppError("no_capacity", `no connected host has the image or source VM "${input.sourceVm}"`);
    }
    const ranked = rankHosts(hosts, demand, { cpuOvercommit: this.config.cpuOvercommit });
    if (ranked.length === 0)
      throw new AppError("no_capacity", explainNoFit(hosts, demand, { cpuOvercommit: this.config.cpuOvercommit }));

    const ttlMs = (input.ttlSeconds ?? this.config.defaultTtlMs / 1000) * 1000;
    for (const candidate of ranked) {
      const row = await this.db.transaction().execute(async (tx) => {
        const host = await tx
          .selectFrom("hosts")
          .select(["id", "total_cpus", "total_memory_mb", "available_memory_mb", "available_disk_mb", "status"])
          .where("id", "=", candidate.id)
          .forUpdate()
          .executeTakeFirst();
        if (host?.status !== "ONLINE") return undefined;
        const committed = await tx
          .selectFrom("sandboxes")
          .select((s) => [s.fn.sum<string>("vcpus").as("vcpus"), s.fn.sum<string>("memory_mb").as("memory_mb")])
          .where("host_id", "=", candidate.id)
          .where("ended_at", "is", null)
          .where("state", "in", activeStates)
          .executeTakeFirstOrThrow();
        const fresh: PlacementHost = {
          id: host.id,
          totalCpus: host.total_cpus,
          totalMemoryMb: host.total_memory_mb,
          availableMemoryMb: host.available_memory_mb,
          availableDiskMb: host.available_disk_mb,
          committedVcpus: Number(committed.vcpus ?? 0),
          committedMemoryMb: Number(committed.memory_mb ?? 0),
        };
        if (rankHosts([fresh], demand, { cpuOvercommit: this.config.cpuOvercommit }).length === 0) return undefined;
        return recordNewSandbox(tx, scope, {
          hostId: candidate.id,
          name: input.name,
          agentId: input.agentId ?? null,
          sourceVm: input.sourceVm,
          sourceHostId: input.source?.connection.sourceHostId || null,
          vcpus: demand.vcpus,
          memoryMb: demand.memoryMb,
          allowEgress: input.allowEgress ?? false,
          expiresAt: new Date(Date.now() + ttlMs),
        });
      });
      if (row) return row;
    }
    throw new AppError("no_capacity", "hosts filled up while placing the sandbox; retry");
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /**
   * Creates a sandbox. The host work runs on its own (a client hanging up does not abandon it);
   * with `wait` the call returns once the sandbox is RUNNING or has failed.
   */
  async create(scope: OrgScope, input: CreateSandboxInput, options: { wait: boolean }): Promise<Sandbox> {
    if (input.ttlSeconds !== undefined && input.ttlSeconds * 1000 > this.config.maxTtlMs) {
      throw new AppError("invalid_request", `ttl_seconds must be at most ${Math.floor(this.config.maxTtlMs / 1000)}`);
    }
    const demand: Demand = {
      vcpus: input.vcpus ?? sandboxDefaults.vcpus,
      memoryMb: input.memoryMb ?? sandboxDefaults.memoryMb,
      diskMb: sandboxDefaults.diskMb,
    };
    const sandbox = await this.reserve(scope, input, demand);
    const provision = this.provision(sandbox, input.source);
    this.provisioning.add(provision);
    provision.then(
      () => this.provisioning.delete(provision),
      () => this.provisioning.delete(provision),
    );
    if (!options.wait) {
      provision.catch(() => undefined);
      return sandbox;
    }
    return provision;
  }

  private async provision(sandbox: Sandbox, source?: CreateSandboxInput["source"]): Promise<Sandbox> {
    const ttlSeconds = Math.max(0, Math.round((sandbox.expires_at.getTime() - Date.now()) / 1000));
    let created: ReplyValue<"sandboxCreated">;
    try {
      const reply = await this.hosts.request(
        sandbox.host_id,
        {
          case: "createSandbox",
          value: create(CreateSandboxCommandSchema, {
            sandboxId: sandbox.id,
            baseImage: sandbox.source_vm,
            sourceVm: sandbox.source_vm,
            name: sandbox.name,
            vcpus: sandbox.vcpus,
            memoryMb: sandbox.memory_mb,
            ttlSeconds,
            agentId: sandbox.agent_id ?? "",
            allowEgress: sandbox.allow_egress,
            ...(source
              ? {
                  sourceHostConnection: source.connection,
                  snapshotMode: source.fresh ? SnapshotMode.FRESH : SnapshotMode.CACHED,
                }
              : {}),
          }),
        },
        this.deadlines.createMs,
      );
      created = expectReply(reply, "sandboxCreated");
    } catch (err) {
      const appError = toAppError(err, "create sandbox");
      // If the host never answered it may still finish; the row is ended, so reconciliation
      // destroys whatever it reports for this id later.
      await this.end(sandbox.id, "create_failed", "ERROR", { error: appError.message });
      throw appError;
    }
    try {
      const running = await this.db
        .updateTable("sandboxes")
        .set({
          state: created.state === "STOPPED" ? "STOPPED" : "RUNNING",
          ip_address: created.ipAddress || null,
          mac_address: created.macAddress || null,
          bridge: created.bridge || null,
          pid: created.pid || null,
          progress: null,
          source_captured_at: capturedAt(created.sourceCapturedAt),
          updated_at: new Date(),
        })
        .where("id", "=", sandbox.id)
        .where("state", "=", "CREATING")
        .where("ended_at", "is", null)
        .returningAll()
        .executeTakeFirst();
      if (running) return running;
    } catch (err) {
      this.log.error({ err, sandboxId: sandbox.id }, "could not record a created sandbox");
    }
    // The sandbox was destroyed while it was being created, or we could not record it: do not
    // leave a VM running that nothing tracks.
    await this.compensate(sandbox);
    throw new AppError("conflict", "sandbox was destroyed while it was being created");
  }

  async compensate(sandbox: Sandbox): Promise<void> {
    try {
      await this.hosts.request(
        sandbox.host_id,
        {
          case: "destroySandbox",
          value: create(DestroySandboxCommandSchema, { sandboxId: sandbox.id, reason: "orphaned" }),
        },
        this.deadlines.destroyMs,
      );
    } catch (err) {
      this.log.error(
        { err, sandboxId: sandbox.id, hostId: sandbox.host_id },
        "ORPHANED VM: compensating destroy failed; reconciliation will retry when the host reports",
      );
    }
  }

  /**
   * Records an end exactly once, with its audit event; returns the ended row, or undefined if it had
   * already ended. `actor` is null when the server or a host ended it (lease, crash, lost host).
   */
  async end(
    id: string,
    reason: EndReason,
    state: SandboxState,
    options: { error?: string | undefined; actor?: AuditActor } = {},
  ): Promise<Sandbox | undefined> {
    const now = new Date();
    return this.db.transaction().execute(async (tx) => {
      const ended = await tx
        .updateTable("sandboxes")
        .set({
          state,
          ended_at: now,
          end_reason: reason,
          updated_at: now,
          ...(options.error ? { error: options.error.slice(0, 2000) } : {}),
        })
        .where("id", "=", id)
        .where("ended_at", "is", null)
        .returningAll()
        .executeTakeFirst();
      if (ended) await recordEnd(tx, ended, options.actor ?? null);
      return ended;
    });
  }

  assertCanModify(scope: OrgScope, sandbox: Sandbox): void {
    if (!atLeast(scope.role, "member")) throw forbidden("viewers cannot change sandboxes");
    if (!mayEnter(scope, sandbox)) throw forbidden("only admins can change sandboxes created by someone else");
  }

  private assertCanRead(scope: OrgScope, sandbox: Sandbox): void {
    if (!atLeast(scope.role, "member")) throw forbidden("viewers see sandbox metadata only, not files or output");
    if (!mayEnter(scope, sandbox)) throw forbidden("only admins can read sandboxes created by someone else");
  }

  assertState(sandbox: Sandbox, allowed: SandboxState[], action: string): void {
    if (sandbox.ended_at)
      throw new AppError("invalid_state", `sandbox has ended (${sandbox.end_reason}); cannot ${action}`);
    if (!allowed.includes(sandbox.state)) {
      throw new AppError("invalid_state", `cannot ${action} a sandbox that is ${sandbox.state}`);
    }
  }

  async destroy(scope: OrgScope, id: string): Promise<Sandbox> {
    const sandbox = await this.get(scope, id);
    this.assertCanModify(scope, sandbox);
    if (sandbox.ended_at) return sandbox;
    if (sandbox.state === "CREATING") {
      // End first so the in-flight creation sees it and tears the VM down when the host answers.
      const ended =
        (await this.end(id, "user_request", "DESTROYED", { actor: auditActorOf(scope.principal) })) ??
        (await this.get(scope, id));
      this.destroyOnHost(sandbox, "user_request");
      return ended;
    }
    try {
      await this.hosts.request(
        sandbox.host_id,
        {
          case: "destroySandbox",
          value: create(DestroySandboxCommandSchema, { sandboxId: id, reason: "user_request" }),
        },
        this.deadlines.destroyMs,
      );
    } catch (err) {
      const hostGone = err instanceof AppError && err.code === "host_unavailable";
      const unknownToHost = err instanceof HostCommandError && err.hostCode === "not_found";
      if (!hostGone && !unknownToHost) throw toAppError(err, "destroy sandbox");
      // The host is away (or already lost the VM): the record ends now and the host's
      // reconciliation removes anything left when it reconnects.
    }
    return (
      (await this.end(id, "user_request", "DESTROYED", { actor: auditActorOf(scope.principal) })) ?? this.get(scope, id)
    );
  }

  /** Best-effort destroy on the host for sandboxes whose record has already ended. */
  private destroyOnHost(sandbox: Pick<Sandbox, "id" | "host_id">, reason: string): void {
    if (!this.hosts.isConnected(sandbox.host_id)) return;
    this.hosts
      .request(
        sandbox.host_id,
        { case: "destroySandbox", value: create(DestroySandboxCommandSchema, { sandboxId: sandbox.id, reason }) },
        this.deadlines.destroyMs,
      )
      .catch((err: unknown) => {
        if (err instanceof HostCommandError && err.hostCode === "not_found") return;
        this.log.warn({ err, sandboxId: sandbox.id }, "host-side destroy failed; reconciliation will retry");
      });
  }

  async start(scope: OrgScope, id: string): Promise<Sandbox> {
    const sandbox = await this.get(scope, id);
    this.assertCanModify(scope, sandbox);
    this.assertState(sandbox, ["STOPPED"], "start");
    let started: ReplyValue<"sandboxStarted">;
    try {
      const reply = await this.hosts.request(
        sandbox.host_id,
        { case: "startSandbox", value: create(StartSandboxCommandSchema, { sandboxId: id }) },
        this.deadlines.startMs,
      );
      started = expectReply(reply, "sandboxStarted");
    } catch (err) {
      throw toAppError(err, "start sandbox");
    }
    return this.transition(scope, id, "STOPPED", "RUNNING", started.ipAddress || sandbox.ip_address);
  }

  async stop(scope: OrgScope, id: string, force: boolean): Promise<Sandbox> {
    const sandbox = await this.get(scope, id);
    this.assertCanModify(scope, sandbox);
    this.assertState(sandbox, ["RUNNING"], "stop");
    try {
      const reply = await this.hosts.request(
        sandbox.host_id,
        { case: "stopSandbox", value: create(StopSandboxCommandSchema, { sandboxId: id, force }) },
        this.deadlines.stopMs,
      );
      expectReply(reply, "sandboxStopped");
    } catch (err) {
      throw toAppError(err, "stop sandbox");
    }
    return this.transition(scope, id, "RUNNING", "STOPPED", sandbox.ip_address);
  }

  /** Applies a host-confirmed state change; if the row moved meanwhile, the caller sees the truth. */
  private async transition(
    scope: OrgScope,
    id: string,
    from: SandboxState,
    to: SandboxState,
    ip: string | null,
  ): Promise<Sandbox> {
    const row = await this.db.transaction().execute(async (tx) => {
      const moved = await tx
        .updateTable("sandboxes")
        .set({ state: to, ip_address: ip, updated_at: new Date() })
        .where("id", "=", id)
        .where("org_id", "=", scope.orgId)
        .where("state", "=", from)
        .where("ended_at", "is", null)
        .returningAll()
        .executeTakeFirst();
      if (moved) {
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: to === "RUNNING" ? "sandbox.started" : "sandbox.stopped",
          target: { type: "sandbox", id },
          details: { from, to },
        });
      }
      return moved;
    });
    if (row) return row;
    const current = await this.get(scope, id);
    throw new AppError(
      "conflict",
      `sandbox changed to ${current.state} while the host was working; the host reported ${to}`,
    );
  }

  async run(scope: OrgScope, id: string, input: RunInput): Promise<Command> {
    const sandbox = await this.get(scope, id);
    this.assertCanModify(scope, sandbox);
    this.assertState(sandbox, ["RUNNING"], "run a command in");
    const commandId = newId();
    const startedAt = new Date();
    // The audit rows are written before the command runs: if they cannot be written, nothing runs.
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto("commands")
        .values({
          id: commandId,
          org_id: scope.orgId,
          sandbox_id: id,
          command: input.command,
          env_names: JSON.stringify(Object.keys(input.env).sort()),
          timeout_seconds: input.timeoutSeconds,
          status: "running",
          stdout: null,
          stderr: null,
          exit_code: null,
          duration_ms: null,
          error: null,
          created_by: scope.principal.userId,
          started_at: startedAt,
          ended_at: null,
        })
        .execute();
      await appendAuditEvent(tx, {
        orgId: scope.orgId,
        actor: auditActorOf(scope.principal),
        action: "sandbox.command",
        target: { type: "sandbox", id },
        details: {
          command_id: commandId,
          command: input.command,
          env_names: Object.keys(input.env).sort(),
          timeout_seconds: input.timeoutSeconds,
        },
      });
    });
    try {
      const reply = await this.hosts.request(
        sandbox.host_id,
        {
          case: "runCommand",
          value: create(RunCommandCommandSchema, {
            sandboxId: id,
            command: input.command,
            timeoutSeconds: input.timeoutSeconds,
            env: input.env,
          }),
        },
        input.timeoutSeconds * 1000 + this.deadlines.commandGraceMs,
      );
      const result = expectReply(reply, "commandResult");
      const stdout = cap(result.stdout);
      const stderr = cap(result.stderr);
      return await this.db
        .updateTable("commands")
        .set({
          status: result.timedOut ? "timed_out" : "completed",
          stdout: stdout.text,
          stderr: stderr.text,
          stdout_truncated: stdout.truncated || result.stdoutTruncated,
          stderr_truncated: stderr.truncated || result.stderrTruncated,
          exit_code: result.exitCode,
          duration_ms: Number(result.durationMs),
          ended_at: new Date(),
        })
        .where("id", "=", commandId)
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      const appError = toAppError(err, "run command");
      await this.db
        .updateTable("commands")
        .set({ status: "failed", error: appError.message, ended_at: new Date() })
        .where("id", "=", commandId)
        .execute()
        .catch((dbErr: unknown) => this.log.error({ err: dbErr, commandId }, "could not record a failed command"));
      throw appError;
    }
  }

  /**
   * The command trail is metadata everyone in the org sees (what ran, when, how it ended); the
   * output is contents, so `withOutput` says whether this caller may see it.
   */
  async commands(
    scope: OrgScope,
    id: string,
    page: { limit: number; offset: number },
  ): Promise<{ rows: Command[]; withOutput: boolean }> {
    const sandbox = await this.get(scope, id);
    const rows = await this.db
      .selectFrom("commands")
      .selectAll()
      .where("sandbox_id", "=", id)
      .where("org_id", "=", scope.orgId)
      .orderBy("started_at", "asc")
      .orderBy("id", "asc")
      .limit(page.limit + 1)
      .offset(page.offset)
      .execute();
    return { rows, withOutput: mayEnter(scope, sandbox) };
  }

  async snapshot(scope: OrgScope, id: string, input: { name: string; includeMemory: boolean }): Promise<Snapshot> {
    const sandbox = await this.get(scope, id);
    this.assertCanModify(scope, sandbox);
    this.assertState(sandbox, ["RUNNING", "STOPPED"], "snapshot");
    let snap: ReplyValue<"snapshotCreated">;
    try {
      const reply = await this.hosts.request(
        sandbox.host_id,
        {
          case: "createSnapshot",
          value: create(SnapshotCommandSchema, {
            sandboxId: id,
            snapshotName: input.name,
            includeMemory: input.includeMemory,
          }),
        },
        this.deadlines.snapshotMs,
      );
      snap = expectReply(reply, "snapshotCreated");
    } catch (err) {
      throw toAppError(err, "snapshot sandbox");
    }
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto("snapshots")
        .values({
          id: newId(),
          org_id: scope.orgId,
          sandbox_id: id,
          host_id: sandbox.host_id,
          name: input.name,
          host_snapshot_id: snap.snapshotId,
          has_memory: snap.hasMemory,
          size_bytes: Number(snap.sizeBytes),
          created_by: scope.principal.userId,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await appendAuditEvent(tx, {
        orgId: scope.orgId,
        actor: auditActorOf(scope.principal),
        action: "sandbox.snapshot_created",
        target: { type: "sandbox", id },
        details: { snapshot_id: row.id, name: row.name, has_memory: row.has_memory, size_bytes: row.size_bytes },
      });
      return row;
    });
  }

  async snapshots(scope: OrgScope, id: string): Promise<Snapshot[]> {
    await this.get(scope, id);
    return this.db
      .selectFrom("snapshots")
      .selectAll()
      .where("sandbox_id", "=", id)
      .where("org_id", "=", scope.orgId)
      .orderBy("created_at", "asc")
      .execute();
  }

  // ---- files and restore -------------------------------------------------------------------

  /** Reads a file inside a running sandbox through its host. */
  async readFile(
    scope: OrgScope,
    id: string,
    path: string,
    maxBytes: number,
  ): Promise<{ content: Uint8Array; truncated: boolean }> {
    const sandbox = await this.get(scope, id);
    this.assertCanRead(scope, sandbox);
    this.assertState(sandbox, ["RUNNING"], "read files in");
    try {
      const reply = await this.hosts.request(
        sandbox.host_id,
        { case: "readFile", value: create(ReadFileCommandSchema, { sandboxId: id, path, maxBytes: BigInt(maxBytes) }) },
        this.deadlines.fileMs,
      );
      const file = expectReply(reply, "fileContent");
      return { content: file.content, truncated: file.truncated };
    } catch (err) {
      throw toAppError(err, "read file");
    }
  }

  async writeFile(
    scope: OrgScope,
    id: string,
    input: { path: string; content: Uint8Array; mode?: number | undefined },
  ): Promise<number> {
    const sandbox = await this.get(scope, id);
    this.assertCanModify(scope, sandbox);
    this.assertState(sandbox, ["RUNNING"], "write files in");
    try {
      const reply = await this.hosts.request(
        sandbox.host_id,
        {
          case: "writeFile",
          value: create(WriteFileCommandSchema, {
            sandboxId: id,
            path: input.path,
            content: input.content,
            mode: input.mode ?? 0,
          }),
        },
        this.deadlines.fileMs,
      );
      const size = Number(expectReply(reply, "fileWritten").size);
      // No row records a write, so the event is appended once the host has confirmed it.
      await appendAuditEvent(this.db, {
        orgId: scope.orgId,
        actor: auditActorOf(scope.principal),
        action: "sandbox.file_written",
        target: { type: "sandbox", id },
        details: { path: input.path, size, mode: input.mode ?? null },
      });
      return size;
    } catch (err) {
      throw toAppError(err, "write file");
    }
  }

  async listFiles(scope: OrgScope, id: string, path: string) {
    const sandbox = await this.get(scope, id);
    this.assertCanRead(scope, sandbox);
    this.assertState(sandbox, ["RUNNING"], "list files in");
    try {
      const reply = await this.hosts.request(
        sandbox.host_id,
        { case: "listFiles", value: create(ListFilesCommandSchema, { sandboxId: id, path }) },
        this.deadlines.fileMs,
      );
      return expectReply(reply, "fileList").entries;
    } catch (err) {
      throw toAppError(err, "list files");
    }
  }

  /** What a sandbox changed against its image, read by its host from its disk (running or stopped). */
  async diff(scope: OrgScope, id: string, noise: NoiseOverride | undefined): Promise<SandboxDiff> {
    return (await this.requestDiff(scope, id, { noise, withPlaybook: false })).diff;
  }

  /** The diff a change request is made of, with the playbook the host generates from it when asked. */
  async diffForReview(
    scope: OrgScope,
    id: string,
    options: { withPlaybook: boolean },
  ): Promise<{ sandbox: Sandbox; diff: SandboxDiff; playbookYaml: string; playbookNotes: string[] }> {
    return this.requestDiff(scope, id, { noise: undefined, withPlaybook: options.withPlaybook });
  }

  private async requestDiff(
    scope: OrgScope,
    id: string,
    options: { noise: NoiseOverride | undefined; withPlaybook: boolean },
  ): Promise<{ sandbox: Sandbox; diff: SandboxDiff; playbookYaml: string; playbookNotes: string[] }> {
    const sandbox = await this.get(scope, id);
    this.assertCanRead(scope, sandbox);
    this.assertState(sandbox, ["RUNNING", "STOPPED"], "diff");
    try {
      const command = create(DiffSandboxCommandSchema, {
        sandboxId: id,
        noiseOverrideJson: options.noise ? JSON.stringify(options.noise) : "",
        withPlaybook: options.withPlaybook,
      });
      const reply = await this.hosts.request(
        sandbox.host_id,
        { case: "diffSandbox", value: command },
        this.deadlines.diffMs,
      );
      const answer = expectReply(reply, "sandboxDiff");
      return {
        sandbox,
        diff: hostDiff(answer),
        playbookYaml: answer.playbookYaml,
        playbookNotes: answer.playbookNotes,
      };
    } catch (err) {
      throw toAppError(err, "diff sandbox");
    }
  }

  /** Runs ansible-playbook from the sandbox's host against the running sandbox. */
  async runPlaybook(
    scope: OrgScope,
    id: string,
    input: { yaml: string; timeoutSeconds: number },
  ): Promise<ReplyValue<"playbookRun">> {
    const sandbox = await this.get(scope, id);
    this.assertCanModify(scope, sandbox);
    this.assertState(sandbox, ["RUNNING"], "run a playbook in");
    try {
      const reply = await this.hosts.request(
        sandbox.host_id,
        {
          case: "runPlaybook",
          value: create(RunPlaybookCommandSchema, {
            sandboxId: id,
            playbookYaml: input.yaml,
            timeoutSeconds: input.timeoutSeconds,
          }),
        },
        input.timeoutSeconds * 1000 + this.deadlines.commandGraceMs,
      );
      return expectReply(reply, "playbookRun");
    } catch (err) {
      throw toAppError(err, "run playbook");
    }
  }

  /** One of the sandbox's own snapshots, in the caller's org; 404 for any other. */
  async ownSnapshot(scope: OrgScope, sandboxId: string, snapshotId: string): Promise<Snapshot> {
    const snapshot = await this.db
      .selectFrom("snapshots")
      .selectAll()
      .where("id", "=", snapshotId)
      .where("sandbox_id", "=", sandboxId)
      .where("org_id", "=", scope.orgId)
      .executeTakeFirst();
    if (!snapshot) throw notFound("snapshot of this sandbox");
    return snapshot;
  }

  /** Puts a sandbox back to one of its own snapshots (disk, and RAM when it was saved). */
  async restore(scope: OrgScope, id: string, snapshotId: string): Promise<Sandbox> {
    const sandbox = await this.get(scope, id);
    this.assertCanModify(scope, sandbox);
    this.assertState(sandbox, ["RUNNING", "STOPPED"], "restore");
    const snapshot = await this.ownSnapshot(scope, id, snapshotId);
    let restored: ReplyValue<"sandboxRestored">;
    try {
      const reply = await this.hosts.request(
        sandbox.host_id,
        {
          case: "restoreSnapshot",
          value: create(RestoreSnapshotCommandSchema, { sandboxId: id, snapshotId: snapshot.host_snapshot_id }),
        },
        this.deadlines.startMs,
      );
      restored = expectReply(reply, "sandboxRestored");
    } catch (err) {
      throw toAppError(err, "restore snapshot");
    }
    const row = await this.db.transaction().execute(async (tx) => {
      const current = await tx
        .updateTable("sandboxes")
        .set({ state: "RUNNING", ip_address: restored.ipAddress || sandbox.ip_address, updated_at: new Date() })
        .where("id", "=", id)
        .where("org_id", "=", scope.orgId)
        .where("ended_at", "is", null)
        .returningAll()
        .executeTakeFirst();
      if (current) {
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: "sandbox.snapshot_restored",
          target: { type: "sandbox", id },
          details: { snapshot_id: snapshot.id, name: snapshot.name },
        });
      }
      return current;
    });
    if (!row) throw new AppError("invalid_state", "sandbox ended while it was being restored");
    return row;
  }

  /** Moves the lease to `ttlSeconds` from now; the host's janitor is told first so both agree. */
  async extend(scope: OrgScope, id: string, ttlSeconds: number): Promise<Sandbox> {
    if (ttlSeconds * 1000 > this.config.maxTtlMs) {
      throw new AppError("invalid_request", `ttl_seconds must be at most ${Math.floor(this.config.maxTtlMs / 1000)}`);
    }
    const sandbox = await this.get(scope, id);
    this.assertCanModify(scope, sandbox);
    this.assertState(sandbox, ["CREATING", "RUNNING", "STOPPED"], "extend");
    const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
    if (sandbox.state !== "CREATING") {
      try {
        const reply = await this.hosts.request(
          sandbox.host_id,
          {
            case: "extendSandbox",
            value: create(ExtendSandboxCommandSchema, {
              sandboxId: id,
              expiresAtUnix: BigInt(Math.floor(expiresAt.getTime() / 1000)),
            }),
          },
          this.deadlines.extendMs,
        );
        expectReply(reply, "sandboxExtended");
      } catch (err) {
        throw toAppError(err, "extend sandbox lease");
      }
    }
    const row = await this.db.transaction().execute(async (tx) => {
      const extended = await tx
        .updateTable("sandboxes")
        .set({ expires_at: expiresAt, updated_at: new Date() })
        .where("id", "=", id)
        .where("org_id", "=", scope.orgId)
        .where("ended_at", "is", null)
        .returningAll()
        .executeTakeFirst();
      if (extended) {
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: "sandbox.extended",
          target: { type: "sandbox", id },
          details: { ttl_seconds: ttlSeconds, expires_at: expiresAt.toISOString() },
        });
      }
      return extended;
    });
    if (!row) throw new AppError("invalid_state", "sandbox ended while its lease was being extended");
    return row;
  }

  // ---- news from hosts ----------------------------------------------------------------------

  /**
   * Reconciles after a host (re)connects: records state the host reports, ends sandboxes the host
   * no longer has, and destroys sandboxes the host runs that the control plane has ended or never knew.
   */
  async onResourceReport(session: HostSession, report: ResourceReport): Promise<void> {
    const reported = new Map(report.sandboxStatuses.map((s) => [s.sandboxId, s]));
    const rows = await this.db
      .selectFrom("sandboxes")
      .select(["id", "state", "created_at", "ended_at"])
      .where("host_id", "=", session.hostId)
      .where("ended_at", "is", null)
      .execute();
    const active = new Set(rows.map((row) => row.id));
    const inFlightSince = Date.now() - this.deadlines.createMs;

    for (const row of rows) {
      const status = reported.get(row.id);
      if (!status) {
        if (row.state === "CREATING" && row.created_at.getTime() > inFlightSince) continue;
        await this.end(row.id, "reconciled_missing", "ERROR", { error: "the host no longer has this sandbox" });
        continue;
      }
      if (status.state === "ERROR") {
        await this.end(row.id, "crashed", "ERROR", { error: "the host reports the sandbox failed" });
      } else if (
        (status.state === "RUNNING" || status.state === "STOPPED") &&
        status.state !== row.state &&
        row.state !== "CREATING"
      ) {
        await this.db
          .updateTable("sandboxes")
          .set({ state: status.state, ip_address: status.ipAddress || null, updated_at: new Date() })
          .where("id", "=", row.id)
          .where("ended_at", "is", null)
          .execute();
      }
    }
    for (const id of reported.keys()) {
      if (!active.has(id)) this.destroyOnHost({ id, host_id: session.hostId }, "reconciled");
    }
  }

  /** A host changed a sandbox on its own: its janitor ended a lease, or the VM crashed or stopped. */
  /** Records how far a creation has got; news for a sandbox no longer being created is dropped. */
  async onProgress(session: HostSession, progress: SandboxProgress): Promise<void> {
    await this.db
      .updateTable("sandboxes")
      .set({
        progress: JSON.stringify({
          phase: progress.phase.slice(0, 32),
          bytes_done: Number(progress.bytesDone),
          bytes_total: Number(progress.bytesTotal),
          at: new Date().toISOString(),
        }),
      })
      .where("id", "=", progress.sandboxId)
      .where("host_id", "=", session.hostId)
      .where("state", "=", "CREATING")
      .where("ended_at", "is", null)
      .execute();
  }

  async onStateChanged(session: HostSession, change: SandboxStateChanged): Promise<void> {
    const row = await this.db
      .selectFrom("sandboxes")
      .select(["id", "state", "ended_at"])
      .where("id", "=", change.sandboxId)
      .where("host_id", "=", session.hostId)
      .executeTakeFirst();
    if (!row || row.ended_at) return;
    if (change.newState === "DESTROYED") {
      await this.end(row.id, change.reason === "lease_expired" ? "lease_expired" : "crashed", "DESTROYED", {
        error: change.reason || undefined,
      });
    } else if (change.newState === "ERROR") {
      await this.end(row.id, "crashed", "ERROR", { error: change.reason || "the sandbox failed on its host" });
    } else if ((change.newState === "RUNNING" || change.newState === "STOPPED") && row.state !== "CREATING") {
      await this.db
        .updateTable("sandboxes")
        .set({ state: change.newState, updated_at: new Date() })
        .where("id", "=", row.id)
        .where("ended_at", "is", null)
        .execute();
    }
  }

  // ---- background enforcement ---------------------------------------------------------------

  /** Ends sandboxes whose lease has passed; each claim is atomic, so replicas never double-reap. */
  async reapExpired(batch = 100): Promise<number> {
    const due = await this.db
      .selectFrom("sandboxes")
      .select(["id", "host_id", "state"])
      .where("ended_at", "is", null)
      .where("expires_at", "<=", new Date())
      .orderBy("expires_at", "asc")
      .limit(batch)
      .execute();
    let reaped = 0;
    for (const sandbox of due) {
      const ended = await this.end(sandbox.id, "lease_expired", "DESTROYED");
      if (!ended) continue;
      reaped++;
      this.destroyOnHost(sandbox, "lease_expired");
    }
    return reaped;
  }

  /** Ends sandboxes on hosts that have been OFFLINE longer than the grace period. */
  async endOnLostHosts(): Promise<number> {
    const cutoff = new Date(Date.now() - this.config.hostLostGraceMs);
    const now = new Date();
    return this.db.transaction().execute(async (tx) => {
      const ended = await tx
        .updateTable("sandboxes")
        .set({
          state: "DESTROYED",
          ended_at: now,
          end_reason: "host_lost",
          updated_at: now,
          error: "its host stayed offline",
        })
        .where("ended_at", "is", null)
        .where("host_id", "in", (eb) =>
          eb.selectFrom("hosts").select("id").where("status", "=", "OFFLINE").where("disconnected_at", "<", cutoff),
        )
        .returningAll()
        .execute();
      for (const sandbox of ended) await recordEnd(tx, sandbox, null);
      return ended.length;
    });
  }
}

/** A user's destroy is `sandbox.destroyed`; any other end (lease, crash, lost host, failed create) is `sandbox.ended`. */
function recordEnd(tx: Kysely<DB>, sandbox: Sandbox, actor: AuditActor) {
  return appendAuditEvent(tx, {
    orgId: sandbox.org_id,
    actor,
    action: sandbox.end_reason === "user_request" ? "sandbox.destroyed" : "sandbox.ended",
    target: { type: "sandbox", id: sandbox.id },
    details: { end_reason: sandbox.end_reason, state: sandbox.state, host_id: sandbox.host_id },
  });
}

/** A host's RFC 3339 capture time, or null when it sent none (an image) or something unreadable. */
function capturedAt(value: string): Date | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
