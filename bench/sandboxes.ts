/**
 * Sandbox host benchmarks against SPEC §10, each a ratio against a reference measured in the same run:
 *   cold create through the daemon's API (returns once the guest agent answers: exec-ready)
 *                                                      vs  a bare qemu-system boot of the same image to its agent
 *   cold create of debian-12 booting its own systemd (if that image is built)  vs  a bare boot of it
 *   warm create from the daemon's warm pool (a paused, pre-booted clone claimed, re-identified,
 *       exec-ready; a second daemon started with --warm-pool)  vs  cold create
 *   warm create (fork of a memory snapshot, re-identified, exec-ready)  vs  cold create
 *   fork of 3 (one fork call with count 3, until all three answer exec)  vs  one warm create
 *   exec round trip `true`: REST → server → daemon → guest, and the daemon's local API,
 *       each vs the guest agent directly; and (if the debian-12 image is built) vs a fresh `ssh` per command
 *   overlay create on a 20 GiB base                    vs  on a 1 GiB base
 *   disk snapshot of a 2 GiB overlay                   vs  of a 100 MiB overlay (external qcow2 layer, not a copy)
 *   host overhead per idle sandbox (QEMU RSS outside guest RAM)  vs  the 50 MB target; and its
 *       anonymous part alone (TCG cache, QEMU's heap: no shared page cache)  vs  the same target
 * A row is one entry in ROWS and one `record` call in main.
 * Usage: node --import tsx bench/sandboxes.ts [--image tiny] [--image-dir DIR] [--runs 5]
 * Prints a table and writes bench/results/sandboxes.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { killLeftoverVms, type LocalClient, localClient } from "../e2e/lib/daemon.ts";
import { ImageStore } from "../packages/daemon/src/images/store.ts";
import { type HostMemory, overheadMb, qemuHostMemory } from "../packages/daemon/src/vm/host-memory.ts";
import { bootBareVm } from "./lib/bare-vm.ts";
import { startBenchDaemon } from "./lib/daemon.ts";
import { diskSnapshotMs, overlayCreateMs } from "./lib/disk.ts";
import { destroyAll, execThroughServerMs, freshSshMs } from "./lib/exec-paths.ts";
import { median, time } from "./lib/stats.ts";

const { values } = parseArgs({
  options: {
    image: { type: "string", default: "tiny" },
    "image-dir": { type: "string", default: "/var/lib/fluid/images" },
    runs: { type: "string", default: "5" },
  },
});
const runs = Number(values.runs);
const imageDir = values["image-dir"] as string;
const imageName = values.image as string;
/** Guest size of every sandbox here (the local client's default), so bare boots match daemon creates. */
const MEMORY_MB = 256;
/** Lets a freshly booted guest's start-up work finish before its memory is read as idle. */
const IDLE_SETTLE_MS = 5_000;

interface Result {
  value: number;
  reference: number;
  ratio: number;
  unit: string;
}

const withinTenPercent = (r: Result) => Math.abs(r.ratio - 1) <= 0.1;
const roundTrip = (r: Result) => r.value <= 1.5 * r.reference + 5;

/** SPEC §10's target for each row, in the order rows print. */
const ROWS: Record<string, { target: string; met: (r: Result) => boolean }> = {
  cold_create: { target: "≤ 1.15", met: (r) => r.ratio <= 1.15 },
  cold_create_systemd: { target: "≤ 1.15", met: (r) => r.ratio <= 1.15 },
  warm_create_pool: { target: "≤ 0.2", met: (r) => r.ratio <= 0.2 },
  warm_create: { target: "≤ 0.2", met: (r) => r.ratio <= 0.2 },
  fork_3: { target: "≤ 1.5", met: (r) => r.ratio <= 1.5 },
  exec_rest_server_daemon: { target: "≤ 1.5 (+5 ms)", met: roundTrip },
  exec_vs_fresh_ssh: { target: "≤ 0.05", met: (r) => r.ratio <= 0.05 },
  exec_roundtrip: { target: "≤ 1.5 (+5 ms)", met: roundTrip },
  overlay_create: { target: "within 10%", met: withinTenPercent },
  disk_snapshot: { target: "within 10%", met: withinTenPercent },
  host_overhead_idle: { target: "≤ 50 MB", met: (r) => r.value <= 50 },
  host_overhead_idle_anonymous: { target: "≤ 50 MB", met: (r) => r.value <= 50 },
};

const results: Record<string, Result> = {};
const record = (row: keyof typeof ROWS, value: number, reference: number, unit = "ms") => {
  results[row] = { value, reference, ratio: value / reference, unit };
};

async function createOrThrow(api: LocalClient, image = imageName, memoryMb = MEMORY_MB): Promise<string> {
  const created = await api.create({ image, memory_mb: memoryMb });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body.id;
}

