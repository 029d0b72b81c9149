import { open } from "node:fs/promises";
import { join } from "node:path";
import type { FileEntry } from "./collect-files.js";
import type { Change } from "./diff-types.js";
import { unifiedDiff } from "./line-diff.js";
import type { NoisePolicy } from "./noise.js";

/** Larger files are compared by size and hash only. */
const MAX_TEXT_BYTES = 1024 * 1024;

const octal = (mode: number) => mode.toString(8).padStart(4, "0");

/** A file's text, or undefined if it is too large or not UTF-8 text (then it is shown as binary). */
async function readText(root: string, entry: FileEntry): Promise<string | undefined> {
  if (entry.type !== "file" || entry.size > MAX_TEXT_BYTES) return undefined;
  const handle = await open(join(root, entry.path), "r");
  try {
    const buffer = Buffer.alloc(entry.size);
    const { bytesRead } = await handle.read(buffer, 0, entry.size, 0);
    const data = buffer.subarray(0, bytesRead);
    if (data.includes(0)) return undefined;
    return new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

function attributes(entry: FileEntry) {
  return {
    type: entry.type,
    mode: octal(entry.mode),
    uid: entry.uid,
    gid: entry.gid,
    size: entry.type === "file" ? entry.size : undefined,
    sha256: entry.sha256,
    target: entry.target,
  };
}

/**
 * File changes between two mounted roots' file lists. Text files carry a unified diff (from empty
 * when added); binaries, large files and what the policy redacts carry size and sha256 only.
 */
export async function diffFiles(
  base: { root: string; files: Map<string, FileEntry> },
  sandbox: { root: string; files: Map<string, FileEntry> },
  noise: NoisePolicy,
): Promise<Change[]> {
  const changes: Change[] = [];
  const content = async (before: FileEntry | undefined, after: FileEntry) => {
    if (after.type !== "file" || noise.effect("file", after.path) === "redact") {
      return after.type === "file" ? { redacted: true } : {};
    }
    const newText = await readText(sandbox.root, after);
    const oldText = before?.type === "file" ? await readText(base.root, before) : before ? undefined : "";
    if (newText === undefined || oldText === undefined) return { binary: true };
    const diff = unifiedDiff(oldText, newText);
    return { diff: diff.text, diff_truncated: diff.truncated || undefined };
  };
  for (const [path, after] of sandbox.files) {
    if (noise.ignores("file", path)) continue;
    const before = base.files.get(path);
    const now = attributes(after);
    if (!before) {
      changes.push({ kind: "file", action: "added", path, ...now, ...(await content(undefined, after)) });
      continue;
    }
    const then = attributes(before);
    const from: Record<string, unknown> = {};
    for (const key of Object.keys(now) as Array<keyof typeof now>) {
      if (now[key] !== then[key]) from[key] = then[key] ?? null;
    }
    if (Object.keys(from).length === 0) continue;
    const contentChanged = after.type === "file" && before.sha256 !== after.sha256;
    changes.push({
      kind: "file",
      action: "changed",
      path,
      ...now,
      from,
      ...(contentChanged ? await content(before, after) : {}),
    });
  }
  for (const [path, before] of base.files) {
    if (sandbox.files.has(path) || noise.ignores("file", path)) continue;
    // A removed directory stands for everything that was in it.
    const parent = path.slice(0, path.lastIndexOf("/"));
    if (base.files.has(parent) && !sandbox.files.has(parent)) continue;
    // The removed file's digest lets an apply check production still holds what was captured.
    changes.push({ kind: "file", action: "removed", path, type: before.type, sha256: before.sha256 });
  }
  return changes;
}
