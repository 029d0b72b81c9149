import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { AccelPreference } from "./vm/accel.js";

/**
 * Paths end up in QEMU arguments (and the `exec:` migration URI goes through QEMU's shell), so
 * they are restricted to characters that need no quoting anywhere.
 */
const SAFE_PATH = /^\/[A-Za-z0-9._/-]*$/;

export function checkPath(flag: string, path: string): string {
  if (!SAFE_PATH.test(path))
    throw new Error(`${flag} must be an absolute path of letters, digits, '.', '_', '-' and '/': ${path}`);
  return path;
}

function dataHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(homedir(), ".local/share");
}

/** /var/lib/fluid/images for root, otherwise under $XDG_DATA_HOME (~/.local/share). */
export function defaultImageDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.()): string {
  return uid === 0 ? "/var/lib/fluid/images" : join(dataHome(env), "fluid/images");
}

/** /var/lib/fluid/daemon for root, otherwise under $XDG_DATA_HOME. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.()): string {
  return uid === 0 ? "/var/lib/fluid/daemon" : join(dataHome(env), "fluid/daemon");
}

/**
 * TCG translation cache per VM, in MiB: resident host memory once the guest has run enough code.
 * Below 4 MiB QEMU spends its time re-translating; above 1 GiB is more than QEMU ever fills.
 */
export function parseTcgCacheMb(value: string): number {
  const mb = Number(value);
  if (Number.isInteger(mb) && mb >= 4 && mb <= 1024) return mb;
  throw new Error(`--tcg-cache-mb must be a whole number of MiB from 4 to 1024, got "${value}"`);
}

/** `--metrics-listen HOST:PORT` (IPv6 in brackets); port 0 picks a free one. */
export function parseMetricsListen(value: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match?.[1] || port > 65535) throw new Error(`--metrics-listen must be HOST:PORT, got "${value}"`);
  return { host: match[1].replace(/^\[|\]$/g, ""), port };
}

/** The bearer token /metrics asks for: 16 to 256 printable characters, no spaces. */
export function checkMetricsToken(value: string): string {
  if (/^[\x21-\x7e]{16,256}$/.test(value)) return value;
  throw new Error("--metrics-token must be 16 to 256 printable characters without spaces");
}

export function parseAccel(value: string): AccelPreference {
  if (value === "auto" || value === "kvm" || value === "tcg") return value;
  throw new Error(`--accel must be auto, kvm or tcg, got "${value}"`);
}

/** How many warm sandboxes to keep for one image, and the shape a create must ask for to take one. */
export interface WarmPoolSize {
  image: string;
  size: number;
  vcpus: number;
  memoryMb: number;
}

const warmPoolEntry = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})=(\d{1,2})(?::(\d{1,2})x(\d{2,6}))?$/;
const MAX_WARM_POOL_SIZE = 16;

/**
 * `--warm-pool tiny=2,debian-12=1:2x1024`: per image a pool size and, optionally, the vCPUs and
 * memory (MB) of its entries (by default the control plane's default shape, so plain creates match).
 */
export function parseWarmPool(value: string, shape: { vcpus: number; memoryMb: number }): WarmPoolSize[] {
  if (value.trim() === "") return [];
  const pools = value.split(",").map((part) => {
    const match = warmPoolEntry.exec(part.trim());
    if (!match?.[1] || !match[2])
      throw new Error(`--warm-pool: "${part}" is not IMAGE=COUNT or IMAGE=COUNT:VCPUSxMEMORY_MB (e.g. tiny=2:1x512)`);
    const size = Number(match[2]);
    const vcpus = match[3] ? Number(match[3]) : shape.vcpus;
    const memoryMb = match[4] ? Number(match[4]) : shape.memoryMb;
    if (size > MAX_WARM_POOL_SIZE) throw new Error(`--warm-pool: at most ${MAX_WARM_POOL_SIZE} per image, got ${size}`);
    if (vcpus < 1 || memoryMb < 64) throw new Error(`--warm-pool: "${part}" needs at least 1 vCPU and 64 MB`);
    return { image: match[1], size, vcpus, memoryMb };
  });
  const images = pools.map((pool) => pool.image);
  const repeated = images.find((image, index) => images.indexOf(image) !== index);
  if (repeated) throw new Error(`--warm-pool names ${repeated} twice`);
  return pools.filter((pool) => pool.size > 0);
}
