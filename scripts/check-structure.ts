/**
 * `npm run check:structure`: the structural rules of issue 9 that biome and tsc do not see. Fails (exit 1) on
 *   1. any violation of .dependency-cruiser.cjs (file import cycles, imports into another package's src/);
 *   2. any cycle between the top-level entries (folders and root files) of a package's src/, production code only;
 *   3. any production source file over MAX_LINES lines, except test fixtures, generated code and the data tables
 *      listed below;
 *   4. any server call made from the CLI's commands or MCP tools instead of through packages/cli/src/api/.
 * Prints every violation, not just the first, and always the five largest source files.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { cruise, type ICruiseOptions, type ICruiseResult, type IReporterOutput } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";
import {
  countLines,
  cycles,
  directServerCalls,
  edgesWithin,
  type FileSize,
  type Graph,
  sizeChecked,
  sizeReport,
  TEST_FILE,
} from "./structure.ts";

const root = join(import.meta.dirname, "..");
const MAX_LINES = 400;
const TOP_LEVEL = "^packages/[^/]+/src/[^/]+";

/**
 * Files exempt from the size limit because they are tables of data, where splitting would scatter one fact
 * over several files. Matched as path suffixes so they survive a move between folders.
 */
const DATA_TABLES = [
  // The read-only command policy: one rule object per program, interpreted by both enforcement layers.
  "/policy/rules.ts",
  // The database schema: one interface per table, the single place a column is declared.
  "/server/src/db/schema.ts",
];

function resultOf(reported: IReporterOutput): ICruiseResult {
  if (typeof reported.output === "string") throw new Error("dependency-cruiser returned a report, not a result");
  return reported.output;
}

function excludedPaths(exclude: ICruiseOptions["exclude"]): string[] {
  const path = typeof exclude === "object" && !Array.isArray(exclude) ? exclude.path : exclude;
  return path === undefined ? [] : [path].flat();
}

async function importRules(options: ICruiseOptions): Promise<string[]> {
  const result = resultOf(await cruise(["packages"], { ...options, validate: true }));
  return result.summary.violations.map((violation) => {
    const cycle = violation.cycle?.map((step) => step.name).join(" → ");
    return `${violation.rule.name}: ${cycle ? `${violation.from} → ${cycle}` : `${violation.from} → ${violation.to}`}`;
  });
}

async function folderCycles(options: ICruiseOptions): Promise<string[]> {
  // Tests are left out: a test may use fixtures from any folder without tying the folders' code together.
  const exclude = [...excludedPaths(options.exclude), TEST_FILE.source];
  const result = resultOf(await cruise(["packages"], { ...options, collapse: TOP_LEVEL, exclude: { path: exclude } }));
  const topLevel = new RegExp(TOP_LEVEL);
  const graph: Graph = new Map(
    result.modules
      .filter((module) => topLevel.test(module.source))
      .map((module) => [
        module.source,
        module.dependencies
          .map((dependency) => dependency.resolved)
          .filter((target) => target !== module.source && topLevel.test(target)),
      ]),
  );
  return cycles(graph).map((component) => {
    const edges = edgesWithin(graph, component).map(([from, to]) => `\n      ${from} → ${to}`);
    return `folder cycle: ${component.join(" ↔ ")}${edges.join("")}`;
  });
}

async function sourcePaths(): Promise<string[]> {
  const paths: string[] = [];
  for (const pkg of await readdir(join(root, "packages"))) {
    const src = join("packages", pkg, "src");
    const files = await readdir(join(root, src), { recursive: true }).catch(() => []);
    paths.push(...files.map((file) => join(src, file)));
  }
  return paths;
}

async function sourceSizes(paths: readonly string[]): Promise<FileSize[]> {
  const sizes: FileSize[] = [];
  for (const path of paths) {
    if (!sizeChecked(path, DATA_TABLES)) continue;
    sizes.push({ path, lines: countLines(await readFile(join(root, path), "utf8")) });
  }
  return sizes;
}

async function main(): Promise<void> {
  process.chdir(root);
  const options = await extractDepcruiseOptions("./.dependency-cruiser.cjs");
  const paths = await sourcePaths();
  const sizes = sizeReport(await sourceSizes(paths), MAX_LINES);
  const calls: string[] = [];
  for (const path of paths) {
    if (!/\.tsx?$/.test(path)) continue;
    const found = directServerCalls(path, await readFile(join(root, path), "utf8"));
    calls.push(...found.map((call) => `server call outside packages/cli/src/api: ${call}`));
  }
  const violations = [
    ...(await importRules(options)),
    ...(await folderCycles(options)),
    ...sizes.over.map((file) => `file over ${MAX_LINES} lines: ${file.path} (${file.lines})`),
    ...calls,
  ];
  console.log(`largest source files: ${sizes.largest.map((f) => `${f.path} (${f.lines})`).join(", ")}`);
  for (const violation of violations) console.log(`  ✗ ${violation}`);
  console.log(violations.length === 0 ? "structure ok" : `${violations.length} structure violations`);
  if (violations.length > 0) process.exitCode = 1;
}

await main();
