import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { GuestAgent } from "../guest/agent.js";
import { recordListeningBaseline } from "../review/guest-sockets.js";
import type { SshCertificateAuthority } from "../ssh/certificates.js";
import type { DaemonDB, SandboxRow, SandboxState, SnapshotRow } from "../state/schema.js";
import type { Accel } from "../vm/accel.js";
import { kernelCmdline } from "../vm/kernel-cmdline.js";
import {
  DEFAULT_TCG_CACHE_MB,
  isOurVm,
  killVm,
  launchVm,
  readPid,
  type VmSpec,
  vmPaths,
  waitForExit,
} from "../vm/qemu.js";
import { QmpClient } from "../vm/qmp.js";
import {
  activeDisk,
  backingChain,
  createOverlay,
  resetDisk,
  sealActiveLayer,
  settleDisk,
  streamLongChain,
} from "./disk-layers.js";
import { SandboxError } from "./errors.js";
import { guestPoweredOff } from "./guest-exit.js";
import { generateHostKeys } from "./host-keys.js";
import { hostnameFor, identityFiles, identityParams, reidentifyCommands } from "./identity.js";
import type { WarmPool } from "./pool.js";
import type { ImageSource, NetAttachment, ResolvedImage, SandboxNetwork } from "./ports.js";
import { withQuiescedGuest } from "./quiesce.js";

export interface CreateInput {
  id?: string | undefined;
  name?: string | undefined;
  image: string;
  vcpus: number;
  memoryMb: number;
  /** Lease end (epoch ms); the janitor destroys the sandbox then. */
  expiresAt?: number | undefined;
  allowEgress: boolean;
  agentId?: string | undefined;
  /** A warm pool entry (or its template): hidden from listings and reports until a create claims it. */
  pooled?: boolean | undefined;
}

export interface ExecInput {
  command: string;
  env?: Record<string, string> | undefined;
  timeoutSeconds: number;
  stdin?: Buffer | undefined;
}

/** Something the control plane should hear about without having asked (lease expiry, crash). */
export interface SandboxEvent {
  sandboxId: string;
  previousState: SandboxState;
  newState: SandboxState;
  reason: string;
}

export interface ManagerOptions {
  db: Kysely<DaemonDB>;
  images: ImageSource;
  network: SandboxNetwork;
  log: Logger;
  stateDir: string;
  accel: Accel;
  tscKhz: number | undefined;
  /** TCG translation cache per VM in MiB (ignored under KVM). */
  tcgCacheMb?: number;
  machine?: "microvm" | "q35";
  /** Memory the host keeps for itself; sandboxes may allocate the rest. */
  allocatableMemoryMb: number;
  bootTimeoutMs?: number;
  maxOutputBytes?: number;
  /** Longest a guest stays frozen for a disk snapshot; a snapshot that needs longer fails. */
  maxFrozenMs?: number;
  onEvent?: (event: SandboxEvent) => void;
  /** Signs the short-lived certificates for SSH into sandboxes (the second channel). */
  sshCa?: SshCertificateAuthority;
}

const liveStates: SandboxState[] = ["CREATING", "RUNNING", "STOPPED"];
/** Snapshot layers a running sandbox's disk may stack above its image before they are streamed into it. */
const MAX_DISK_LAYERS = 8;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * Sandboxes on this host: QEMU microVMs on copy-on-write overlays. One code path serves both the
 * control-plane stream and the standalone local API. Every side effect is recorded in SQLite
 * before it happens, so a daemon killed at any point can recover running VMs and clean up the rest.
 */
export class SandboxManager {
  private readonly o: Required<Omit<ManagerOptions, "onEvent" | "tscKhz" | "sshCa">> &
    Pick<ManagerOptions, "onEvent" | "tscKhz" | "sshCa">;
  private readonly agents = new Map<string, Promise<GuestAgent>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private pool: Pick<WarmPool, "create"> | undefined;

  constructor(options: ManagerOptions) {
    this.o = {
      machine: "microvm",
      tcgCacheMb: DEFAULT_TCG_CACHE_MB,
      bootTimeoutMs: 180_000,
      maxOutputBytes: 1_048_576,
      maxFrozenMs: 30_000,
      ...options,
    };
  }

  private get db() {
    return this.o.db;
  }

