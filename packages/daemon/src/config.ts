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

export function parseAccel(value: string): AccelPreference {
  if (value === "auto" || value === "kvm" || value === "tcg") return value;
  throw new Error(`--accel must be auto, kvm or tcg, got "${value}"`);
}
