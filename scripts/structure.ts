/** Pure checks behind scripts/check-structure.ts, kept apart so they can be tested without cruising the tree. */

export type Graph = ReadonlyMap<string, readonly string[]>;

/**
 * Groups of nodes that reach each other (strongly connected components with more than one node), each sorted,
 * largest first. Tarjan's algorithm, iterative so a deep graph cannot overflow the stack.
 */
export function cycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const nodes = new Set([...graph.keys(), ...[...graph.values()].flat()]);

  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: string; next: number }[] = [{ node: root, next: 0 }];
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const { node } = frame;
      if (frame.next === 0 && !index.has(node)) {
        index.set(node, index.size);
        low.set(node, index.get(node)!);
        stack.push(node);
        onStack.add(node);
      }
      const targets = graph.get(node) ?? [];
      if (frame.next < targets.length) {
        const target = targets[frame.next++]!;
        if (!index.has(target)) work.push({ node: target, next: 0 });
        else if (onStack.has(target)) low.set(node, Math.min(low.get(node)!, index.get(target)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(node)!));
      if (low.get(node) !== index.get(node)) continue;
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  }
  return found.sort((a, b) => b.length - a.length || a[0]!.localeCompare(b[0]!));
}

/** The edges of `graph` that stay inside `component`: what to cut to break that cycle. */
export function edgesWithin(graph: Graph, component: readonly string[]): [string, string][] {
  const members = new Set(component);
  return component.flatMap((from) =>
    (graph.get(from) ?? []).filter((to) => members.has(to)).map((to): [string, string] => [from, to]),
  );
}

export const TEST_FILE = /\.test\.tsx?$/;
/** Test data shared by several tests (`*.fixtures.ts`): tables of cases, exempt from the size limit like tests. */
export const FIXTURE_FILE = /\.fixtures\.tsx?$/;
const GENERATED = /\/gen\//;

/**
 * Whether a source file counts against the size limit: TypeScript that is not a declaration file, a test,
 * test fixtures, generated code or one of `dataTables` (path suffixes, so they survive a move between folders).
 */
export function sizeChecked(path: string, dataTables: readonly string[]): boolean {
  if (!/\.tsx?$/.test(path) || path.endsWith(".d.ts")) return false;
  if (TEST_FILE.test(path) || FIXTURE_FILE.test(path) || GENERATED.test(path)) return false;
  return !dataTables.some((table) => `/${path}`.endsWith(table));
}

export interface FileSize {
  path: string;
  lines: number;
}

/** Files over `limit` lines, and the largest `top` files overall; both largest first. */
export function sizeReport(
  files: readonly FileSize[],
  limit: number,
  top = 5,
): { over: FileSize[]; largest: FileSize[] } {
  const sorted = [...files].sort((a, b) => b.lines - a.lines || a.path.localeCompare(b.path));
  return { over: sorted.filter((file) => file.lines > limit), largest: sorted.slice(0, top) };
}

/** Lines as an editor counts them: a trailing newline does not start another line. */
export function countLines(text: string): number {
  if (text === "") return 0;
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

/**
 * CLI code that must reach the server only through `packages/cli/src/api/`: the commands and the MCP tools
 * (which the agent drives) parse arguments and render results; the calls, their paths and bodies live in one place.
 */
export const API_CLIENTS = /^packages\/cli\/src\/(commands|mcp)\//;

const SDK_IMPORT = /^\s*(import|export)\s+(type\s+)?\{([^}]*)\}\s*from\s*["'](@fluid\/sdk(?:\/[\w-]+)?)["']/gm;
const SDK_SIDE_IMPORT =
  /^\s*import\s+(\*\s+as\s+\w+\s+from\s+|\w+\s*(,\s*\{[^}]*\})?\s+from\s+)?["'](@fluid\/sdk(?:\/[\w-]+)?)["']/gm;
const HTTP_CALL = /\.\s*(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s*\(/g;
const FETCH_CALL = /(?<![\w.$])fetch\s*\(/g;

function lineOf(source: string, index: number): number {
  return source.slice(0, index).split("\n").length;
}

/**
 * Where a file calls the server itself: a value import from the SDK or one of its subpaths (its request client,
 * `unwrap`, `streamExec`, `openTerminal`;
 * types are fine), an HTTP-verb call on a client, or `fetch`. Comments count too: a commented-out call is
 * still a call waiting to come back.
 */
export function directServerCalls(path: string, source: string): string[] {
  if (!API_CLIENTS.test(path) || TEST_FILE.test(path)) return [];
  const found: string[] = [];
  for (const match of source.matchAll(SDK_IMPORT)) {
    if (match[2]) continue;
    const values = (match[3] ?? "")
      .split(",")
      .map((name) => name.trim())
      .filter((name) => name !== "" && !name.startsWith("type "));
    if (values.length > 0)
      found.push(`${path}:${lineOf(source, match.index)} imports ${values.join(", ")} from ${match[4]}`);
  }
  for (const match of source.matchAll(SDK_SIDE_IMPORT)) {
    found.push(`${path}:${lineOf(source, match.index)} imports ${match[3]} as a whole`);
  }
  for (const match of source.matchAll(HTTP_CALL)) {
    found.push(`${path}:${lineOf(source, match.index)} calls ${match[1]} on a client`);
  }
  for (const match of source.matchAll(FETCH_CALL)) found.push(`${path}:${lineOf(source, match.index)} calls fetch`);
  return found;
}
