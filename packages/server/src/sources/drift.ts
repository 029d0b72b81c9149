import { AppError } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import { quote } from "./inspections.js";
import type { SourceRelay } from "./relay.js";

/** What a file on a source VM should be: its content's sha256 (hex), or `absent`. */
export interface ExpectedFile {
  path: string;
  sha256: string;
}

/**
 * A file that is not as expected. `actual` is the sha256 found, `absent`, `not a regular file (…)`,
 * or `unreadable (…)`: a file the read-only access may not read cannot be shown unchanged, so it
 * counts as drift too.
 */
export interface FileDrift {
  path: string;
  expected: string;
  actual: string;
}

export const ABSENT = "absent";
/** Paths per command, so one command line stays well under the 8 KiB a source command may be. */
const BATCH_CHARS = 6000;
const TIMEOUT_SECONDS = 60;

/**
 * The files on a source VM that differ from what is expected (e.g. what a change request was
 * captured and verified against), read through the read-only access: `sha256sum` and `stat`, under
 * the read-only policy and audited like any other source command. Nothing here can write.
 */
export async function checkDrift(
  relay: Pick<SourceRelay, "run">,
  scope: OrgScope,
  sourceHostId: string,
  vm: string,
  expected: readonly ExpectedFile[],
): Promise<FileDrift[]> {
  for (const file of expected) {
    if (!/^\/[^\r\n\\]*$/.test(file.path))
      throw new AppError("invalid_request", `unusable path ${JSON.stringify(file.path)}`);
    if (file.sha256 !== ABSENT && !/^[0-9a-f]{64}$/.test(file.sha256)) {
      throw new AppError("invalid_request", `expected state of ${file.path} must be a sha256 (hex) or "absent"`);
    }
  }
  const actual = new Map<string, string>();
  for (const batch of batches(expected.map((f) => f.path))) {
    for (const [path, state] of await observe(relay, scope, sourceHostId, vm, batch)) actual.set(path, state);
  }
  return expected
    .map((file) => ({ path: file.path, expected: file.sha256, actual: actual.get(file.path) ?? ABSENT }))
    .filter((file) => file.actual !== file.expected);
}

function batches(paths: readonly string[]): string[][] {
  const all: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const path of new Set(paths)) {
    if (current.length > 0 && size + path.length > BATCH_CHARS) {
      all.push(current);
      current = [];
      size = 0;
    }
    current.push(path);
    size += path.length + 3;
  }
  if (current.length > 0) all.push(current);
  return all;
}

/** The state of each path; a batch the policy refuses is asked again path by path. */
async function observe(
  relay: Pick<SourceRelay, "run">,
  scope: OrgScope,
  sourceHostId: string,
  vm: string,
  paths: string[],
): Promise<Map<string, string>> {
  const run = (command: string) => relay.run(scope, sourceHostId, vm, command, TIMEOUT_SECONDS);
  const words = paths.map(quote).join(" ");
  let hashed: Awaited<ReturnType<typeof run>>;
  try {
    hashed = await run(`sha256sum -- ${words}`);
  } catch (err) {
    if (!(err instanceof AppError && err.code === "command_refused")) throw err;
    if (paths.length === 1) return new Map([[paths[0] as string, `unreadable (${err.message})`]]);
    const each = new Map<string, string>();
    for (const path of paths) {
      for (const [p, state] of await observe(relay, scope, sourceHostId, vm, [path])) each.set(p, state);
    }
    return each;
  }
  const states = new Map<string, string>();
  for (const line of hashed.stdout.split("\n")) {
    const match = /^([0-9a-f]{64}) [ *](\/.*)$/.exec(line);
    if (match) states.set(match[2] as string, match[1] as string);
  }
  const unhashed = paths.filter((path) => !states.has(path));
  if (unhashed.length === 0) return states;
  // What sha256sum could not read: absent, not a file, or not readable by fluid-readonly.
  const types = await run(`stat -c %F:%n -- ${unhashed.map(quote).join(" ")}`);
  for (const line of types.stdout.split("\n")) {
    const at = line.indexOf(":/");
    if (at < 0) continue;
    const [type, path] = [line.slice(0, at), line.slice(at + 1)];
    states.set(path, type === "regular file" ? "unreadable (permission denied)" : `not a regular file (${type})`);
  }
  return states;
}