async function forkOrThrow(api: LocalClient, snapshotId: string, count: number): Promise<string[]> {
  const forked = await api.call("POST", `/v1/snapshots/${snapshotId}/fork`, { count });
  if (forked.status !== 201) throw new Error(JSON.stringify(forked.body));
  return forked.body.sandboxes.map((sandbox: { id: string }) => sandbox.id);
}

const startDaemon = (stateDir: string, ...extra: string[]) =>
  startBenchDaemon(stateDir, imageDir, ["--network", "user", ...extra]);

/** Waits until the daemon's warm pool holds an entry for every slot (a refill follows each claim). */
async function untilPoolFull(api: LocalClient): Promise<void> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const status = await api.call("GET", "/v1/warm-pool");
    const pools: Array<{ size: number; ready: number }> = status.body?.pools ?? [];
    if (pools.length > 0 && pools.every((pool) => pool.ready >= pool.size)) return;
    if (Date.now() > deadline) throw new Error(`warm pool not full in time: ${JSON.stringify(status.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Creates through a daemon that keeps a warm pool of one entry of this shape, each once the pool has
 * refilled, so every sample is a claim (not a cold boot behind an empty pool).
 */
async function warmPoolCreateMs(scratch: string): Promise<number[]> {
  const stateDir = join(scratch, "pool-state");
  const daemon = await startDaemon(stateDir, "--warm-pool", `${imageName}=1:1x${MEMORY_MB}`);
  const api = localClient(join(stateDir, "daemon.sock"));
  const samples: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      await untilPoolFull(api);
      let id = "";
      samples.push(await time(async () => (id = await createOrThrow(api))));
      await api.call("DELETE", `/v1/sandboxes/${id}`);
    }
  } finally {
    await destroyAll(api);
    await daemon.stop();
    await killLeftoverVms(stateDir);
  }
  return samples;
}

/** debian-12 runs its own systemd; a Debian userland wants more than the tiny image's 256 MiB. */
const SYSTEMD_IMAGE = "debian-12";
const SYSTEMD_MEMORY_MB = 512;

/**
 * Cold creates of the systemd image alternated with bare boots of it (same kernel command line,
 * so systemd is PID 1 in both); undefined when that image is not built or boots fast.
 */
async function systemdColdCreate(
  api: LocalClient,
  bareDir: string,
): Promise<{ cold: number[]; bare: number[] } | undefined> {
  const image = await new ImageStore(imageDir).get(SYSTEMD_IMAGE).catch(() => undefined);
  if (image?.manifest.boot !== "systemd") return undefined;
  const bare: number[] = [];
  const cold: number[] = [];
  for (let i = 0; i < runs; i++) {
    const vm = await bootBareVm({
      imageDir,
      image: SYSTEMD_IMAGE,
      dir: bareDir,
      name: `bare-sd-${i}`,
      memoryMb: SYSTEMD_MEMORY_MB,
    });
    bare.push(vm.bootMs);
    await vm.stop();
    let id = "";
    cold.push(await time(async () => (id = await createOrThrow(api, SYSTEMD_IMAGE, SYSTEMD_MEMORY_MB))));
    await api.call("DELETE", `/v1/sandboxes/${id}`);
  }
  return { cold, bare };
}

async function main() {
  const scratch = await mkdtemp(join(tmpdir(), "fluid-bench-"));
  const stateDir = join(scratch, "state");
  const bareDir = join(scratch, "bare");
  const daemon = await startDaemon(stateDir);
  const api = localClient(join(stateDir, "daemon.sock"));
  const idleMemory: HostMemory[] = [];
  try {
    // Bare boots and daemon creates alternate, so load drift on the machine hits both alike. Each
    // bare VM is gone before the daemon's create starts, so neither competes with the other.
    const bare: number[] = [];
    const cold: number[] = [];
    const coldIds: string[] = [];
    for (let i = 0; i < runs; i++) {
      const vm = await bootBareVm({ imageDir, image: imageName, dir: bareDir, name: `bare-${i}`, memoryMb: MEMORY_MB });
      bare.push(vm.bootMs);
      await vm.stop();
      cold.push(await time(async () => coldIds.push(await createOrThrow(api))));
    }
    record("cold_create", median(cold), median(bare));

    // All cold-created sandboxes are up at once, as on a host running several: PSS then splits
    // the image's kernel and initramfs pages among them.
    await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
    const image = await new ImageStore(imageDir).get(imageName);
    for (const id of coldIds) {
      const row = await api.call("GET", `/v1/sandboxes/${id}`);
      idleMemory.push(await qemuHostMemory(row.body.pid, row.body.memory_mb, [image.kernel, image.initrd]));
    }
    record("host_overhead_idle", median(idleMemory.map((m) => overheadMb(m).rss)), 50, "MB");
    record("host_overhead_idle_anonymous", median(idleMemory.map((m) => overheadMb(m).anonymous)), 50, "MB");

    const base = coldIds[0] as string;
    const snapshot = await api.call("POST", `/v1/sandboxes/${base}/snapshots`, { name: "warm", include_memory: true });
    const warm: number[] = [];
    const forkOfThree: number[] = [];
    // Clones go as soon as they are measured: idle TCG guests still take CPU from the next sample.
    const destroy = (ids: string[]) => Promise.all(ids.map((id) => api.call("DELETE", `/v1/sandboxes/${id}`)));
    for (let i = 0; i < runs; i++) {
      let ids: string[] = [];
      warm.push(await time(async () => (ids = await forkOrThrow(api, snapshot.body.id, 1))));
      await destroy(ids);
      forkOfThree.push(
        await time(async () => {
          ids = await forkOrThrow(api, snapshot.body.id, 3);
          await Promise.all(ids.map((id) => api.run(id, "true")));
        }),
      );
      await destroy(ids);
    }
    record("warm_create", median(warm), median(cold));
    record("warm_create_pool", median(await warmPoolCreateMs(scratch)), median(cold));
    const systemd = await systemdColdCreate(api, bareDir);
    if (systemd) record("cold_create_systemd", median(systemd.cold), median(systemd.bare));
    record("fork_3", median(forkOfThree), median(warm));

    const vm = await bootBareVm({ imageDir, image: imageName, dir: bareDir, name: "bare-exec", memoryMb: MEMORY_MB });
    const exec = () => vm.agent.exec({ command: "true", timeoutMs: 10_000, maxOutputBytes: 1024 });
    const direct: number[] = [];
    const viaDaemon: number[] = [];
    for (let i = 0; i < 5; i++) {
      await exec();
      await api.run(base, "true");
    }
    for (let i = 0; i < runs * 10; i++) {
      direct.push(await time(exec));
      viaDaemon.push(await time(() => api.run(base, "true")));
    }
    await vm.stop();
    const viaServer = median(await execThroughServerMs(imageDir, imageName, runs * 10));
    record("exec_rest_server_daemon", viaServer, median(direct));
    const ssh = await freshSshMs(imageDir, runs);
    if (ssh !== undefined) record("exec_vs_fresh_ssh", viaServer, ssh);
    record("exec_roundtrip", median(viaDaemon), median(direct));

    const overlay = await overlayCreateMs(scratch, runs * 4);
    record("overlay_create", median(overlay["20G"]), median(overlay["1G"]));
    const seal = await diskSnapshotMs(scratch, runs * 4);
    record("disk_snapshot", median(seal["2G"]), median(seal["100M"]));
  } finally {
    await destroyAll(api);
    await daemon.stop();
    await killLeftoverVms(stateDir);
    await killLeftoverVms(bareDir);
    await rm(scratch, { recursive: true, force: true });
  }

  console.log(`image ${imageName}, ${runs} runs, medians`);
  console.log("metric                             value       reference   ratio  target          met");
  for (const [name, row] of Object.entries(ROWS)) {
    const r = results[name];
    if (!r) continue;
    const cells = [
      name.padEnd(29),
      `${r.value.toFixed(1)} ${r.unit}`.padStart(10),
      `${r.reference.toFixed(1)} ${r.unit}`.padStart(14),
      r.ratio.toFixed(3).padStart(7),
    ];
    console.log(`${cells.join("  ")}  ${row.target.padEnd(14)}  ${row.met(r) ? "yes" : "NO"}`);
  }
  const part = (pick: (m: HostMemory) => number) => median(idleMemory.map(pick)).toFixed(1);
  console.log(
    `host overhead per idle sandbox (RSS, MB): ${part((m) => m.tcgCache.rssKb / 1024)} TCG translation cache, ` +
      `${part((m) => m.bootFiles.rssKb / 1024)} kernel and initramfs (shared page cache), ` +
      `${part((m) => m.code.rssKb / 1024)} QEMU and libraries (shared), ${part((m) => m.qemuPrivate.rssKb / 1024)} QEMU heap and other; ` +
      `by PSS with ${idleMemory.length} sandboxes up: ${part((m) => overheadMb(m).pss)} MB; guest RAM resident ${part((m) => m.guestRam.rssKb / 1024)} MB`,
  );
  await mkdir("bench/results", { recursive: true });
  await writeFile(
    "bench/results/sandboxes.json",
    `${JSON.stringify({ measuredAt: new Date().toISOString(), image: imageName, runs, results, idleMemory }, null, 2)}\n`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
