import { type Pipeline, parseCommand } from "./parse.js";
import { checkArgumentPaths, show } from "./paths.js";
import { type ProgramRule, programPathPattern, programs, refusedHints } from "./rules.js";
import { checkAwkProgram, checkSedScript } from "./scripts.js";

/**
 * Layer 1 of the read-only command policy: parse the command as shell syntax, then check every argv
 * against the allowlist in rules.ts. The Perl shell (layer 2) runs the same steps in the same order
 * (`check_argv`, `check_arguments`), so both give the same decision and the same reason.
 */

export type CommandDecision = { allowed: true; pipelines: Pipeline[] } | { allowed: false; reason: string };

export function checkCommand(command: string): CommandDecision {
  const parsed = parseCommand(command);
  if (!parsed.ok) return { allowed: false, reason: parsed.reason };
  for (const pipeline of parsed.pipelines) {
    for (const argv of pipeline.commands) {
      const reason = checkArgv(argv);
      if (reason !== null) return { allowed: false, reason };
    }
  }
  return { allowed: true, pipelines: parsed.pipelines };
}

const regexes = new Map<string, RegExp>();
function matches(pattern: string, value: string): boolean {
  let regex = regexes.get(pattern);
  if (!regex) {
    regex = new RegExp(pattern);
    regexes.set(pattern, regex);
  }
  return regex.test(value);
}

/** Checks one command's argv; returns a refusal reason or null. */
export function checkArgv(argv: string[]): string | null {
  const word = argv[0]!;
  let name = word;
  if (word.includes("/")) {
    const match = new RegExp(programPathPattern).exec(word);
    if (!match) return `program paths other than /bin, /sbin, /usr/bin and /usr/sbin are not allowed (${show(word)})`;
    name = match[2]!;
  }
  if (!Object.hasOwn(programs, name)) {
    const hint = Object.hasOwn(refusedHints, name) ? ` (${refusedHints[name]})` : "";
    return `${show(name)} is not on the read-only allowlist${hint}`;
  }
  return checkArguments(name, programs[name]!, argv.slice(1));
}

interface ParsedOption {
  name: string;
  value: string | undefined;
  /** Index of the argument holding the value, or -1. */
  valueIndex: number;
}

function checkOption(program: string, rule: ProgramRule, option: string, long: boolean, arg: string): string | null {
  const denied = rule.denied ?? {};
  if (Object.hasOwn(denied, option)) return denied[option]!;
  const known = (rule.allowed ?? []).includes(option) || (rule.valueLong ?? []).includes(option);
  if (long && option.length > 2 && !known) {
    // GNU getopt accepts any unambiguous abbreviation: --outp is --output
    for (const name of Object.keys(denied).sort()) {
      if (name.startsWith("--") && name.startsWith(option)) return denied[name]!;
    }
  }
  if (rule.allowed && !rule.allowed.includes(option)) {
    const shown = long || /^-[!-~]$/.test(option) ? option : arg;
    return `${program} option ${show(shown)} is not allowed`;
  }
  return null;
}

function checkArguments(program: string, rule: ProgramRule, args: string[]): string | null {
  if (rule.maxArgs && args.length > rule.maxArgs.count) return rule.maxArgs.reason;
  if (rule.firstArg && (args.length === 0 || !matches(rule.firstArg.pattern, args[0]!))) return rule.firstArg.reason;
  if (rule.deniedWords) {
    for (const arg of args) if (Object.hasOwn(rule.deniedWords, arg)) return rule.deniedWords[arg]!;
  }

  const options: ParsedOption[] = [];
  const operands: { value: string; index: number }[] = [];
  let endOfOptions = rule.syntax === "none";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (endOfOptions || arg === "-" || !arg.startsWith("-")) {
      operands.push({ value: arg, index: i });
      if (rule.optionsFirst) endOfOptions = true;
      continue;
    }
    if (arg === "--") {
      endOfOptions = true;
      continue;
    }
    if (rule.syntax === "words" || arg.startsWith("--")) {
      const eq = rule.syntax === "words" ? -1 : arg.indexOf("=");
      const option = eq >= 0 ? arg.slice(0, eq) : arg;
      const refusal = checkOption(program, rule, option, true, arg);
      if (refusal !== null) return refusal;
      if (eq >= 0) {
        options.push({ name: option, value: arg.slice(eq + 1), valueIndex: i });
      } else if ((rule.valueLong ?? []).includes(option)) {
        i++;
        options.push({ name: option, value: args[i], valueIndex: i });
      } else {
        options.push({ name: option, value: undefined, valueIndex: -1 });
      }
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j]!;
      const option = `-${letter}`;
      const refusal = checkOption(program, rule, option, false, arg);
      if (refusal !== null) return refusal;
      if ((rule.valueShort ?? "").includes(letter)) {
        if (j + 1 < arg.length) {
          options.push({ name: option, value: arg.slice(j + 1), valueIndex: i });
        } else {
          i++;
          options.push({ name: option, value: args[i], valueIndex: i });
        }
        break;
      }
      if ((rule.optionalShort ?? "").includes(letter)) {
        options.push({ name: option, value: j + 1 < arg.length ? arg.slice(j + 1) : undefined, valueIndex: i });
        break;
      }
      options.push({ name: option, value: undefined, valueIndex: -1 });
    }
  }

  const valueRules = rule.valueRules ?? {};
  for (const option of options) {
    if (!Object.hasOwn(valueRules, option.name)) continue;
    const valueRule = valueRules[option.name]!;
    if (option.value === undefined || !matches(valueRule.pattern, option.value)) return valueRule.reason;
  }
  for (const required of rule.required ?? []) {
    if (!options.some((option) => required.options.includes(option.name))) return required.reason;
  }
  if (rule.maxOperands && operands.length > rule.maxOperands.count) return rule.maxOperands.reason;
  if (rule.operandPattern) {
    for (const operand of operands) {
      if (!matches(rule.operandPattern.pattern, operand.value)) return rule.operandPattern.reason;
    }
  }
  if (rule.subcommands && operands.length > 0) {
    const sub = operands[0]!.value;
    if (!Object.hasOwn(rule.subcommands, sub)) {
      return `${program} ${show(sub)} is not allowed (allowed: ${Object.keys(rule.subcommands).sort().join(", ")})`;
    }
    const verbs = rule.subcommands[sub];
    if (verbs && operands.length > 1 && !verbs.includes(operands[1]!.value)) {
      return `${program} ${sub} ${show(operands[1]!.value)} is not allowed (allowed: ${verbs.join(", ")})`;
    }
  }

  // program texts are not paths: they are checked by their own rules instead
  const scripts = new Set<number>();
  if (rule.script === "awk") {
    if (operands.length === 0) return "awk needs a program text (awk -f is not allowed)";
    scripts.add(operands[0]!.index);
    const reason = checkAwkProgram(operands[0]!.value);
    if (reason !== null) return reason;
  }
  if (rule.script === "sed") {
    let texts = options
      .filter((option) => option.name === "-e" || option.name === "--expression")
      .map((option) => ({ value: option.value, index: option.valueIndex }));
    if (texts.length === 0) {
      if (operands.length === 0) return "sed needs a script";
      texts = [operands[0]!];
    }
    for (const text of texts) {
      if (text.value === undefined) return "sed -e needs a script";
      scripts.add(text.index);
      const reason = checkSedScript(text.value);
      if (reason !== null) return reason;
    }
  }

  for (let i = 0; i < args.length; i++) {
    if (scripts.has(i)) continue;
    const reason = checkArgumentPaths(args[i]!);
    if (reason !== null) return reason;
  }
  return null;
}
