import { access, chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { BOOT_MODES } from "../vm/boot-mode.js";
import { removeTree } from "./remove-tree.js";
import type { ImageSource, ResolvedImage } from "./source.js";

const imageNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageError";
  }
}

/** An image name is one path component of the image dir: no separators, no leading dot. */
export function validateImageName(name: string): string {
  if (!imageNamePattern.test(name)) {
    throw new ImageError(
      `invalid image name ${JSON.stringify(name)}: use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  return name;
}

/** A file name inside the image's directory: manifests must not point anywhere else. */
const fileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be a plain file name in the image directory");

const manifestSchema = z.object({
  name: z.string().regex(imageNamePattern),
  recipe: z.string().min(1),
  recipeHash: z.string().regex(/^[0-9a-f]{64}$/),
  kernel: fileName,
  initrd: fileName,
  disk: fileName,
  rootDevice: z.string().regex(/^\/dev\/[a-z0-9]+$/),
  kernelVersion: z.string().min(1),
  sshd: z.boolean(),
  /** Images built before boot modes existed have no systemd units: they boot fast. */
  boot: z.enum(BOOT_MODES).default("fast"),
  agent: z.literal("qga"),
  sizeBytes: z.number().int().nonnegative(),
  builtAt: z.iso.datetime(),
});

/** `<image>/manifest.json`, the contract with the VM runner (docs/guest-images.md). */
export type ImageManifest = z.infer<typeof manifestSchema>;

export function parseManifest(text: string): ImageManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ImageError(`manifest is not JSON: ${(err as Error).message}`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "manifest"}: ${issue.message}`);
    throw new ImageError(`invalid manifest: ${problems.join("; ")}`);
  }
  return parsed.data;
}

export interface ImageInfo {
  name: string;
  recipe: string;
  sizeBytes: number;
  builtAt: string;
  kernelVersion: string;
}

export interface ImagePaths extends ResolvedImage {
  dir: string;
  kernel: string;
  initrd: string;
  disk: string;
  manifest: ImageManifest;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The images in one image dir: `<dir>/<name>/` holds a complete image, `<dir>/.build-<name>-*` one
 * being built (renamed into place only when complete) and `<dir>/.cache` downloads.
 */
export class ImageStore implements ImageSource {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  get cacheDir(): string {
    return join(this.dir, ".cache");
  }

  /** The manifest of an image, or undefined if there is no such image. */
  async manifest(name: string): Promise<ImageManifest | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dir, validateImageName(name), "manifest.json"), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    try {
      const manifest = parseManifest(text);
      if (manifest.name !== name) throw new ImageError(`it names the image "${manifest.name}"`);
      return manifest;
    } catch (err) {
      throw new ImageError(`image ${name}: ${(err as Error).message}`);
    }
  }

  /** Every usable image; directories without a valid manifest are not images and are skipped. */
  async list(): Promise<ImageInfo[]> {
    const entries = await readdir(this.dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    });
    const images: ImageInfo[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || !imageNamePattern.test(entry.name)) continue;
      const manifest = await this.manifest(entry.name).catch(() => undefined);
      if (!manifest) continue;
      const { name, recipe, sizeBytes, builtAt, kernelVersion } = manifest;
      images.push({ name, recipe, sizeBytes, builtAt, kernelVersion });
    }
    return images.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Absolute paths of an image's files, checked to exist. */
  async get(name: string): Promise<ImagePaths> {
    const manifest = await this.manifest(name);
    if (!manifest) throw new ImageError(`no image "${name}" in ${this.dir}`);
    const dir = join(this.dir, name);
    const paths = {
      kernel: join(dir, manifest.kernel),
      initrd: join(dir, manifest.initrd),
      disk: join(dir, manifest.disk),
    };
    for (const path of Object.values(paths)) {
      if (!(await exists(path))) throw new ImageError(`image ${name} is incomplete: ${path} is missing`);
    }
    return {
      name,
      dir,
      ...paths,
      sshd: manifest.sshd,
      rootDevice: manifest.rootDevice,
      boot: manifest.boot,
      manifest,
    };
  }

  resolve(name: string): Promise<ImagePaths> {
    return this.get(name);
  }

  async names(): Promise<string[]> {
    return (await this.list()).map((image) => image.name);
  }

  /**
   * Removes an image. It is first renamed out of the way, so it disappears at once even though
   * deleting a multi-GiB disk takes a moment. Sandboxes already running on it keep their open files.
   */
  async remove(name: string): Promise<void> {
    if (!(await this.manifest(name))) throw new ImageError(`no image "${name}" in ${this.dir}`);
    const doomed = await this.moveAside(name);
    await removeTree(doomed);
  }

  /**
   * A fresh `.build-<name>-<random>` directory. Leftovers of builds that died (their builder pid is
   * gone) are removed; a live build of the same image is an error rather than a race to rename.
   */
  async beginBuild(name: string): Promise<string> {
    validateImageName(name);
    await mkdir(this.dir, { recursive: true });
    for (const entry of await readdir(this.dir)) {
      if (!entry.startsWith(`.build-${name}-`) && !entry.startsWith(`.old-${name}-`)) continue;
      const dir = join(this.dir, entry);
      const pid = Number((await readFile(join(dir, "builder.pid"), "utf8").catch(() => "")).trim());
      if (entry.startsWith(".build-") && Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new ImageError(
          `image ${name} is already being built by pid ${pid} in ${dir}; if it is not, delete that directory`,
        );
      }
      await removeTree(dir);
    }
    const buildDir = await mkdtemp(join(this.dir, `.build-${name}-`));
    await writeFile(join(buildDir, "builder.pid"), `${process.pid}\n`);
    return buildDir;
  }

  /** Puts a finished build in place of the image, replacing any previous one. */
  async commitBuild(name: string, buildDir: string): Promise<void> {
    validateImageName(name);
    await rm(join(buildDir, "builder.pid"), { force: true });
    // mkdtemp made it private; the finished image is readable like any other installed file.
    await chmod(buildDir, 0o755);
    const previous = (await exists(join(this.dir, name))) ? await this.moveAside(name) : undefined;
    await rename(buildDir, join(this.dir, name));
    if (previous) await removeTree(previous);
  }

  private async moveAside(name: string): Promise<string> {
    const doomed = await mkdtemp(join(this.dir, `.old-${name}-`));
    const target = join(doomed, name);
    await rename(join(this.dir, name), target);
    return doomed;
  }
}
