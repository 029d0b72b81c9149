import { createHash } from "node:crypto";

/** Every device fluid creates per sandbox starts with this, so leftovers can be found after a crash. */
export const TAP_PREFIX = "fl-";

/** Linux's IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_IFNAME_LENGTH = 15;

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const HASH_CHARS = MAX_IFNAME_LENGTH - TAP_PREFIX.length;
const tapPattern = new RegExp(`^${TAP_PREFIX}[${BASE32}]{${HASH_CHARS}}$`);

/**
 * The TAP device for a sandbox: the prefix plus 12 base32 characters (60 bits) of SHA-256 of the id.
 * Truncating the id collided: the first 9 characters of a time-ordered (v7) UUID are the high bits
 * of its timestamp, identical for every sandbox created within ~4 s. At 60 hash bits, a collision
 * among even a million sandboxes on one host has a probability below 1e-6.
 */
export function tapName(sandboxId: string): string {
  if (sandboxId === "") throw new Error("tapName: empty sandbox id");
  const digest = createHash("sha256").update(sandboxId).digest();
  let bits = 0n;
  for (const byte of digest.subarray(0, 8)) bits = (bits << 8n) | BigInt(byte);
  let name = TAP_PREFIX;
  for (let index = 0; index < HASH_CHARS; index++) {
    name += BASE32[Number((bits >> BigInt(64 - 5 * (index + 1))) & 31n)];
  }
  return name;
}

/** True only for names tapName() can produce, so an unrelated `fl-something` device is never touched. */
export function isTapName(name: string): boolean {
  return tapPattern.test(name);
}
