/**
 * What an idle VM costs the host, and what cutting it costs the guest, for TCG translation cache
 * sizes side by side: per size, bare QEMU boots of one image (as bench/sandboxes.ts's reference)
 * measured for
 *   boot to agent; host memory by mapping kind (PSS/RSS from /proc/<pid>/smaps) once idle;
 *   a CPU-bound shell loop and a code-heavy command mix through the guest agent.
 * Sizes alternate within each run, so load drift on the machine hits all alike.
 * Usage: node --import tsx bench/vm-overhead.ts [--image tiny] [--image-dir DIR] [--memory 512]
 *        [--tcg-cache 8,16,32,64] [--runs 3]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { killLeftoverVms } from "../e2e/lib/daemon.ts";
import { type HostMemory, overheadMb, qemuHostMemory } from "../packages/daemon/src/vm/host-memory.ts";
import { bootBareVm } from "./lib/bare-vm.ts";
import { median, time } from "./lib/stats.ts";

const { values } = parseArgs({
  options: {
    image: { type: "string", default: "tiny" },
    "image-dir": { type: "string", default: "/var/lib/fluid/images" },
    memory: { type: "string", default: "512" },
    "tcg-cache": { type: "string", default: "8,16,32,64" },
    runs: { type: "string", default: "3" },
  },
});
const memoryMb = Number(values.memory);
const sizes = (values["tcg-cache"] as string).split(",").map(Number);

/** Small code footprint: raw TCG speed, barely touched by the cache size. */
const LOOP = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done";
/** Many kernel paths and programs: what re-translation after a cache flush slows down. */
const MIX =
  "for n in 1 2 3; do find / -xdev >/dev/null 2>&1; dd if=/dev/zero bs=64k count=64 2>/dev/null | gzip | md5sum >/dev/null; ps >/dev/null; done";
/** Lets the guest's boot-time work (module loading, first services) finish before memory is read. */
const SETTLE_MS = 5_000;

interface Sample {
  bootMs: number;
  memory: HostMemory;
  loopMs: number;
  mixMs: number;
}

async function measure(scratch: string, tcgCacheMb: number, name: string): Promise<Sample> {
  const vm = await bootBareVm({
    imageDir: values["image-dir"] as string,
    image: values.image as string,
    dir: scratch,
    name,
    memoryMb,
    tcgCacheMb,
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const memory = await qemuHostMemory(vm.pid, memoryMb, vm.bootFiles);
    const exec = (command: string) => vm.agent.exec({ command, timeoutMs: 600_000, maxOutputBytes: 1024 });
    const loopMs = await time(() => exec(LOOP));
    const mixMs = await time(() => exec(MIX));
    return { bootMs: vm.bootMs, memory, loopMs, mixMs };
  } finally {
    await vm.stop();
  }
}

async function main() {
  const scratch = await mkdtemp(join(tmpdir(), "fluid-bench-overhead-"));
  const samples = new Map<number, Sample[]>(sizes.map((size) => [size, []]));
  try {
    for (let run = 0; run < Number(values.runs); run++) {
      for (const size of sizes) samples.get(size)?.push(await measure(scratch, size, `tb${size}-${run}`));
    }
  } finally {
    await killLeftoverVms(scratch);
    await rm(scratch, { recursive: true, force: true });
  }
  const mb = (kb: number) => (kb / 1024).toFixed(1);
  console.log(`image ${values.image}, ${memoryMb} MiB guest, ${values.runs} runs, medians`);
  console.log(
    "tb-size  overhead RSS  overhead PSS  tcg RSS  boot files RSS  qemu private  guest RAM RSS  boot s  loop s  mix s",
  );
  for (const [size, runs] of samples) {
    const m = (pick: (s: Sample) => number) => median(runs.map(pick));
    const cells = [
      `${size} MiB`.padEnd(7),
      `${m((s) => overheadMb(s.memory).rss).toFixed(1)} MB`.padStart(12),
      `${m((s) => overheadMb(s.memory).pss).toFixed(1)} MB`.padStart(12),
      mb(m((s) => s.memory.tcgCache.rssKb)).padStart(7),
      mb(m((s) => s.memory.bootFiles.rssKb)).padStart(14),
      mb(m((s) => s.memory.qemuPrivate.rssKb)).padStart(12),
      mb(m((s) => s.memory.guestRam.rssKb)).padStart(13),
      (m((s) => s.bootMs) / 1000).toFixed(2).padStart(6),
      (m((s) => s.loopMs) / 1000).toFixed(2).padStart(6),
      (m((s) => s.mixMs) / 1000).toFixed(2).padStart(5),
    ];
    console.log(cells.join("  "));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
