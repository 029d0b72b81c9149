import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BootMode } from "../vm/boot-mode.js";

/** packages/daemon/guest: the same relative location from src/images (tests) and dist/images (built). */
export const guestDir = fileURLToPath(new URL("../../guest/", import.meta.url));

/** A reviewable file from packages/daemon/guest/<source>, installed at <target> with <mode>. */
export interface GuestFile {
  source: string;
  target: string;
  mode: number;
}

/** busybox userland plus the QEMU guest agent binary and the shared libraries it needs. */
export interface BusyboxBase {
  kind: "busybox";
  /** The Debian package whose /usr/sbin/qemu-ga is copied in (downloaded, never installed on the host). */
  agentPackage: string;
}

export interface DebootstrapBase {
  kind: "debootstrap";
  suite: string;
  variant: string;
  include: readonly string[];
}

export interface Recipe {
  name: string;
  description: string;
  /** The Debian meta package that names the current kernel (its versioned dependency is used). */
  kernelPackage: string;
  /** Loaded by the initramfs in this order, each after its modules.dep dependencies. */
  initramfsModules: readonly string[];
  initramfsFiles: readonly GuestFile[];
  base: BusyboxBase | DebootstrapBase;
  rootfsFiles: readonly GuestFile[];
  /** ext4 size in mkfs.ext4 syntax; the file is sparse and the qcow2 only holds what is used. */
  diskSize: string;
  sshd: boolean;
  /** How its sandboxes boot; only a recipe whose rootfs has systemd can say "systemd". */
  boot: BootMode;
}

/**
 * The Debian kernel builds these as modules: the virtio transports for microvm (mmio) and q35
 * (pci), the block, console and net drivers, and ext4. crc32c_generic is named
 * because ext4 needs a crc32c through the crypto API, not as a symbol dependency, and the
 * accelerated crc32c-intel does not load on TCG's CPU model.
 */
const initramfsModules = [
  "virtio_mmio",
  "virtio_pci",
  "virtio_blk",
  "virtio_console",
  "virtio_net",
  "crc32c_generic",
  "ext4",
] as const;

const initramfsFiles: GuestFile[] = [{ source: "initramfs/init", target: "/init", mode: 0o755 }];

const fluidFiles: GuestFile[] = [
  { source: "rootfs/fluid/boot", target: "/fluid/boot", mode: 0o755 },
  { source: "rootfs/fluid/agent", target: "/fluid/agent", mode: 0o755 },
  { source: "rootfs/fluid/sshd", target: "/fluid/sshd", mode: 0o755 },
  { source: "rootfs/fluid/halt", target: "/fluid/halt", mode: 0o755 },
  { source: "rootfs/fluid/dhcp", target: "/fluid/dhcp", mode: 0o755 },
  { source: "rootfs/fluid/shutdown", target: "/fluid/shutdown", mode: 0o755 },
  { source: "rootfs/fluid/machine-id", target: "/fluid/machine-id", mode: 0o755 },
  { source: "rootfs/etc/inittab", target: "/etc/inittab", mode: 0o644 },
  { source: "rootfs/etc/hostname", target: "/etc/hostname", mode: 0o644 },
  { source: "rootfs/etc/hosts", target: "/etc/hosts", mode: 0o644 },
  { source: "rootfs/etc/resolv.conf", target: "/etc/resolv.conf", mode: 0o644 },
];

/**
 * What a rootfs with systemd needs to boot as a sandbox under it: /fluid/start-systemd (PID 1 until
 * systemd), fluid's units and the generator that adds them at boot (linked from
 * /etc/systemd/system-generators by installFluid).
 */
export const systemdGenerator = { target: "/fluid/systemd/generator", link: "/etc/systemd/system-generators/fluid" };

export const systemdFiles: GuestFile[] = [
  { source: "rootfs/fluid/start-systemd", target: "/fluid/start-systemd", mode: 0o755 },
  { source: "rootfs/systemd/generator", target: systemdGenerator.target, mode: 0o755 },
  { source: "rootfs/systemd/fluid-boot.service", target: "/fluid/systemd/fluid-boot.service", mode: 0o644 },
  { source: "rootfs/systemd/fluid-agent.service", target: "/fluid/systemd/fluid-agent.service", mode: 0o644 },
  { source: "rootfs/systemd/fluid-sshd.service", target: "/fluid/systemd/fluid-sshd.service", mode: 0o644 },
];

export const recipes: Readonly<Record<string, Recipe>> = {
  tiny: {
    name: "tiny",
    description: "busybox userland and qemu-ga; boots in seconds; for fast tests",
    kernelPackage: "linux-image-amd64",
    initramfsModules,
    initramfsFiles,
    base: { kind: "busybox", agentPackage: "qemu-guest-agent" },
    rootfsFiles: [
      ...fluidFiles,
      { source: "tiny/etc/passwd", target: "/etc/passwd", mode: 0o644 },
      { source: "tiny/etc/group", target: "/etc/group", mode: 0o644 },
    ],
    diskSize: "256M",
    sshd: false,
    boot: "fast",
  },
  "debian-12": {
    name: "debian-12",
    description: "Debian 12 minbase with OpenSSH, qemu-ga and python3 (configurable by Ansible)",
    kernelPackage: "linux-image-amd64",
    initramfsModules,
    initramfsFiles,
    base: {
      kind: "debootstrap",
      suite: "bookworm",
      variant: "minbase",
      include: [
        "openssh-server",
        "qemu-guest-agent",
        "iproute2",
        "busybox-static",
        "ca-certificates",
        "python3",
        // What Ansible's apt and systemd_service modules need on the target.
        "python3-apt",
        "systemd",
        // Device units (the serial console's getty waits for dev-ttyS0.device) come from udev,
        // which a Debian server has; without it the boot hangs 90 s on that job.
        "udev",
      ],
    },
    rootfsFiles: [...fluidFiles, ...systemdFiles],
    diskSize: "2G",
    sshd: true,
    boot: "systemd",
  },
};

export function getRecipe(name: string): Recipe {
  const recipe = Object.hasOwn(recipes, name) ? recipes[name] : undefined;
  if (!recipe) throw new Error(`unknown recipe "${name}" (known: ${Object.keys(recipes).join(", ")})`);
  return recipe;
}

/**
 * The recipe with its boot mode overridden (`image build --boot`): any recipe can boot fast, only
 * one that carries systemd can boot with it. The mode is part of the recipe, so of its hash.
 */
export function withBootMode(recipe: Recipe, boot: BootMode | undefined): Recipe {
  if (boot === undefined || boot === recipe.boot) return recipe;
  if (boot === "systemd") throw new Error(`the ${recipe.name} recipe has no systemd; it boots fast only`);
  return { ...recipe, boot };
}

/** JSON with object keys sorted, so the hash depends on the recipe's content, not on how it is written. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

/**
 * The image cache key: SHA-256 over the recipe definition and the content of every guest file it
 * installs. Host inputs (busybox, the Debian packages of the day) are not part of it; `--force`
 * rebuilds to pick those up.
 */
export async function recipeHash(recipe: Recipe, sourceDir = guestDir): Promise<string> {
  const hash = createHash("sha256").update(canonicalJson(recipe));
  const sources = [...new Set([...recipe.initramfsFiles, ...recipe.rootfsFiles].map((file) => file.source))].sort();
  for (const source of sources) {
    const content = await readFile(join(sourceDir, source));
    hash.update(`\0${source}\0${content.length}\0`).update(content);
  }
  return hash.digest("hex");
}
