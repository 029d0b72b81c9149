import type { ExecResult, GuestAgent } from "../agent/client.js";
import type { OutputStream } from "../agent/exec-stream.js";
import type { SandboxRow, SandboxState, SnapshotRow } from "../state/schema.js";
import { vmPaths } from "../vm/qemu.js";
import { type SandboxContext, sandboxContext } from "./context.js";
import { exec } from "./exec.js";
import { type FileEntry, listFiles, readFile, writeFile } from "./files.js";
import { destroy, extend, setEgress, start, stop } from "./lifecycle.js";
import { claimPooled, parkPooled } from "./pool-entries.js";
import {
  listProcesses,
  type ProcessHost,
  readProcessLog,
  signalProcess,
  startProcess,
  writeProcessInput,
} from "./processes.js";
import { createSandbox, type ForkClone, forkSnapshot } from "./provision.js";
import { detectCrashes, type Recovered, reapExpired, recover } from "./recovery.js";
import { flushGuest, type ReviewDisks, reviewDisks } from "./review-disks.js";
import { deleteSnapshot, restoreSnapshot, takeSnapshot } from "./snapshots.js";
import { type SshAccess, sshAccess } from "./ssh-access.js";
import { Terminals } from "./terminals.js";
import type { CreateInput, ExecInput, ManagerOptions, PoolCreate } from "./types.js";

const liveStates: SandboxState[] = ["CREATING", "RUNNING", "STOPPED"];

/**
 * Sandboxes on this host: QEMU microVMs on copy-on-write overlays. One code path serves both the
 * control-plane stream and the standalone local API. Every side effect is recorded in SQLite
 * before it happens, so a daemon killed at any point can recover running VMs and clean up the rest.
 * Each concern lives in its own module; this class holds their shared state and names the operations.
 */
export class SandboxManager {
  private readonly ctx: SandboxContext;
  private pool: PoolCreate | undefined;
  /** Terminals (PTY sessions) in running sandboxes (see terminals.ts). */
  readonly terminals: Terminals;

  constructor(options: ManagerOptions) {
    this.ctx = sandboxContext(options);
    this.terminals = new Terminals({
      agent: async (id) => {
        await this.ctx.store.running(id);
        return this.ctx.agents.get(id);
      },
      socketPath: async (id, index) => vmPaths((await this.ctx.store.get(id)).dir).terminal(index),
    });
  }

  /** Background processes in running sandboxes (see processes.ts). */
  get processes() {
    const host: ProcessHost = {
      db: this.ctx.options.db,
      agent: async (id) => {
        await this.ctx.store.running(id);
        return this.ctx.agents.get(id);
      },
    };
    return {
      start: (input: Parameters<typeof startProcess>[1]) => startProcess(host, input),
      list: (sandboxId: string, processId?: string) => listProcesses(host, sandboxId, processId),
      readLog: (input: Parameters<typeof readProcessLog>[1]) => readProcessLog(host, input),
      input: (input: Parameters<typeof writeProcessInput>[1]) => writeProcessInput(host, input),
      signal: (input: Parameters<typeof signalProcess>[1]) => signalProcess(host, input),
    };
  }

  get(id: string): Promise<SandboxRow> {
    return this.ctx.store.get(id);
  }

  list(options: { includeEnded?: boolean } = {}): Promise<SandboxRow[]> {
    return this.ctx.store.list(options);
  }

  committedMemoryMb(): Promise<number> {
    return this.ctx.store.committedMemoryMb();
  }

  /** A connected, synced guest agent for a running sandbox (one connection per sandbox, reused). */
  agent(id: string): Promise<GuestAgent> {
    return this.ctx.agents.get(id);
  }

  disks(id: string): Promise<ReviewDisks> {
    return reviewDisks(this.ctx, id);
  }

  flush(id: string): Promise<void> {
    return flushGuest(this.ctx, id);
  }

  /** Set once at startup: creates that match a ready warm pool entry take it instead of booting. */
  usePool(pool: PoolCreate): void {
    this.pool = pool;
  }

  create(input: CreateInput): Promise<SandboxRow> {
    return createSandbox(this.ctx, input, this.pool);
  }

  fork(snapshotId: string, clones: ForkClone[]): Promise<SandboxRow[]> {
    return forkSnapshot(this.ctx, snapshotId, clones);
  }

  claimPooled(entryId: string, input: CreateInput & { id: string }): Promise<SandboxRow> {
    return claimPooled(this.ctx, entryId, input);
  }

  parkPooled(id: string): Promise<void> {
    return parkPooled(this.ctx, id);
  }

  /** Warm pool entries and their templates' snapshots, for the pool to adopt or clean up at startup. */
  pooled(): Promise<{ sandboxes: SandboxRow[]; snapshots: SnapshotRow[] }> {
    return this.ctx.store.pooled();
  }

  destroy(id: string, reason = "user_request"): Promise<void> {
    return destroy(this.ctx, id, reason);
  }

  stop(id: string, force: boolean): Promise<SandboxRow> {
    return stop(this.ctx, id, force);
  }

  start(id: string): Promise<SandboxRow> {
    return start(this.ctx, id);
  }

  extend(id: string, expiresAt: number): Promise<void> {
    return extend(this.ctx, id, expiresAt);
  }

  setEgress(id: string, egress: boolean | readonly string[]): Promise<void> {
    return setEgress(this.ctx, id, egress);
  }

  exec(id: string, input: ExecInput, onOutput?: (stream: OutputStream, data: Buffer) => void): Promise<ExecResult> {
    return exec(this.ctx, id, input, onOutput);
  }

  readFile(id: string, path: string, maxBytes: number): Promise<{ data: Buffer; truncated: boolean }> {
    return readFile(this.ctx, id, path, maxBytes);
  }

  writeFile(id: string, path: string, data: Buffer, mode?: number): Promise<void> {
    return writeFile(this.ctx, id, path, data, mode);
  }

  listFiles(id: string, path: string): Promise<FileEntry[]> {
    return listFiles(this.ctx, id, path);
  }

  sshAccess(id: string, input: { publicKey: string; ttlSeconds: number; requestedBy: string }): Promise<SshAccess> {
    return sshAccess(this.ctx, id, input);
  }

  snapshot(id: string, input: { name: string; includeMemory: boolean }): Promise<SnapshotRow> {
    return takeSnapshot(this.ctx, id, input);
  }

  getSnapshot(snapshotId: string): Promise<SnapshotRow> {
    return this.ctx.store.getSnapshot(snapshotId);
  }

  listSnapshots(sandboxId?: string): Promise<SnapshotRow[]> {
    return this.ctx.store.listSnapshots(sandboxId);
  }

  deleteSnapshot(snapshotId: string): Promise<void> {
    return deleteSnapshot(this.ctx, snapshotId);
  }

  restore(id: string, snapshotId: string): Promise<SandboxRow> {
    return restoreSnapshot(this.ctx, id, snapshotId);
  }

  reapExpired(now = Date.now()): Promise<string[]> {
    return reapExpired(this.ctx, now);
  }

  detectCrashes(): Promise<string[]> {
    return detectCrashes(this.ctx);
  }

  recover(): Promise<Recovered> {
    return recover(this.ctx);
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
    this.ctx.agents.dropAll();
  }
}
