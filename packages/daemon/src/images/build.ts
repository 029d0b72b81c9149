import { mkdir, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BootMode } from "../vm/boot-mode.js";
import { fetchDeb } from "./debs.js";
import { checkHostTools, hostBusybox } from "./host-tools.js";
import { buildInitramfs } from "./initramfs.js";
import { prepareKernel } from "./kernel.js";
import { getRecipe, guestDir, type Recipe, recipeHash, withBootMode } from "./recipes.js";
import { removeTree } from "./remove-tree.js";
import { buildDebianRootfs, buildTinyRootfs, installFluid, makeDisk } from "./rootfs.js";
import { type ImageManifest, ImageStore } from "./store.js";

export interface BuildProgress {
  /** The step that is starting. */
  step: string;
  /** Steps finished so far. */
  done: number;
  total: number;
}

export interface BuildOptions {
  recipe: string;
  imageDir: string;
  /** Rebuild even when an image with the same recipe hash exists. */
  force?: boolean;
  /** Overrides the recipe's boot mode (`--boot fast` keeps busybox init on an image with systemd). */
  boot?: BootMode | undefined;
  onProgress?: (progress: BuildProgress) => void;
  env?: NodeJS.ProcessEnv;
}

export interface BuildResult {
  manifest: ImageManifest;
  dir: string;
  /** False when the existing image was already up to date. */
  built: boolean;
}

const defaultMirror = "http://deb.debian.org/debian";

/** The Debian mirror debootstrap uses: FLUID_DEBIAN_MIRROR, or deb.debian.org. */
export function debianMirror(env: NodeJS.ProcessEnv): string {
  const mirror = env.FLUID_DEBIAN_MIRROR?.trim() || defaultMirror;
  if (!/^(https?|file):\/\/[^\s]+$/.test(mirror)) {
    throw new Error(`FLUID_DEBIAN_MIRROR must be an http(s):// or file:// URL, got ${JSON.stringify(mirror)}`);
  }
  return mirror;
}

function stepsFor(recipe: Recipe): string[] {
  const rootfs =
    recipe.base.kind === "busybox"
      ? "rootfs: busybox and qemu-ga"
      : `rootfs: debootstrap ${recipe.base.suite} (takes minutes)`;
  return [
    `kernel: ${recipe.kernelPackage} → vmlinux and modules`,
    "initramfs",
    rootfs,
    "guest files",
    `disk: ext4 (${recipe.diskSize}) → qcow2`,
    "manifest",
  ];
}

/**
 * Builds an image from a recipe into `<imageDir>/<recipe>` (docs/guest-images.md). Everything
 * happens in a private build directory that is renamed into place only when complete, and deleted
 * if any step fails. Does nothing when the image exists with the same recipe hash, unless `force`.
 */
export async function buildImage(options: BuildOptions): Promise<BuildResult> {
  const env = options.env ?? process.env;
  const recipe = withBootMode(getRecipe(options.recipe), options.boot);
  const store = new ImageStore(options.imageDir);
  const hash = await recipeHash(recipe);
  if (!options.force) {
    const existing = await store.manifest(recipe.name).catch(() => undefined);
    if (existing?.recipeHash === hash) return { manifest: existing, dir: join(store.dir, recipe.name), built: false };
  }
  await checkHostTools(recipe, env.PATH);
  if (recipe.base.kind === "debootstrap" && process.getuid?.() !== 0) {
    throw new Error(`the ${recipe.name} recipe runs debootstrap, which needs root`);
  }
  const mirror = recipe.base.kind === "debootstrap" ? debianMirror(env) : defaultMirror;

  const steps = stepsFor(recipe);
  let done = 0;
  let current = "prepare";
  const begin = (index: number) => {
    current = steps[index] ?? "?";
    options.onProgress?.({ step: current, done, total: steps.length });
  };
  const buildDir = await store.beginBuild(recipe.name);
  const work = join(buildDir, "work");
  const debs = join(store.cacheDir, "debs");
  try {
    await mkdir(work);
    begin(0);
    const kernel = await prepareKernel(recipe, debs, work);
    await rename(kernel.vmlinux, join(buildDir, "vmlinux"));
    done++;

    begin(1);
    await buildInitramfs({
      stagingDir: join(work, "initramfs"),
      busybox: hostBusybox,
      modules: kernel.modules,
      files: recipe.initramfsFiles,
      sourceDir: guestDir,
      output: join(buildDir, "initramfs.cpio"),
    });
    done++;

    begin(2);
    const root = join(work, "rootfs");
    if (recipe.base.kind === "busybox") {
      await mkdir(root);
      await buildTinyRootfs(root, hostBusybox, await fetchDeb(recipe.base.agentPackage, debs), work);
    } else {
      await buildDebianRootfs(root, recipe.base, mirror);
    }
    done++;

    begin(3);
    await installFluid(root, hostBusybox, recipe.rootfsFiles, guestDir);
    done++;

    begin(4);
    await makeDisk(root, recipe.diskSize, work, join(buildDir, "rootfs.qcow2"));
    done++;

    begin(5);
    await removeTree(work);
    let sizeBytes = 0;
    for (const file of ["vmlinux", "initramfs.cpio", "rootfs.qcow2"])
      sizeBytes += (await stat(join(buildDir, file))).size;
    const manifest: ImageManifest = {
      name: recipe.name,
      recipe: recipe.name,
      recipeHash: hash,
      kernel: "vmlinux",
      initrd: "initramfs.cpio",
      disk: "rootfs.qcow2",
      rootDevice: "/dev/vda",
      kernelVersion: kernel.version,
      sshd: recipe.sshd,
      boot: recipe.boot,
      agent: "qga",
      sizeBytes,
      builtAt: new Date().toISOString(),
    };
    await writeFile(join(buildDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    await store.commitBuild(recipe.name, buildDir);
    return { manifest, dir: join(store.dir, recipe.name), built: true };
  } catch (err) {
    await removeTree(buildDir);
    throw new Error(`building image ${recipe.name} failed at "${current}": ${(err as Error).message}`, { cause: err });
  }
}
