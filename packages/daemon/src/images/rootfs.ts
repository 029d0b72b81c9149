import { lstat, mkdir, readFile, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { run, runChecked } from "../system/run.js";
import { installFile, installGuestFiles, installSymlink, removeGuestFiles } from "./guest-files.js";
import { type DebootstrapBase, type GuestFile, systemdGenerator } from "./recipes.js";

export interface LddResult {
  /** Absolute paths, the dynamic loader included. */
  libraries: string[];
  /** Sonames ldd could not resolve on this host. */
  missing: string[];
}

/**
 * Parses `ldd` output: "soname => /path (0x…)", "soname => not found", "/lib64/ld-… (0x…)" for the
 * loader, and "linux-vdso.so.1 (0x…)" for the kernel-provided vDSO, which has no file.
 */
export function parseLdd(output: string): LddResult {
  const libraries = new Set<string>();
  const missing = new Set<string>();
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    const arrow = /^(\S+)\s+=>\s+(.*)$/.exec(line);
    if (arrow) {
      const [, soname = "", target = ""] = arrow;
      if (target.startsWith("not found")) missing.add(soname);
      else if (target.startsWith("/")) libraries.add(target.replace(/\s+\(0x[0-9a-f]+\)$/, ""));
      continue;
    }
    const loader = /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    if (loader?.[1]) libraries.add(loader[1]);
  }
  return { libraries: [...libraries], missing: [...missing] };
}

/** /fluid, init's configuration and the identity reset shared by every recipe (docs/guest-images.md). */
export async function installFluid(
  root: string,
  busybox: string,
  files: readonly GuestFile[],
  sourceDir: string,
): Promise<void> {
  await installFile(root, busybox, "/fluid/busybox", 0o755);
  await installSymlink(root, "busybox", "/fluid/init");
  await installGuestFiles(root, files, sourceDir);
  if (files.some((file) => file.target === systemdGenerator.target)) {
    await installSymlink(root, systemdGenerator.target, systemdGenerator.link);
  }
  // Without an init package (systemd-sysv) the image lacks these; the agent's guest-shutdown needs
  // /sbin/shutdown, and people expect poweroff and reboot to work under either init.
  for (const command of ["/sbin/shutdown", "/sbin/poweroff", "/sbin/reboot", "/sbin/halt"]) {
    const present = await lstat(join(root, command)).then(
      () => true,
      () => false,
    );
    if (!present) await installSymlink(root, "/fluid/shutdown", command);
  }
  // Every clone must get its own: /fluid/boot writes a machine id, /fluid/sshd the host keys.
  for (const identity of [
    "/etc/machine-id",
    "/etc/machine-id.fluid",
    "/var/lib/dbus/machine-id",
    "/etc/ssh/ssh_host_*",
  ]) {
    await removeGuestFiles(root, identity);
  }
}

/**
 * The tiny userland: a merged-/usr tree of busybox applet links, and qemu-ga from the Debian
 * package with the shared libraries (and loader) ldd resolves for it on this host, which runs
 * the same Debian release as the package.
 */
export async function buildTinyRootfs(root: string, busybox: string, agentDeb: string, workDir: string): Promise<void> {
  for (const dir of ["usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "dev", "proc", "sys", "run", "tmp"]) {
    await mkdir(join(root, dir), { recursive: true });
  }
  await mkdir(join(root, "root"), { mode: 0o700 });
  await mkdir(join(root, "var/log"), { recursive: true });
  for (const dir of ["bin", "sbin", "lib", "lib64"]) await symlink(`usr/${dir}`, join(root, dir));
  await symlink("../run", join(root, "var/run"));
  await symlink("/proc/self/mounts", join(root, "etc/mtab"));

  const applets = (await runChecked([busybox, "--list-full"])).stdout.split("\n").filter((line) => line.includes("/"));
  for (const applet of applets) await installSymlink(root, "/fluid/busybox", `/${applet}`);

  const agent = await extractGuestAgent(agentDeb, join(workDir, "agent"));
  await installFile(root, agent.binary, "/usr/sbin/qemu-ga", 0o755);
  for (const library of agent.libraries) await installFile(root, library, library, 0o755);
}

/** qemu-ga and what it needs to run on a system that lacks it. */
export interface GuestAgentBundle {
  binary: string;
  /** Host paths of its shared libraries, the dynamic loader included. */
  libraries: string[];
}

/**
 * qemu-ga from its Debian package, with the shared libraries (and loader) ldd resolves for it on
 * this host, which runs the same Debian release as the package.
 */
export async function extractGuestAgent(agentDeb: string, dir: string): Promise<GuestAgentBundle> {
  await runChecked(["dpkg-deb", "--extract", agentDeb, dir]);
  const binary = join(dir, "usr/sbin/qemu-ga");
  const { libraries, missing } = parseLdd((await runChecked(["ldd", binary])).stdout);
  if (missing.length > 0) {
    const depends = (await runChecked(["dpkg-deb", "--field", agentDeb, "Depends"])).stdout.trim();
    throw new Error(`qemu-ga needs ${missing.join(", ")}, missing on this host; install its dependencies: ${depends}`);
  }
  return { binary, libraries };
}

/** debootstrap reports errors as "E: …" on stdout and the details in its log inside the target. */
export async function buildDebianRootfs(root: string, base: DebootstrapBase, mirror: string): Promise<void> {
  const include = base.include.length > 0 ? [`--include=${base.include.join(",")}`] : [];
  const result = await run(["debootstrap", `--variant=${base.variant}`, ...include, base.suite, root, mirror], {
    timeoutMs: 60 * 60_000,
  });
  if (result.code === 0) return;
  const log = await readFile(join(root, "debootstrap/debootstrap.log"), "utf8").catch(() => "");
  const lastLines = (text: string) => text.trim().split("\n").filter(Boolean).slice(-3);
  const reasons = [
    ...result.stdout.split("\n").filter((line) => line.startsWith("E: ")),
    ...lastLines(result.stderr),
    ...lastLines(log),
  ];
  throw new Error(
    `debootstrap ${base.suite} from ${mirror} failed: ${reasons.join(" | ") || `exit ${result.code ?? result.signal}`}`,
  );
}

/**
 * The root filesystem as ext4 directly on the device (no partition table), populated from `root`
 * without mounting anything, then converted to qcow2 (which stores only the used blocks).
 */
export async function makeDisk(root: string, size: string, workDir: string, output: string): Promise<void> {
  if (!/^\d+[KMGT]?$/.test(size)) throw new Error(`invalid disk size ${size}`);
  const raw = join(workDir, "rootfs.ext4");
  await runChecked(["mkfs.ext4", "-q", "-F", "-L", "fluid-root", "-d", root, raw, size], { timeoutMs: 30 * 60_000 });
  try {
    await runChecked(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, output], {
      timeoutMs: 30 * 60_000,
    });
  } finally {
    await rm(raw, { force: true });
  }
}
