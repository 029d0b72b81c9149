import { rename, rm } from "node:fs/promises";
import { posix } from "node:path";
import { z } from "zod";
import { SourceError } from "../remote/source-error.js";
import { SshError } from "../remote/ssh-error.js";
import type { RemoteRunner, StreamOptions } from "../remote/ssh-session.js";
import { runChecked } from "../system/run.js";
import { convertImage } from "./qemu-img.js";

/** One image of a disk's backing chain on the source host. */
export interface RemoteLayer {
  path: string;
  format: "raw" | "qcow2";
  /** Bytes `cat` will produce (file size, or device size for a raw block device); undefined if unknown. */
  sizeBytes: number | undefined;
}

/** A copied layer on this host. */
export interface LocalLayer {
  path: string;
  format: "raw" | "qcow2";
}

const chainEntry = z.object({
  filename: z.string().min(1),
  format: z.string(),
  "virtual-size": z.number().optional(),
  encrypted: z.boolean().optional(),
  "format-specific": z
    .object({ data: z.object({ "data-file": z.string().optional() }).loose().optional() })
    .loose()
    .optional(),
});

/** A path that can go through line-based remote output and into `cat`: absolute, one line. */
export function checkRemotePath(path: string): string {
  if (!path.startsWith("/") || /[\0\r\n]/.test(path)) {
    throw new SourceError("unsupported", `unsupported disk path ${JSON.stringify(path)}`);
  }
  return path;
}

/**
 * `qemu-img info --backing-chain --output=json` (top image first) → the chain from its base up to
 * the top. Only raw and qcow2 images without external data files or encryption are supported.
 */
export function parseBackingChain(json: string): Array<Omit<RemoteLayer, "sizeBytes"> & { virtualSize?: number }> {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw new SourceError("host_error", "qemu-img info printed no JSON");
  }
  const parsed = z
    .array(chainEntry)
    .min(1)
    .safeParse(Array.isArray(data) ? data : [data]);
  if (!parsed.success) throw new SourceError("host_error", `unexpected qemu-img info output: ${parsed.error.message}`);
  const layers: Array<Omit<RemoteLayer, "sizeBytes"> & { virtualSize?: number }> = [];
  let upper: string | undefined;
  for (const entry of parsed.data) {
    const path =
      upper && !entry.filename.startsWith("/") ? posix.resolve(posix.dirname(upper), entry.filename) : entry.filename;
    checkRemotePath(path);
    if (entry.format !== "raw" && entry.format !== "qcow2") {
      throw new SourceError("unsupported", `${path} is a ${entry.format} image; fluid copies raw and qcow2 disks`);
    }
    if (entry.encrypted) throw new SourceError("unsupported", `${path} is encrypted`);
    if (entry["format-specific"]?.data?.["data-file"]) {
      throw new SourceError("unsupported", `${path} keeps its data in an external data file`);
    }
    layers.push({ path, format: entry.format, virtualSize: entry["virtual-size"] });
    upper = path;
  }
  return layers.reverse();
}

/**
 * The backing chain of a disk the VM no longer writes to (after the snapshot), base first, with the
 * size of each file. `-U`: QEMU still holds the images open, reading them is safe.
 */
export async function remoteChain(remote: RemoteRunner, disk: string): Promise<RemoteLayer[]> {
  const info = await remote
    .run(["qemu-img", "info", "-U", "--backing-chain", "--output=json", checkRemotePath(disk)])
    .catch((err: unknown) => {
      if (err instanceof SshError && err.exitCode === 127) {
        throw new SourceError("unsupported", "the source host has no qemu-img (Debian/Ubuntu: qemu-utils)", {
          cause: err,
        });
      }
      throw err;
    });
  const layers = parseBackingChain(info.stdout);
  const stat = await remote.run(["stat", "-L", "-c", "%s", "--", ...layers.map((layer) => layer.path)]);
  const sizes = stat.stdout.trim().split("\n").map(Number);
  if (sizes.length !== layers.length || sizes.some((size) => !Number.isSafeInteger(size) || size < 0)) {
    throw new SourceError("host_error", `unexpected stat output for the disk chain: ${stat.stdout.slice(0, 200)}`);
  }
  return layers.map((layer, i) => {
    const size = sizes[i] ?? 0;
    // A block device reports size 0; as a raw image its size is the virtual size.
    const sizeBytes = size > 0 ? size : layer.format === "raw" ? layer.virtualSize : undefined;
    return { path: layer.path, format: layer.format, sizeBytes };
  });
}

/** Streams every layer to `<workDir>/layer-<n>.<format>` with `cat`; checks each arrived whole. */
export async function copyChain(
  remote: RemoteRunner,
  layers: readonly RemoteLayer[],
  workDir: string,
  options: { onBytes?: (bytes: number) => void; signal?: AbortSignal | undefined; idleTimeoutMs?: number } = {},
): Promise<{ layers: LocalLayer[]; bytes: number }> {
  const local: LocalLayer[] = [];
  let done = 0;
  for (const [i, layer] of layers.entries()) {
    const path = posix.join(workDir, `layer-${i}.${layer.format}`);
    const stream: StreamOptions = {
      onBytes: (bytes) => options.onBytes?.(done + bytes),
      signal: options.signal,
      idleTimeoutMs: options.idleTimeoutMs,
    };
    const bytes = await remote.streamToFile(["cat", "--", layer.path], path, stream);
    if (layer.sizeBytes !== undefined && bytes !== layer.sizeBytes) {
      throw new SourceError("host_error", `copying ${layer.path} gave ${bytes} bytes, expected ${layer.sizeBytes}`);
    }
    done += bytes;
    local.push({ path, format: layer.format });
  }
  return { layers: local, bytes: done };
}

/**
 * Joins copied layers into one self-contained qcow2 at `output`: each layer is pointed at its copied
 * backing (`rebase -u` only rewrites the header), then the top is converted, which reads through
 * the chain. A single qcow2 without backing is already that and is just moved.
 */
export async function flattenChain(
  layers: readonly LocalLayer[],
  output: string,
  onFraction?: (fraction: number) => void,
): Promise<void> {
  const top = layers.at(-1);
  if (!top) throw new Error("flattenChain: no layers");
  if (layers.length === 1 && top.format === "qcow2") {
    await rename(top.path, output);
    return;
  }
  for (let i = 1; i < layers.length; i++) {
    const layer = layers[i] as LocalLayer;
    const backing = layers[i - 1] as LocalLayer;
    if (layer.format !== "qcow2") throw new SourceError("unsupported", "a raw image cannot have a backing file");
    await runChecked(["qemu-img", "rebase", "-u", "-f", "qcow2", "-F", backing.format, "-b", backing.path, layer.path]);
  }
  await convertImage(top, { path: output, format: "qcow2" }, { onFraction });
  for (const layer of layers) await rm(layer.path, { force: true });
}
