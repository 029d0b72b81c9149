/**
 * How a sandbox's guest starts (docs/guest-images.md, "Boot modes"): `systemd` runs the VM's own
 * systemd as PID 1 with fluid's pieces as units; `fast` runs fluid's busybox init, which starts
 * only fluid's pieces and boots in a fraction of the time.
 */
export const BOOT_MODES = ["systemd", "fast"] as const;
export type BootMode = (typeof BOOT_MODES)[number];

export function parseBootMode(value: string): BootMode {
  const mode = BOOT_MODES.find((known) => known === value);
  if (!mode) throw new Error(`invalid boot mode ${JSON.stringify(value)} (use ${BOOT_MODES.join(" or ")})`);
  return mode;
}

/**
 * Kernel parameters for a boot mode. The initramfs's /init reads fluid.boot to choose the init it
 * hands over to. Under systemd, udev would rename eth0 on q35 (enp0s…); net.ifnames=0 keeps the
 * name that fluid.net and a restored clone's re-identification configure.
 */
export function bootParams(mode: BootMode): string[] {
  switch (mode) {
    case "systemd":
      return ["fluid.boot=systemd", "net.ifnames=0"];
    case "fast":
      return [];
  }
}
