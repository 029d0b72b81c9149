/**
 * Semantic diff of a running and then a stopped `debian-12` sandbox, each a ratio against what merely
 * reading its disks costs, measured in the same run:
 *   (a) diff of the running sandbox (flush, ports through the agent, both roots mounted and read)
 *                                                  vs  `find` listing both mounted roots (base + overlay)
 *   (b) diff of the stopped sandbox                vs  the same reference
 * and the absolute time against issue 10's target of ~30 s on this machine.
 * Usage: node --import tsx bench/diff.ts [--image-dir DIR] [--runs 3]   (root, /dev/fuse, debian-12 built)
 * Prints a table and writes bench/results/diff.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { killLeftoverVms, localClient } from "../e2e/lib/daemon.ts";
import { ImageStore } from "../packages/daemon/src/images/store.ts";
import { withReadOnlyRoot } from "../packages/daemon/src/review/disk-view.ts";
import { runChecked } from "../packages/daemon/src/system/run.ts";
import { startBenchDaemon } from "./lib/daemon.ts";

const { values } = parseArgs({
  options: {
    "image-dir": { type: "string", default: "/var/lib/fluid/images" },
    runs: { type: "string", default: "3" },
  },
});
const runs = Number(values.runs);
const imageDir = values["image-dir"] as string;
const TARGET_MS = 30_000;

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const time = async (fn: () => Promise<unknown>) => {
  const started = performance.now();
  await fn();
  return performance.now() - started;
};

/** The changes an agent typically makes: a config file, a user, a cron entry, a sysctl file, a listener. */
const CHANGES = [
  "printf 'listen 8080\\n' > /etc/app.conf",
  "useradd -m deploy",
  "printf '0 3 * * * root /usr/local/bin/backup\\n' > /etc/cron.d/backup",
  "printf 'net.ipv4.ip_forward = 1\\n' > /etc/sysctl.d/60-forward.conf",
  "nohup python3 -m http.server 8080 --bind 127.0.0.1 >/dev/null 2>&1 &",
].join(" && ");

async function main() {
  const image = await new ImageStore(imageDir).get("debian-12");
  const scratch = await mkdtemp(join(tmpdir(), "fluid-bench-diff-"));
  const stateDir = join(scratch, "state");
  const daemon = await startBenchDaemon(stateDir, imageDir);
  const api = localClient(join(stateDir, "daemon.sock"));
  try {
    const created = await api.create({ image: "debian-12", memory_mb: 512 });
    if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
    const id = created.body.id as string;
    const changed = await api.run(id, CHANGES, { timeout_seconds: 120 });
    if (changed.body.exit_code !== 0) throw new Error(`changes: ${JSON.stringify(changed.body)}`);
    // The listener needs a moment to bind; the diff must see it.
    await api.run(id, "for i in $(seq 50); do grep -q ':1F90 ' /proc/net/tcp && exit 0; sleep 0.2; done; exit 1");
    const overlay = join(stateDir, "sandboxes", id, "disk.qcow2");
    const listBoth = () =>
      withReadOnlyRoot(
        image.disk,
        (base) =>
          withReadOnlyRoot(
            overlay,
            (sandbox) => runChecked(["find", base, sandbox, "-xdev"], { maxOutputBytes: 64 * 1024 * 1024 }),
            { rootDevice: image.rootDevice },
          ),
        { rootDevice: image.rootDevice },
      );
    const diffOnce = async () => {
      const response = await api.call("GET", `/v1/sandboxes/${id}/diff`);
      if (response.status !== 200) throw new Error(`diff: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body as { summary: { total: number; by_kind: Record<string, number> } };
    };
    const sample = async () => {
      const reference: number[] = [];
      const diff: number[] = [];
      let summary: unknown;
      // Reference and diff alternate, so load drift on the shared machine hits both alike.
      for (let i = 0; i < runs; i++) {
        reference.push(await time(listBoth));
        diff.push(
          await time(async () => {
            summary = (await diffOnce()).summary;
          }),
        );
      }
      return { reference: median(reference), diff: median(diff), summary };
    };
    const running = await sample();
    const stopped = await api.call("POST", `/v1/sandboxes/${id}/stop`, {});
    if (stopped.status !== 200) throw new Error(`stop: ${stopped.status} ${JSON.stringify(stopped.body)}`);
    const atRest = await sample();
    const results = {
      diff_running: { value: running.diff, reference: running.reference, ratio: running.diff / running.reference },
      diff_stopped: { value: atRest.diff, reference: atRest.reference, ratio: atRest.diff / atRest.reference },
    };
    console.log("metric          diff (ms)   find both roots (ms)   ratio   vs 30 s target");
    for (const [name, r] of Object.entries(results)) {
      const cells = [name.padEnd(14), r.value.toFixed(0).padStart(9), r.reference.toFixed(0).padStart(20)];
      console.log(`${cells.join("  ")}  ${r.ratio.toFixed(2).padStart(6)}   ${(r.value / TARGET_MS).toFixed(2)}`);
    }
    console.log(`running: ${JSON.stringify(running.summary)}`);
    console.log(`stopped: ${JSON.stringify(atRest.summary)}`);
    await mkdir("bench/results", { recursive: true });
    await writeFile(
      "bench/results/diff.json",
      `${JSON.stringify({ measuredAt: new Date().toISOString(), runs, results, running, stopped: atRest }, null, 2)}\n`,
    );
    await api.call("DELETE", `/v1/sandboxes/${id}`);
  } finally {
    await killLeftoverVms(stateDir);
    await daemon.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
