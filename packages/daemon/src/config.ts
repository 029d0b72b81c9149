import { homedir } from "node:os";
import { join } from "node:path";
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

const isRoot = () => process.getuid?.() === 0;
const dataHome = () => process.env.XDG_DATA_HOME || join(homedir(), ".local", "share");

export function defaultImageDir(): string {
  return isRoot() ? "/var/lib/fluid/images" : join(dataHome(), "fluid", "images");
}

export function defaultStateDir(): string {
  return isRoot() ? "/var/lib/fluid/daemon" : join(dataHome(), "fluid", "daemon");
}

export function parseAccel(value: string): AccelPreference {
  if (value === "auto" || value === "kvm" || value === "tcg") return value;
  throw new Error(`--accel must be auto, kvm or tcg, got "${value}"`);
}