  /** Serialises lifecycle operations on one sandbox (exec and file access do not take the lock). */
  private async locked<T>(id: string, job: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(job);
    this.locks.set(id, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(id) === next) this.locks.delete(id);
    }
  }

  async get(id: string): Promise<SandboxRow> {
    const row = await this.db.selectFrom("sandboxes").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new SandboxError("not_found", `no sandbox ${id} on this host`);
    return row;
  }

  /** The disks a review compares: the sandbox's overlay (the top of its chain) and its image's disk. */
  async disks(id: string): Promise<{ overlay: string; base: string; rootDevice: string | undefined }> {
    const row = await this.get(id);
    if (row.state !== "RUNNING" && row.state !== "STOPPED")
      throw new SandboxError("invalid_state", `sandbox ${id} is ${row.state}`);
    const image = await this.o.images.resolve(row.image);
    return { overlay: await activeDisk(row.dir), base: image.disk, rootDevice: image.rootDevice };
  }

  /** Flushes a running guest's filesystems to its disk, so a review reads what the guest wrote. */
  async flush(id: string): Promise<void> {
    const row = await this.get(id);
    if (row.state !== "RUNNING") return;
    await withQuiescedGuest(await this.agent(id), async () => undefined, {
      maxFrozenMs: this.o.maxFrozenMs,
      onWarning: (message, err) => this.o.log.warn({ err, sandboxId: id }, message),
    });
  }

  list(options: { includeEnded?: boolean } = {}): Promise<SandboxRow[]> {
    let query = this.db.selectFrom("sandboxes").selectAll().where("pooled", "=", 0).orderBy("created_at", "asc");
    if (!options.includeEnded) query = query.where("ended_at", "is", null);
    return query.execute();
  }

  /** Memory committed to sandboxes that are booting or running, warm pool entries included. */
  async committedMemoryMb(): Promise<number> {
    const row = await this.db
      .selectFrom("sandboxes")
      .select((eb) => eb.fn.sum<number>("memory_mb").as("mb"))
      .where("ended_at", "is", null)
      .where("state", "in", ["CREATING", "RUNNING"])
      .executeTakeFirst();
    return Number(row?.mb ?? 0);
  }

  private async update(id: string, values: Partial<Omit<SandboxRow, "id">>): Promise<void> {
    await this.db
      .updateTable("sandboxes")
      .set({ ...values, updated_at: Date.now() })
      .where("id", "=", id)
      .execute();
  }

  private spec(
    row: SandboxRow,
    disk: string,
    image: Pick<ResolvedImage, "kernel" | "initrd" | "rootDevice" | "boot">,
    net: NetAttachment,
    incomingFile?: string,
  ): VmSpec {
    const cmdline = kernelCmdline({
      rootDevice: image.rootDevice ?? "/dev/vda",
      boot: image.boot ?? "fast",
      tscKhz: this.o.accel === "tcg" ? this.o.tscKhz : undefined,
      identity: identityParams(hostnameFor(row.name), net),
    });
    return {
      dir: row.dir,
      kernel: image.kernel,
      initrd: image.initrd,
      disk,
      memoryMb: row.memory_mb,
      vcpus: row.vcpus,
      accel: this.o.accel,
      tcgCacheMb: this.o.tcgCacheMb,
      machine: this.o.machine,
      cmdline,
      netArgs: net.qemuArgs,
      incomingFile,
    };
  }

  // ---- create -------------------------------------------------------------------------------

  /** Set once at startup: creates that match a ready warm pool entry take it instead of booting. */
  usePool(pool: Pick<WarmPool, "create">): void {
    this.pool = pool;
  }

  async create(input: CreateInput): Promise<SandboxRow> {
    if (input.vcpus < 1 || input.memoryMb < 64) {
      throw new SandboxError("invalid_request", "need at least 1 vCPU and 64 MB");
    }
    const image = await this.o.images.resolve(input.image).catch((err: unknown) => {
      throw new SandboxError("not_found", `no image "${input.image}" on this host`, { cause: err });
    });
    const cold = (id: string) => this.provision({ ...input, id }, image.disk);
    const id = input.id ?? randomUUID();
    return this.pool && !input.pooled ? this.pool.create({ ...input, id }, () => cold(id)) : cold(id);
  }

  /**
   * Gives a warm pool entry (paused, on its own overlay, address and host keys) to a create: it
   * resumes with the current time, its own hostname and a fresh machine id, then takes the
   * requested id, name, lease and egress. The entry is still the pool's when this throws.
   */
  async claimPooled(entryId: string, input: CreateInput & { id: string }): Promise<SandboxRow> {
    const id = input.id;
    if (!ID_PATTERN.test(id))
      throw new SandboxError("invalid_request", "sandbox id must be 1-64 letters, digits, - or _");
    return this.locked(id, () =>
      this.locked(entryId, async () => {
        if (await this.db.selectFrom("sandboxes").select("id").where("id", "=", id).executeTakeFirst()) {
          throw new SandboxError("invalid_state", `sandbox ${id} already exists on this host`);
        }
        const entry = await this.get(entryId);
        if (entry.pooled !== 1 || entry.state !== "RUNNING" || !entry.network)
          throw new SandboxError("invalid_state", `${entryId} is not a ready warm pool entry`);
        const name = input.name ?? defaultName(id);
        const qmp = await QmpClient.connect(vmPaths(entry.dir).qmp);
        try {
          await qmp.execute("cont");
        } finally {
          qmp.close();
        }
        const agent = await this.writeIdentity(entry.id, name);
        await setGuestClock(agent);
        this.agents.set(id, Promise.resolve(agent));
        this.agents.delete(entryId);
        const net = await this.o.network.rekey(entryId, id, { egress: input.allowEgress });
        const now = Date.now();
        await this.db
          .updateTable("sandboxes")
          .set({
            id,
            name,
            pooled: 0,
            allow_egress: input.allowEgress ? 1 : 0,
            agent_id: input.agentId ?? null,
            expires_at: input.expiresAt ?? null,
            tap: net.tap ?? null,
            network: JSON.stringify(net),
            created_at: now,
            updated_at: now,
          })
          .where("id", "=", entryId)
          .execute();
        return this.get(id);
      }),
    );
  }

  /**
   * Builds one sandbox on an overlay of `backingDisk` (an image, or a snapshot's disk) and boots it,
   * resuming guest RAM when `snapshot` has it. The row is written before any side effect, so a
   * crash from there on leaves a CREATING row that recovery rolls back.
   */
  private provision(input: CreateInput, backingDisk: string, snapshot?: SnapshotRow): Promise<SandboxRow> {
    const id = input.id ?? randomUUID();
    if (!ID_PATTERN.test(id)) {
      throw new SandboxError("invalid_request", "sandbox id must be 1-64 letters, digits, - or _");
    }
    return this.locked(id, async () => {
      if (await this.db.selectFrom("sandboxes").select("id").where("id", "=", id).executeTakeFirst()) {
        throw new SandboxError("invalid_state", `sandbox ${id} already exists on this host`);
      }
      const committed = await this.committedMemoryMb();
      if (committed + input.memoryMb > this.o.allocatableMemoryMb) {
        throw new SandboxError(
          "no_capacity",
          `not enough memory: ${input.memoryMb} MB asked, ${Math.max(0, this.o.allocatableMemoryMb - committed)} MB free`,
        );
      }
      const dir = join(this.o.stateDir, "sandboxes", id);
      const now = Date.now();
      await this.db
        .insertInto("sandboxes")
        .values({
          id,
          name: input.name ?? defaultName(id),
          image: input.image,
          state: "CREATING",
          vcpus: input.vcpus,
          memory_mb: input.memoryMb,
          allow_egress: input.allowEgress ? 1 : 0,
          dir,
          pid: null,
          ip: null,
          mac: null,
          tap: null,
          network: null,
          agent_id: input.agentId ?? null,
          pooled: input.pooled ? 1 : 0,
          created_at: now,
          updated_at: now,
          expires_at: input.expiresAt ?? null,
          ended_at: null,
          end_reason: null,
          error: null,
        })
        .execute();
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await createOverlay(backingDisk, join(dir, "disk.qcow2"));
        const net = await this.o.network.attach(id, { egress: input.allowEgress });
        await this.update(id, { ip: net.ip ?? null, mac: net.mac, tap: net.tap ?? null, network: JSON.stringify(net) });
        const row = await this.get(id);
        await this.boot(row, net, snapshot);
        if (snapshot?.has_memory === 1) await this.reidentify(row, net);
        return await this.get(id);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.o.log.warn({ err, sandboxId: id }, "sandbox creation failed; cleaning up");
        await this.teardown(id).catch((cleanupErr: unknown) =>
          this.o.log.error({ err: cleanupErr, sandboxId: id }, "cleanup failed"),
        );
        await this.update(id, {
          state: "ERROR",
          ended_at: Date.now(),
          end_reason: "create_failed",
          error: message.slice(0, 2000),
          pid: null,
        });
        throw err instanceof SandboxError
          ? err
          : new SandboxError("host_error", `could not create sandbox: ${message}`, { cause: err });
      }
    });
  }

  /** A connected, synced guest agent for a running sandbox (one connection per sandbox, reused). */
  agent(id: string): Promise<GuestAgent> {
    const existing = this.agents.get(id);
    if (existing) return existing;
    const connecting = (async () => {
      const row = await this.get(id);
      return GuestAgent.connect(vmPaths(row.dir).agent, this.o.bootTimeoutMs);
    })();
    this.agents.set(id, connecting);
    connecting.catch(() => this.agents.delete(id));
    return connecting;
  }

  private dropAgent(id: string): void {
    const agent = this.agents.get(id);
    this.agents.delete(id);
    agent?.then((a) => a.close()).catch(() => undefined);
  }

  // ---- destroy ------------------------------------------------------------------------------

  /** Kills the VM and removes everything created for it: process, network, overlay and sockets. */
  private async teardown(id: string): Promise<void> {
    this.dropAgent(id);
    const row = await this.db.selectFrom("sandboxes").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) return;
    const pid = row.pid ?? (await readPid(vmPaths(row.dir).pidfile));
    if (pid) await killVm(pid, row.dir);
    await this.o.network.detach(id);
    await rm(row.dir, { recursive: true, force: true });
  }

  async destroy(id: string, reason = "user_request"): Promise<void> {
    await this.locked(id, async () => {
      const row = await this.get(id);
      if (row.ended_at && row.state === "DESTROYED") return;
      await this.teardown(id);
      await this.update(id, { state: "DESTROYED", pid: null, ended_at: Date.now(), end_reason: reason });
    });
  }

  // ---- stop / start -------------------------------------------------------------------------

  async stop(id: string, force: boolean): Promise<SandboxRow> {
    return this.locked(id, async () => {
      const row = await this.get(id);
      if (row.state !== "RUNNING")
        throw new SandboxError("invalid_state", `cannot stop a sandbox that is ${row.state}`);
      const pid = row.pid;
      if (pid && !force) {
        const agent = await this.agent(id).catch(() => undefined);
        agent?.shutdown();
        if (!(await waitForExit(pid, row.dir, 30_000))) await killVm(pid, row.dir);
      } else if (pid) {
        await killVm(pid, row.dir);
      }
      this.dropAgent(id);
      await this.update(id, { state: "STOPPED", pid: null });
      return this.get(id);
    });
  }

  async start(id: string): Promise<SandboxRow> {
    return this.locked(id, async () => {
      const row = await this.get(id);
      if (row.state !== "STOPPED")
        throw new SandboxError("invalid_state", `cannot start a sandbox that is ${row.state}`);
      const net = JSON.parse(row.network ?? "null") as NetAttachment | null;
      if (!net) throw new SandboxError("host_error", "sandbox has no recorded network attachment");
      await this.boot(row, net);
      return this.get(id);
    });
  }

  // ---- exec and files -----------------------------------------------------------------------

  private async running(id: string): Promise<SandboxRow> {
    const row = await this.get(id);
    if (row.state !== "RUNNING") throw new SandboxError("invalid_state", `sandbox is ${row.state}, not RUNNING`);
    return row;
  }

  async exec(id: string, input: ExecInput) {
    await this.running(id);
    const agent = await this.agent(id);
    return agent.exec({
      command: input.command,
      env: input.env,
      stdin: input.stdin,
      timeoutMs: input.timeoutSeconds * 1000,
      maxOutputBytes: this.o.maxOutputBytes,
    });
  }

  async readFile(id: string, path: string, maxBytes: number) {
    assertGuestPath(path);
    await this.running(id);
    return (await this.agent(id)).readFile(path, maxBytes);
  }

  /**
   * Writes a file through the guest agent. qemu-ga creates files world-writable (0666, whatever the
   * umask), so a new file gets `mode` or 0644; an existing file keeps its mode unless one is given.
   */
  async writeFile(id: string, path: string, data: Buffer, mode?: number): Promise<void> {
    assertGuestPath(path);
    if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)) {
      throw new SandboxError("invalid_request", "mode must be permission bits between 0 and 07777");
    }
    await this.running(id);
    const agent = await this.agent(id);
    const existed = await agent.exists(path);
    await agent.writeFile(path, data);
    const wanted = mode ?? (existed ? undefined : 0o644);
    if (wanted === undefined) return;
    const result = await agent.execArgv(["chmod", wanted.toString(8), path], {
      timeoutMs: 30_000,
      maxOutputBytes: 4096,
    });
    if (result.exitCode !== 0)
      throw new SandboxError("host_error", `chmod failed: ${result.stderr.toString("utf8").trim()}`);
  }

  /** One directory's entries: name, type, size and modification time (no shell involved in the guest). */
  async listFiles(
    id: string,
    path: string,
  ): Promise<Array<{ name: string; type: string; size: number; modifiedUnix: number }>> {
    assertGuestPath(path);
    await this.running(id);
    const agent = await this.agent(id);
    const result = await agent.execArgv(
      [
        "find",
        path,
        "-mindepth",
        "1",
        "-maxdepth",
        "1",
        "-exec",
        "/fluid/busybox",
        "stat",
        "-c",
        "%F|%s|%Y|%n",
        "{}",
        "+",
      ],
      { timeoutMs: 60_000, maxOutputBytes: 4 * 1024 * 1024 },
    );
    if (result.exitCode !== 0) {
      throw new SandboxError(
        "not_found",
        `cannot list ${path}: ${result.stderr.toString("utf8").trim().slice(0, 300)}`,
      );
    }
    return parseStatLines(result.stdout.toString("utf8"), path);
  }

  // ---- SSH -------------------------------------------------------------------------------

  /**
   * Short-lived SSH access to a sandbox whose image runs sshd: the guest is told (once) to trust
   * this host's CA for the `sandbox` principal as root, and the caller's key gets a certificate.
   */
  async sshAccess(id: string, input: { publicKey: string; ttlSeconds: number; requestedBy: string }) {
    const ca = this.o.sshCa;
    if (!ca) throw new SandboxError("host_unavailable", "this host has no SSH certificate authority");
    const row = await this.running(id);
    const image = await this.o.images.resolve(row.image);
    if (!image.sshd) throw new SandboxError("invalid_state", `image ${row.image} has no SSH server; use exec instead`);
    const agent = await this.agent(id);
    const limits = { timeoutMs: 30_000, maxOutputBytes: 65_536 };
    const caLine = `${ca.publicKeyLine()}\n`;
    const read = async (path: string) => (await agent.readFile(path, 4096).catch(() => undefined))?.data.toString();
    const trusted = await read("/etc/ssh/fluid_ca.pub");
    const principals = (await read("/etc/ssh/fluid_principals/root"))?.split("\n").filter(Boolean) ?? [];
    const dropIn = await read("/etc/ssh/sshd_config.d/fluid.conf");
    // Configure and reload sshd only once: a reload briefly stops it from accepting connections. The CA
    // alone does not say it was done: a clone of a source VM this host prepared already trusts it, for
    // other principals (fluid-readonly, and root's fluid-apply where applying is enabled).
    if (trusted !== caLine || !principals.includes("sandbox") || dropIn === undefined) {
      await agent.execArgv(["mkdir", "-p", "/etc/ssh/sshd_config.d", "/etc/ssh/fluid_principals"], limits);
      const rootPrincipals = [...new Set([...principals, "sandbox"])].join("\n");
      await this.writeFile(id, "/etc/ssh/fluid_principals/root", Buffer.from(`${rootPrincipals}\n`), 0o644);
      await this.writeFile(
        id,
        "/etc/ssh/sshd_config.d/fluid.conf",
        Buffer.from("TrustedUserCAKeys /etc/ssh/fluid_ca.pub\nAuthorizedPrincipalsFile /etc/ssh/fluid_principals/%u\n"),
        0o644,
      );
      await this.writeFile(id, "/etc/ssh/fluid_ca.pub", Buffer.from(caLine), 0o644);
      const pid = (await agent.readFile("/run/sshd.pid", 32).catch(() => undefined))?.data.toString().trim();
      if (pid && /^\d+$/.test(pid)) await agent.execArgv(["kill", "-HUP", pid], limits);
    }
    let issued: ReturnType<SshCertificateAuthority["issue"]>;
    try {
      issued = ca.issue({
        publicKey: input.publicKey,
        keyId: `sandbox:${id} by:${input.requestedBy} purpose:sandbox`,
        principals: ["sandbox"],
        ttlSeconds: input.ttlSeconds,
      });
    } catch (err) {
      throw new SandboxError("invalid_request", (err as Error).message);
    }
    return {
      user: "root",
      host: row.ip ?? "",
      port: 22,
      certificate: issued.certificate,
      validBefore: issued.validBefore,
    };
  }

  // ---- leases and egress --------------------------------------------------------------------

  async extend(id: string, expiresAt: number): Promise<void> {
    const row = await this.get(id);
    if (row.ended_at) throw new SandboxError("invalid_state", "sandbox has ended");
    await this.update(id, { expires_at: expiresAt });
  }

  async setEgress(id: string, allowed: boolean): Promise<void> {
    const row = await this.get(id);
    if (row.ended_at) throw new SandboxError("invalid_state", "sandbox has ended");
    await this.o.network.setEgress(id, allowed);
    await this.update(id, { allow_egress: allowed ? 1 : 0 });
  }

  // ---- snapshots ----------------------------------------------------------------------------

  /**
   * A snapshot in O(1) of the disk's size: the sandbox's overlay becomes the snapshot's immutable
   * layer and the sandbox continues on a new overlay above it (see sealActiveLayer). A running
   * guest's filesystems are quiesced first; a memory snapshot pauses the VM instead, taking the
   * layer and then guest RAM at the same instant (RAM holds the unflushed page cache, and a guest
   * frozen in it would resume frozen).
   */
  async snapshot(id: string, input: { name: string; includeMemory: boolean }): Promise<SnapshotRow> {
    return this.locked(id, async () => {
      const row = await this.get(id);
      if (row.state !== "RUNNING" && row.state !== "STOPPED") {
        throw new SandboxError("invalid_state", `cannot snapshot a sandbox that is ${row.state}`);
      }
      if (input.includeMemory && row.state !== "RUNNING") {
        throw new SandboxError("invalid_state", "a memory snapshot needs a running sandbox");
      }
      const snapshotId = randomUUID();
      const dir = join(this.o.stateDir, "snapshots", snapshotId);
      const layer = join(dir, "disk.qcow2");
      await mkdir(dir, { recursive: true, mode: 0o700 });
      let sealed = false;
      try {
        if (row.state === "STOPPED") {
          await sealActiveLayer(row.dir, layer);
          sealed = true;
        } else {
          const qmp = await QmpClient.connect(vmPaths(row.dir).qmp);
          try {
            if (input.includeMemory) {
              await qmp.execute("stop");
              try {
                await sealActiveLayer(row.dir, layer, qmp);
                sealed = true;
                await migrateToFile(qmp, join(dir, "memory.state"));
              } finally {
                await qmp.execute("cont");
              }
            } else {
              const seal = async () => {
                await sealActiveLayer(row.dir, layer, qmp);
                sealed = true;
              };
              await withQuiescedGuest(await this.agent(id), seal, {
                maxFrozenMs: this.o.maxFrozenMs,
                onWarning: (message, err) => this.o.log.warn({ err, sandboxId: id }, message),
              });
            }
            const image = await this.o.images.resolve(row.image);
            await streamLongChain(qmp, await activeDisk(row.dir), image.disk, MAX_DISK_LAYERS).catch((err: unknown) =>
              this.o.log.warn({ err, sandboxId: id }, "could not start flattening a long disk chain"),
            );
          } finally {
            qmp.close();
          }
        }
        const snapshot: SnapshotRow = {
          id: snapshotId,
          sandbox_id: id,
          name: input.name,
          dir,
          image: row.image,
          vcpus: row.vcpus,
          memory_mb: row.memory_mb,
          has_memory: input.includeMemory ? 1 : 0,
          size_bytes: await directorySize(dir),
          created_at: Date.now(),
        };
        await this.db.insertInto("snapshots").values(snapshot).execute();
        return snapshot;
      } catch (err) {
        // Once sealed, the layer is part of the sandbox's disk: only what came after it may go.
        if (sealed) await rm(join(dir, "memory.state"), { force: true });
        else await rm(dir, { recursive: true, force: true });
        throw err;
      }
    });
  }

  async getSnapshot(snapshotId: string): Promise<SnapshotRow> {
    const row = await this.db.selectFrom("snapshots").selectAll().where("id", "=", snapshotId).executeTakeFirst();
    if (!row) throw new SandboxError("not_found", `no snapshot ${snapshotId} on this host`);
    return row;
  }

  listSnapshots(sandboxId?: string): Promise<SnapshotRow[]> {
    let query = this.db
      .selectFrom("snapshots")
      .selectAll()
      .where("sandbox_id", "not in", (eb) => eb.selectFrom("sandboxes").select("id").where("pooled", "=", 1))
      .orderBy("created_at", "asc");
    if (sandboxId) query = query.where("sandbox_id", "=", sandboxId);
    return query.execute();
  }

  /**
   * Removes a snapshot unless its layer is still read: by a live sandbox's disk (its own sandbox
   * keeps running on top of it) or by another snapshot taken later on top of it. Such a delete is
   * refused rather than done by rewriting the dependants, because a snapshot's layer is never
   * written again; it succeeds once the dependants are gone.
   */
  async deleteSnapshot(snapshotId: string): Promise<void> {
    const snapshot = await this.getSnapshot(snapshotId);
    const layer = join(snapshot.dir, "disk.qcow2");
    const dependants: string[] = [];
    for (const { id, dir } of await this.list()) {
      const chain = await backingChain(await activeDisk(dir)).catch(() => [] as string[]);
      if (chain.includes(layer)) dependants.push(`sandbox ${id}`);
    }
    for (const other of await this.listSnapshots()) {
      if (other.id === snapshot.id) continue;
      const chain = await backingChain(join(other.dir, "disk.qcow2")).catch(() => [] as string[]);
      if (chain.includes(layer)) dependants.push(`snapshot ${other.id}`);
    }
    if (dependants.length > 0) {
      throw new SandboxError("invalid_state", `snapshot is the base of ${dependants.join(", ")}`);
    }
    await rm(snapshot.dir, { recursive: true, force: true });
    await this.db.deleteFrom("snapshots").where("id", "=", snapshotId).execute();
  }

  /** Puts a sandbox back to a snapshot of itself: the disk always, RAM too when the snapshot has it. */
  async restore(id: string, snapshotId: string): Promise<SandboxRow> {
    return this.locked(id, async () => {
      const row = await this.get(id);
      if (row.ended_at) throw new SandboxError("invalid_state", "sandbox has ended");
      const snapshot = await this.getSnapshot(snapshotId);
      if (snapshot.image !== row.image)
        throw new SandboxError("invalid_request", "snapshot was taken from a different image");
      this.dropAgent(id);
      if (row.pid) await killVm(row.pid, row.dir);
      await resetDisk(row.dir, join(snapshot.dir, "disk.qcow2"));
      const net = JSON.parse(row.network ?? "null") as NetAttachment;
      await this.boot(row, net, snapshot);
      return this.get(id);
    });
  }

  /** Launches a VM for `row` from a snapshot (resuming RAM if it has it) and waits for its agent. */
  private async boot(row: SandboxRow, net: NetAttachment, snapshot?: SnapshotRow): Promise<void> {
    const image = await this.o.images.resolve(row.image);
    const withMemory = snapshot?.has_memory === 1;
    const disk = await settleDisk(row.dir);
    const pid = await launchVm(
      this.spec(row, disk, image, net, withMemory ? join(snapshot.dir, "memory.state") : undefined),
    );
    await this.update(row.id, { pid });
    if (withMemory) {
      const qmp = await QmpClient.connect(vmPaths(row.dir).qmp);
      try {
        await waitForIncoming(qmp);
        await qmp.execute("cont");
      } finally {
        qmp.close();
      }
    }
    await recordListeningBaseline(await this.agent(row.id), row.dir, this.o.log);
    await this.update(row.id, { state: "RUNNING" });
  }

  /**
   * N new sandboxes from one snapshot, each on its own overlay and network identity. Memory
   * snapshots resume in well under a second; the clone is then re-identified through its agent.
   */
  async fork(
    snapshotId: string,
    clones: Array<Omit<CreateInput, "image" | "vcpus" | "memoryMb">>,
  ): Promise<SandboxRow[]> {
    const snapshot = await this.getSnapshot(snapshotId);
    const results: SandboxRow[] = [];
    for (const clone of clones) {
      results.push(
        await this.provision(
          { ...clone, image: snapshot.image, vcpus: snapshot.vcpus, memoryMb: snapshot.memory_mb },
          join(snapshot.dir, "disk.qcow2"),
          snapshot,
        ),
      );
    }
    return results;
  }

  /**
   * A clone resumed from guest RAM still carries its parent's hostname, machine id, address, host
   * keys and the clock of the moment it was saved. Files (host keys made on the host) go through the
   * agent directly; besides `date`, a process runs only when something needs one (bridged
   * networking, sshd), because every new program is slow right after a TCG restore.
   */
  private async reidentify(row: SandboxRow, net: NetAttachment): Promise<void> {
    const agent = await this.writeIdentity(row.id, row.name);
    await setGuestClock(agent);
    const image = await this.o.images.resolve(row.image);
    if (image.sshd) {
      for (const file of await generateHostKeys(hostnameFor(row.name))) await agent.writeFile(file.path, file.data);
    }
    const commands = reidentifyCommands(net, { sshd: image.sshd });
    if (!commands) return;
    const result = await agent.exec({ command: commands, timeoutMs: 60_000, maxOutputBytes: 65_536 });
    if (result.exitCode !== 0) {
      const why = result.timedOut ? "timed out after 60 s" : result.stderr.toString("utf8").slice(0, 500);
      throw new Error(`re-identifying the clone failed: ${why}`);
    }
  }

  /**
   * Pauses a ready warm pool entry: paused, it holds its memory but uses no CPU. Its clock is set
   * once first, so under TCG the guest code a claim runs to set it again is already translated
   * (tens of milliseconds at claim time instead of hundreds).
   */
  async parkPooled(id: string): Promise<void> {
    const row = await this.get(id);
    if (row.pooled !== 1) throw new SandboxError("invalid_state", `${id} is not a warm pool entry`);
    await setGuestClock(await this.agent(id));
    const qmp = await QmpClient.connect(vmPaths(row.dir).qmp);
    try {
      await qmp.execute("stop");
    } finally {
      qmp.close();
    }
  }

  /** Hostname, a fresh machine id and entropy: files written through the agent, no process needed. */
  private async writeIdentity(id: string, name: string): Promise<GuestAgent> {
    const agent = await this.agent(id);
    for (const file of identityFiles(hostnameFor(name), randomBytes(16).toString("hex"))) {
      await agent.writeFile(file.path, file.data);
    }
    await agent.writeFile("/dev/urandom", randomBytes(64));
    return agent;
  }

  /** Warm pool entries and their templates' snapshots, for the pool to adopt or clean up at startup. */
  async pooled(): Promise<{ sandboxes: SandboxRow[]; snapshots: SnapshotRow[] }> {
    const sandboxes = await this.db
      .selectFrom("sandboxes")
      .selectAll()
      .where("pooled", "=", 1)
      .where("ended_at", "is", null)
      .execute();
    const snapshots = await this.db
      .selectFrom("snapshots")
      .selectAll()
      .where("sandbox_id", "in", (eb) => eb.selectFrom("sandboxes").select("id").where("pooled", "=", 1))
      .execute();
    return { sandboxes, snapshots };
  }

  // ---- background enforcement and recovery -------------------------------------------------

  /** Destroys sandboxes whose lease has passed and reports each to the control plane. */
  async reapExpired(now = Date.now()): Promise<string[]> {
    const due = await this.db
      .selectFrom("sandboxes")
      .select(["id", "state"])
      .where("ended_at", "is", null)
      .where("expires_at", "is not", null)
      .where("expires_at", "<=", now)
      .execute();
    const reaped: string[] = [];
    for (const { id, state } of due) {
      try {
        await this.destroy(id, "lease_expired");
        reaped.push(id);
        this.o.onEvent?.({ sandboxId: id, previousState: state, newState: "DESTROYED", reason: "lease_expired" });
      } catch (err) {
        this.o.log.error({ err, sandboxId: id }, "could not reap an expired sandbox");
      }
    }
    return reaped;
  }

  /**
   * Notices VMs that ended on their own: a guest that powered itself off is STOPPED (it can be
   * started again, like a machine shut down from inside), anything else (QEMU crash, guest panic) ERROR.
   */
  async detectCrashes(): Promise<string[]> {
    const running = await this.db
      .selectFrom("sandboxes")
      .selectAll()
      .where("state", "=", "RUNNING")
      .where("ended_at", "is", null)
      .where("pooled", "=", 0)
      .execute();
    const crashed: string[] = [];
    for (const row of running) {
      if (this.locks.has(row.id) || (row.pid && (await isOurVm(row.pid, row.dir)))) continue;
      this.dropAgent(row.id);
      if (await guestPoweredOff(vmPaths(row.dir).serial)) {
        await this.update(row.id, { state: "STOPPED", pid: null });
        this.o.onEvent?.({
          sandboxId: row.id,
          previousState: "RUNNING",
          newState: "STOPPED",
          reason: "the guest shut itself down",
        });
        continue;
      }
      await this.update(row.id, { state: "ERROR", pid: null, error: "the VM exited unexpectedly (see serial.log)" });
      crashed.push(row.id);
      this.o.onEvent?.({
        sandboxId: row.id,
        previousState: "RUNNING",
        newState: "ERROR",
        reason: "the VM exited unexpectedly",
      });
    }
    return crashed;
  }

  /**
   * After a daemon restart: running VMs are re-adopted (pidfile + liveness), creations the old
   * process never finished are rolled back, and overlays, TAPs and processes nothing owns are removed.
   */
  async recover(): Promise<{ adopted: string[]; rolledBack: string[]; crashed: string[]; orphansRemoved: string[] }> {
    const result = {
      adopted: [] as string[],
      rolledBack: [] as string[],
      crashed: [] as string[],
      orphansRemoved: [] as string[],
    };
    const rows = await this.db.selectFrom("sandboxes").selectAll().where("ended_at", "is", null).execute();
    for (const row of rows) {
      const pid = row.pid ?? (await readPid(vmPaths(row.dir).pidfile));
      const alive = pid !== undefined && pid !== null && (await isOurVm(pid, row.dir));
      if (row.state === "CREATING") {
        await this.teardown(row.id).catch((err: unknown) =>
          this.o.log.error({ err, sandboxId: row.id }, "rollback failed"),
        );
        await this.update(row.id, {
          state: "ERROR",
          pid: null,
          ended_at: Date.now(),
          end_reason: "create_failed",
          error: "the daemon stopped while creating this sandbox",
        });
        result.rolledBack.push(row.id);
      } else if (row.state === "RUNNING" && alive) {
        if (pid !== row.pid) await this.update(row.id, { pid });
        result.adopted.push(row.id);
      } else if (row.state === "RUNNING") {
        await this.update(row.id, { state: "ERROR", pid: null, error: "the VM was gone when the daemon restarted" });
        result.crashed.push(row.id);
      }
    }
    const liveRows = await this.list();
    const live = new Set(liveRows.map((row) => row.id));
    // A claimed warm pool entry keeps the directory named after its pool id.
    const liveDirs = new Set(liveRows.map((row) => row.dir));
    const sandboxesDir = join(this.o.stateDir, "sandboxes");
    for (const entry of await readdir(sandboxesDir).catch(() => [] as string[])) {
      const dir = join(sandboxesDir, entry);
      if (liveDirs.has(dir)) continue;
      const pid = await readPid(vmPaths(dir).pidfile);
      if (pid) await killVm(pid, dir);
      await rm(dir, { recursive: true, force: true });
      result.orphansRemoved.push(entry);
    }
    await this.o.network.cleanupOrphans(live);
    return result;
  }

  /** Per-sandbox state for a ResourceReport after (re)connecting to the control plane. */
  async statuses(): Promise<Array<{ sandboxId: string; state: SandboxState; ip: string; pid: number }>> {
    return (await this.list()).map((row) => ({
      sandboxId: row.id,
      state: row.state,
      ip: row.ip ?? "",
      pid: row.pid ?? 0,
    }));
  }

  async liveCount(): Promise<number> {
    return (await this.list()).filter((row) => liveStates.includes(row.state)).length;
  }

  /** Closes agent connections; VMs keep running (they belong to the host, not to this process). */
  close(): void {
    for (const id of [...this.agents.keys()]) this.dropAgent(id);
  }
}

