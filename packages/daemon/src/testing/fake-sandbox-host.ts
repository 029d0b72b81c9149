import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { ExecResult, GuestAgent } from "../agent/client.js";
import type { ResolvedImage } from "../images/source.js";
import { GuestAgents } from "../sandboxes/agents.js";
import { type SandboxContext, sandboxContext } from "../sandboxes/context.js";
import type { NetAttachment } from "../sandboxes/ports.js";
import type { SandboxEvent } from "../sandboxes/types.js";
import type { VmControl } from "../sandboxes/vm-control.js";
import { openDaemonDatabase } from "../state/database.js";
import type { SandboxRow, SnapshotRow } from "../state/schema.js";
import type { QmpClient } from "../vm/qmp.js";

export const exited = (exitCode: number, stdout = "", stderr = ""): ExecResult => ({
  exitCode,
  stdout: Buffer.from(stdout),
  stderr: Buffer.from(stderr),
  stdoutTruncated: false,
  stderrTruncated: false,
  timedOut: false,
  durationMs: 1,
});

/** A guest agent over an in-memory file system that records what it was asked; `answer` runs its processes. */
export function fakeAgent() {
  const calls: string[] = [];
  const files = new Map<string, Buffer>();
  const fake = { answer: (_argv: string[]): ExecResult => exited(0) };
  const agent = {
    async exec(request: { command: string; timeoutMs: number; maxOutputBytes: number }) {
      calls.push(`exec ${request.command} (${request.timeoutMs} ms, ${request.maxOutputBytes} B)`);
      return fake.answer(["sh", "-c", request.command]);
    },
    async execArgv(argv: string[]) {
      calls.push(argv.join(" "));
      return fake.answer(argv);
    },
    async exists(path: string) {
      return files.has(path);
    },
    async writeFile(path: string, data: Buffer) {
      calls.push(`write ${path}`);
      files.set(path, Buffer.from(data));
    },
    async readFile(path: string, maxBytes: number) {
      const data = files.get(path);
      if (!data) throw new Error(`no ${path}`);
      return { data: data.subarray(0, maxBytes), truncated: data.length > maxBytes };
    },
    shutdown() {
      calls.push("shutdown");
    },
    close() {
      calls.push("close");
    },
  };
  return Object.assign(fake, { agent: agent as unknown as GuestAgent, calls, files });
}

/** QEMU stand-in: VMs in `alive` are running; every call is recorded. */
export function fakeVms() {
  const calls: string[] = [];
  const alive = new Set<number>();
  const pids = new Map<string, number>();
  const exitsOnShutdown = { value: true };
  const vm: VmControl = {
    async launch(spec) {
      calls.push(`launch ${spec.dir}`);
      return 4242;
    },
    async kill(pid) {
      calls.push(`kill ${pid}`);
      alive.delete(pid);
    },
    async isOurs(pid) {
      return alive.has(pid);
    },
    async pidOf(dir) {
      return pids.get(dir);
    },
    async waitForExit(pid) {
      calls.push(`wait ${pid}`);
      return exitsOnShutdown.value;
    },
    async qmp() {
      return {
        execute: async (command: string) => {
          calls.push(`qmp ${command}`);
          return {};
        },
        close: () => undefined,
      } as unknown as QmpClient;
    },
  };
  return { vm, calls, alive, pids, exitsOnShutdown };
}

export const userNet: NetAttachment = { mode: "user", mac: "52:54:00:00:00:01", qemuArgs: [] };

/** A sandbox context on an in-memory database, a scratch state dir and fakes for QEMU, network and agent. */
export async function fakeSandboxHost(options: { sshd?: boolean; allocatableMemoryMb?: number } = {}) {
  const database = await openDaemonDatabase(":memory:");
  const stateDir = await mkdtemp(join(tmpdir(), "fluid-sandboxes-"));
  const vms = fakeVms();
  const guest = fakeAgent();
  const network: string[] = [];
  /** The egress each sandbox was last attached (or rekeyed) with. */
  const attachedEgress = new Map<string, boolean | readonly string[]>();
  const events: SandboxEvent[] = [];
  const image: ResolvedImage = {
    name: "debian",
    kernel: "/k",
    disk: "/images/debian.qcow2",
    sshd: options.sshd ?? false,
  };
  const ctx: SandboxContext = sandboxContext({
    db: database.db,
    images: {
      resolve: async (name) => {
        if (name !== "debian") throw new Error(`no image ${name}`);
        return image;
      },
      names: async () => ["debian"],
    },
    network: {
      attach: async (id, { egress }) => {
        network.push(`attach ${id}`);
        attachedEgress.set(id, egress);
        return userNet;
      },
      detach: async (id) => {
        network.push(`detach ${id}`);
      },
      setEgress: async (id, allowed) => {
        network.push(`egress ${id} ${allowed}`);
      },
      rekey: async (from, to, { egress }) => {
        network.push(`rekey ${from} ${to}`);
        attachedEgress.set(to, egress);
        return { ...userNet, tap: "tap9" };
      },
      cleanupOrphans: async (live) => {
        network.push(`cleanup ${[...live].join(",")}`);
      },
    },
    log: pino({ level: "silent" }),
    stateDir,
    accel: "kvm",
    tscKhz: undefined,
    allocatableMemoryMb: options.allocatableMemoryMb ?? 4096,
    vm: vms.vm,
    onEvent: (event) => events.push(event),
  });
  ctx.agents = new GuestAgents(async () => guest.agent);
  const insert = async (values: Partial<SandboxRow> & { id: string }): Promise<SandboxRow> => {
    const row: SandboxRow = {
      name: `sbx-${values.id}`,
      image: "debian",
      state: "RUNNING",
      vcpus: 1,
      memory_mb: 512,
      allow_egress: 0,
      egress_allow: null,
      dir: join(stateDir, "sandboxes", values.id),
      pid: null,
      ip: "10.0.0.2",
      mac: userNet.mac,
      tap: null,
      network: JSON.stringify(userNet),
      agent_id: null,
      pooled: 0,
      created_at: 1,
      updated_at: 1,
      expires_at: null,
      ended_at: null,
      end_reason: null,
      error: null,
      ...values,
    };
    await ctx.store.insert(row);
    return row;
  };
  /** A snapshot row of `sandbox_id`, with its directory made under the state dir as a real one has. */
  const insertSnapshot = async (values: Partial<SnapshotRow> & { id: string; sandbox_id: string }) => {
    const snapshot: SnapshotRow = {
      name: values.id,
      dir: join(stateDir, "snapshots", values.id),
      image: "debian",
      vcpus: 1,
      memory_mb: 512,
      has_memory: 0,
      size_bytes: 0,
      created_at: 1,
      ...values,
    };
    await mkdir(snapshot.dir, { recursive: true });
    await ctx.store.insertSnapshot(snapshot);
    return snapshot;
  };
  const close = async () => {
    await database.close();
    await rm(stateDir, { recursive: true, force: true });
  };
  return { ctx, vms, guest, network, attachedEgress, events, stateDir, insert, insertSnapshot, close };
}
