import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { GuestAgent } from "../../packages/daemon/src/agent/client.ts";
import { ImageStore } from "../../packages/daemon/src/images/store.ts";
import { runChecked } from "../../packages/daemon/src/system/run.ts";
import { decideAccel, tscKhz } from "../../packages/daemon/src/vm/accel.ts";
import { kernelCmdline } from "../../packages/daemon/src/vm/kernel-cmdline.ts";
import { killVm, launchVm, vmPaths } from "../../packages/daemon/src/vm/qemu.ts";

export interface BareVmOptions {
  imageDir: string;
  image: string;
  /** Parent directory; the VM gets `<dir>/sandboxes/<name>` (killLeftoverVms(dir) finds it). */
  dir: string;
  name: string;
  memoryMb: number;
  tcgCacheMb?: number;
}

export interface BareVm {
  /** Overlay create + QEMU start until the guest agent answers. */
  bootMs: number;
  pid: number;
  agent: GuestAgent;
  /** Files QEMU booted from, to tell their mappings apart in its smaps. */
  bootFiles: string[];
  stop: () => Promise<void>;
}

/**
 * Boots an image with plain QEMU (same kernel, cmdline and overlay as the daemon's) until its agent
 * answers; the reference for the daemon's own create. The VM stays up so its agent and its memory
 * can be measured directly: QEMU's chardev socket takes one client, so the daemon's VMs cannot be
 * shared with a benchmark.
 */
export async function bootBareVm(options: BareVmOptions): Promise<BareVm> {
  const image = await new ImageStore(options.imageDir).get(options.image);
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8");
  const accel = (await decideAccel("auto", cpuinfo)).accel;
  const khz = tscKhz(cpuinfo);
  const dir = join(options.dir, "sandboxes", options.name);
  await mkdir(dir, { recursive: true });
  const started = performance.now();
  await runChecked([
    "qemu-img",
    "create",
    "-q",
    "-f",
    "qcow2",
    "-F",
    "qcow2",
    "-b",
    image.disk,
    join(dir, "disk.qcow2"),
  ]);
  const pid = await launchVm({
    dir,
    kernel: image.kernel,
    initrd: image.initrd,
    disk: join(dir, "disk.qcow2"),
    memoryMb: options.memoryMb,
    vcpus: 1,
    accel,
    tcgCacheMb: options.tcgCacheMb,
    machine: "microvm",
    cmdline: kernelCmdline({
      rootDevice: image.manifest.rootDevice,
      boot: image.manifest.boot,
      tscKhz: accel === "tcg" ? khz : undefined,
      identity: [`fluid.hostname=${options.name}`],
    }),
    netArgs: ["-netdev", "user,id=net0,restrict=on", "-device", "virtio-net-device,netdev=net0"],
  });
  const agent = await GuestAgent.connect(vmPaths(dir).agent, 180_000);
  await settledPing(agent);
  return {
    bootMs: performance.now() - started,
    pid,
    agent,
    bootFiles: [image.kernel, image.initrd],
    stop: async () => {
      agent.close();
      await killVm(pid, dir);
    },
  };
}

/**
 * A boot slower than the agent's sync interval leaves earlier sync requests queued in the guest;
 * their late answers (or an agent's complaint about their delimiter byte) reach the next request.
 * Pinging until one clean answer arrives drains them.
 */
async function settledPing(agent: GuestAgent): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await agent.ping();
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}
