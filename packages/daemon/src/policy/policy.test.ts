import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCommand } from "./check.js";
import { type PolicyCase, policyCases } from "./policy-cases.fixtures.js";
import { readonlyShellScript } from "./shell.js";

/** Every case through layer 2 in one perl process: frames "<byte length>\n<bytes>" on stdin. */
function perlCheckBatch(script: string, commands: string[]): string[] {
  const frames = Buffer.concat(
    commands.flatMap((command) => {
      const bytes = Buffer.from(command, "utf8");
      return [Buffer.from(`${bytes.length}\n`), bytes];
    }),
  );
  const result = spawnSync("perl", [script, "--check-batch"], { input: frames, maxBuffer: 16 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`perl --check-batch failed: ${result.stderr.toString()}`);
  return result.stdout.toString("utf8").split("\n").slice(0, -1);
}

const label = (c: PolicyCase) => `${c.allowed ? "allows" : "refuses"} ${JSON.stringify(c.command).slice(0, 90)}`;

describe("the shared policy table", () => {
  let dir: string;
  let layer2: Map<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-policy-"));
    const script = join(dir, "fluid-readonly-shell");
    await writeFile(script, readonlyShellScript(), { mode: 0o755 });
    const answers = perlCheckBatch(
      script,
      policyCases.map((c) => c.command),
    );
    expect(answers).toHaveLength(policyCases.length);
    layer2 = new Map(policyCases.map((c, index) => [c.command, answers[index]!]));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("has at least 150 cases, allowed and refused, without duplicates", () => {
    expect(policyCases.length).toBeGreaterThanOrEqual(150);
    expect(policyCases.filter((c) => c.allowed).length).toBeGreaterThan(50);
    expect(policyCases.filter((c) => !c.allowed).length).toBeGreaterThan(100);
    expect(new Set(policyCases.map((c) => c.command)).size).toBe(policyCases.length);
  });

  it.each(policyCases)("layer 1 $why: %#", (c) => {
    const decision = checkCommand(c.command);
    expect({ command: c.command, allowed: decision.allowed }).toEqual({ command: c.command, allowed: c.allowed });
    if (!decision.allowed && c.reason !== undefined) expect(decision.reason).toContain(c.reason);
  });

  it.each(policyCases)("layer 2 agrees with layer 1 on $why: %#", (c) => {
    const decision = checkCommand(c.command);
    const expected = decision.allowed ? "allowed" : `refused: ${decision.reason}`;
    expect({ command: c.command, answer: layer2.get(c.command) }).toEqual({ command: c.command, answer: expected });
    expect(layer2.get(c.command)!.startsWith(c.allowed ? "allowed" : "refused: "), label(c)).toBe(true);
  });
});
