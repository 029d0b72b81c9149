import { globToRegex, pathRules } from "./rules.js";

/** The path rules compiled once (the same sources are serialised into the Perl shell). */
const compiled = pathRules.map((rule) => ({ regex: new RegExp(globToRegex(rule.glob), "s"), reason: rule.reason }));

/**
 * A word for a refusal reason: printable ASCII as is, every other byte as \xNN, cut at 64 characters.
 * (The Perl shell does the same byte by byte, so reasons are identical in both layers.)
 */
export function show(word: string): string {
  let out = "";
  for (const byte of Buffer.from(word, "utf8")) {
    out += byte >= 0x21 && byte <= 0x7e ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  if (out === "") return "''";
  return out.length > 64 ? `${out.slice(0, 61)}...` : out;
}

/** Why a normalised absolute path is sensitive, or null when it may be read. */
function sensitive(path: string): string | null {
  for (const rule of compiled) {
    if (rule.regex.test(path)) return rule.reason === null ? null : `${show(path)} is not readable: ${rule.reason}`;
  }
  return null;
}

/**
 * Checks a path-looking piece of a command argument (anything containing `/`). Relative paths are read
 * from `/`, the directory layer 2 runs commands in. Returns a refusal reason or null.
 */
export function checkPathCandidate(candidate: string): string | null {
  if (!candidate.includes("/")) return null;
  const segments = candidate.split("/");
  if (segments.includes("..")) return `'..' is not allowed in paths (${show(candidate)})`;
  return sensitive(`/${segments.filter((segment) => segment !== "" && segment !== ".").join("/")}`);
}

/**
 * Checks every piece of a command argument that may name a file. An option cluster longer than 16
 * letters before a `/` is refused rather than checked at every letter (the cost is quadratic).
 */
export function checkArgumentPaths(arg: string): string | null {
  if (/^-[A-Za-z0-9]{17}/.test(arg) && arg.includes("/")) {
    return `option clusters longer than 16 letters are not allowed before a path (${show(arg)})`;
  }
  for (const candidate of pathCandidates(arg)) {
    const reason = checkPathCandidate(candidate);
    if (reason !== null) return reason;
  }
  return null;
}

/**
 * The pieces of an argument that may name a file: the argument itself, the value after the first `=`
 * (`--file=/x`, `var=/x`), and for a short option cluster every tail after its first letter (`-f/x`,
 * `-xf/x`) while the cluster's letters are ASCII, up to 16 letters in.
 */
export function pathCandidates(arg: string): string[] {
  const candidates = [arg];
  const eq = arg.indexOf("=");
  if (eq >= 0) candidates.push(arg.slice(eq + 1));
  if (arg.startsWith("-") && !arg.startsWith("--")) {
    for (let k = 2; k < arg.length && k <= 17; k++) {
      if (!/[A-Za-z0-9]/.test(arg[k - 1]!)) break;
      candidates.push(arg.slice(k));
    }
  }
  return candidates;
}

export type PathDecision = { readable: true; path: string } | { readable: false; reason: string };

/**
 * The path policy for typed file tools (read file, list dir, stat): absolute, no `..`, no NUL or
 * control characters, not a sensitive file. Returns the normalised path.
 */
export function checkReadablePath(path: string): PathDecision {
  if (typeof path !== "string" || path === "") return { readable: false, reason: "the path is empty" };
  if (path.includes("\0")) return { readable: false, reason: "NUL bytes are not allowed in paths" };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\x01-\x1f\x7f]/.test(path)) return { readable: false, reason: "control characters are not allowed in paths" };
  if (Buffer.byteLength(path, "utf8") > 4096) return { readable: false, reason: "the path is longer than 4096 bytes" };
  if (!path.startsWith("/")) return { readable: false, reason: `relative paths are not allowed (${show(path)})` };
  const reason = checkPathCandidate(path);
  if (reason !== null) return { readable: false, reason };
  const normalised = `/${path
    .split("/")
    .filter((segment) => segment !== "" && segment !== ".")
    .join("/")}`;
  return { readable: true, path: normalised };
}

export function isReadablePath(path: string): boolean {
  return checkReadablePath(path).readable;
}