const defaultName = (id: string) => `sbx-${id.slice(0, 8)}`;

/**
 * A guest resumed from a memory image runs on the clock of the moment it was saved or paused. Set
 * to the second, as a cold boot's RTC read is. Not qemu-ga's guest-set-time: it runs hwclock
 * afterwards, which takes ~1.7 s in a Debian guest under TCG.
 */
async function setGuestClock(agent: GuestAgent): Promise<void> {
  const result = await agent.execArgv(["date", "-u", "-s", `@${Math.round(Date.now() / 1000)}`], {
    timeoutMs: 30_000,
    maxOutputBytes: 4096,
  });
  if (result.exitCode !== 0)
    throw new Error(`setting the guest clock failed: ${result.stderr.toString("utf8").trim()}`);
}

const fileTypes: Record<string, string> = {
  "regular file": "file",
  "regular empty file": "file",
  directory: "directory",
  "symbolic link": "symlink",
};

/** Parses `stat -c '%F|%s|%Y|%n'` lines; names may contain '|', so the name is everything after the third. */
export function parseStatLines(output: string, dir: string) {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  return output
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [type = "", size = "0", mtime = "0", ...rest] = line.split("|");
      const full = rest.join("|");
      return {
        name: full.startsWith(prefix) ? full.slice(prefix.length) : full,
        type: fileTypes[type] ?? "other",
        size: Number(size),
        modifiedUnix: Number(mtime),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

function assertGuestPath(path: string): void {
  if (!path.startsWith("/") || path.includes("\0") || path.length > 4096) {
    throw new SandboxError("invalid_request", "path must be absolute, without NUL, at most 4096 characters");
  }
}

async function migrateToFile(qmp: QmpClient, file: string): Promise<void> {
  // `exec:` runs through QEMU's own /bin/sh; the path is ours (a UUID under the state dir), never user input.
  await qmp.execute("migrate", { uri: `exec:cat > ${file}` });
  for (;;) {
    const info = await qmp.execute<{ status?: string; "error-desc"?: string }>("query-migrate");
    if (info.status === "completed") return;
    if (info.status === "failed" || info.status === "cancelled") {
      throw new Error(`saving guest memory failed: ${info["error-desc"] ?? info.status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitForIncoming(qmp: QmpClient): Promise<void> {
  for (;;) {
    const status = await qmp.execute<{ status: string }>("query-status");
    if (status.status === "paused" || status.status === "running") return;
    if (status.status === "inmigrate") {
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    throw new Error(`restoring guest memory failed: VM is ${status.status}`);
  }
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir)) {
    total += (await stat(join(dir, entry))).blocks * 512;
  }
  return total;
}
