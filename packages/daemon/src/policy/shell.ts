import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  type ExecutionLimits,
  executionEnvironment,
  executionLimits,
  globToRegex,
  limits,
  pathRules,
  programPathPattern,
  programs,
  refusedHints,
} from "./rules.js";

/**
 * Layer 2 of the read-only policy: `fluid-readonly-shell`, the restricted login shell installed on source
 * VMs as /usr/local/bin/fluid-readonly-shell. It is a Perl script (perl-base is Essential on Debian and
 * Ubuntu; there is no Node on a production VM) kept as a resource file beside this module; the policy
 * tables from rules.ts are serialised into it as Perl data, so both layers enforce the same rules.
 */

export const READONLY_SHELL_PATH = "/usr/local/bin/fluid-readonly-shell";

const MARKER = "# @@FLUID_POLICY_DATA@@";

// From src/policy and from dist/policy alike: the resource stays in src.
const resource = new URL("../../src/policy/fluid-readonly-shell.pl", import.meta.url);

/** The policy tables as the Perl script reads them. */
export function policyData(execution: ExecutionLimits = executionLimits) {
  return {
    limits,
    execution,
    programPathPattern,
    environment: executionEnvironment,
    programs,
    hints: refusedHints,
    paths: pathRules.map((rule) => ({ regex: globToRegex(rule.glob), reason: rule.reason })),
  };
}

/** A JSON-like value as a Perl expression (single-quoted strings, so nothing is interpolated). */
export function toPerl(value: unknown): string {
  if (value === null || value === undefined) return "undef";
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`cannot serialise ${value} for Perl`);
    return String(value);
  }
  if (typeof value === "string") return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
  if (Array.isArray(value)) return `[${value.map(toPerl).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
    return `{${entries.map(([key, item]) => `${toPerl(key)} => ${toPerl(item)}`).join(", ")}}`;
  }
  throw new Error(`cannot serialise a ${typeof value} for Perl`);
}

let template: string | undefined;

/**
 * The complete `fluid-readonly-shell` script, policy data included, ready to install. `execution`
 * replaces some of the default limits (tests use short ones).
 */
export function readonlyShellScript(execution: Partial<ExecutionLimits> = {}): string {
  if (template === undefined) {
    template = readFileSync(fileURLToPath(resource), "utf8");
    if (!template.includes(MARKER)) throw new Error("fluid-readonly-shell.pl has lost its policy marker");
  }
  const data = `$POLICY = ${toPerl(policyData({ ...executionLimits, ...execution }))};`;
  const digest = createHash("sha256").update(data).digest("hex").slice(0, 16);
  return template.replace(MARKER, () => `# policy ${digest} (generated from rules.ts)\n${data}`);
}
