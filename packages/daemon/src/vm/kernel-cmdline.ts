import { type BootMode, bootParams } from "./boot-mode.js";

export interface KernelCmdlineInput {
  /** The guest's root filesystem device: /dev/vda, or /dev/vdaN on a partitioned pulled disk. */
  rootDevice: string;
  boot: BootMode;
  /** The host TSC frequency, given to TCG guests so they skip calibrating it. */
  tscKhz?: number | undefined;
  /** fluid.* parameters the guest's /fluid/boot applies (identityParams). */
  identity: readonly string[];
}

/** One parameter, nothing the kernel would split or a guest script would take for more. */
const safeParam = /^[A-Za-z0-9_.,:=/-]+$/;

/** The kernel command line of a sandbox (docs/guest-images.md, "Kernel command line"). */
export function kernelCmdline(input: KernelCmdlineInput): string {
  if (!/^\/dev\/vda\d*$/.test(input.rootDevice)) throw new Error(`invalid root device ${input.rootDevice}`);
  const params = [
    "console=ttyS0",
    "panic=-1",
    "quiet",
    "mitigations=off",
    "init_on_alloc=0",
    ...(input.tscKhz ? [`tsc_early_khz=${Math.round(input.tscKhz)}`] : []),
    `root=${input.rootDevice}`,
    "rw",
    "rootfstype=ext4",
    ...bootParams(input.boot),
    ...input.identity,
  ];
  const bad = params.find((param) => !safeParam.test(param));
  if (bad !== undefined) throw new Error(`invalid kernel parameter ${JSON.stringify(bad)}`);
  return params.join(" ");
}
