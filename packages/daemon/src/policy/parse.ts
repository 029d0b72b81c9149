import { limits } from "./rules.js";

/**
 * A parser for the subset of POSIX sh syntax the read-only policy accepts: words built from plain
 * characters, 'single quotes', "double quotes" (with \ escapes) and \ escapes, joined by `|`, `&&`, `||`
 * and `;`. Everything else a shell would interpret (redirections, substitutions, expansions, globbing,
 * background jobs, groups, comments, assignments) is refused, because layer 2 runs the result without a
 * shell: whatever would have been expanded would not be.
 *
 * The Perl twin (`parse_command` in fluid-readonly-shell.pl) follows this code step by step; the shared
 * table test (policy-cases.fixtures.ts) proves they give the same answers and reasons.
 */

export type Connector = ";" | "&&" | "||";

export interface Pipeline {
  /** How this pipeline joins the previous one; null for the first. */
  connector: Connector | null;
  /** Each command as an argv of plain strings, joined by pipes. */
  commands: string[][];
}

export type ParseResult = { ok: true; pipelines: Pipeline[] } | { ok: false; reason: string };

export class Refusal extends Error {}

export function refuse(reason: string): never {
  throw new Refusal(reason);
}

export function parseCommand(command: string): ParseResult {
  try {
    return { ok: true, pipelines: parse(command) };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, reason: err.message };
    throw err;
  }
}

const WORD_END = " \t|&;<>()";
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

function parse(s: string): Pipeline[] {
  if (Buffer.byteLength(s, "utf8") > limits.maxCommandBytes)
    refuse(`the command is longer than ${limits.maxCommandBytes} bytes`);
  if (s.includes("\0")) refuse("NUL bytes are not allowed");
  if (/[\n\r]/.test(s)) refuse("newlines are not allowed: send one command line");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(s)) refuse("control characters are not allowed");

  const pipelines: Pipeline[] = [];
  let commands: string[][] = [];
  let argv: string[] | null = null;
  let connector: Connector | null = null;
  let lastOperator = "";
  let count = 0;

  const endCommand = (operator: string) => {
    if (argv === null) refuse(`syntax error: '${operator}' needs a command before it`);
    count++;
    if (count > limits.maxCommands) refuse(`too many commands (at most ${limits.maxCommands})`);
    commands.push(argv);
    argv = null;
    lastOperator = operator;
  };
  const endPipeline = (operator: Connector) => {
    endCommand(operator);
    pipelines.push({ connector, commands });
    connector = operator;
    commands = [];
  };

  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    const next = s[i + 1];
    if (c === " " || c === "\t") {
      i++;
    } else if (c === "|") {
      if (next === "|") {
        endPipeline("||");
        i += 2;
      } else if (next === "&") {
        refuse("'|&' is not allowed (it redirects standard error)");
      } else {
        endCommand("|");
        i++;
      }
    } else if (c === "&") {
      if (next === "&") {
        endPipeline("&&");
        i += 2;
      } else if (next === ">") {
        refuse("output redirection is not allowed");
      } else {
        refuse("background jobs (&) are not allowed");
      }
    } else if (c === ";") {
      if (next === ";") refuse("';;' is not allowed");
      endPipeline(";");
      i++;
    } else if (c === ">") {
      refuse(next === "(" ? "process substitution is not allowed" : "output redirection is not allowed");
    } else if (c === "<") {
      if (next === "(") refuse("process substitution is not allowed");
      if (next === "<") refuse("here-documents and here-strings are not allowed");
      refuse("input redirection is not allowed");
    } else if (c === "(" || c === ")") {
      refuse("subshells and parentheses are not allowed");
    } else {
      const start = i;
      const [word, end] = readWord(s, i);
      if (argv === null) {
        if (ASSIGNMENT.test(s.slice(start, end))) refuse("environment assignments (NAME=value) are not allowed");
        argv = [];
      }
      (argv as string[]).push(word);
      i = end;
    }
  }
  if (argv === null) {
    if (count === 0) refuse("the command is empty");
    refuse(`syntax error: the command ends with '${lastOperator}'`);
  }
  endCommand("end");
  pipelines.push({ connector, commands });
  return pipelines;
}

/** Reads one word starting at `i`; returns its value and the index after it. */
function readWord(s: string, i: number): [string, number] {
  const start = i;
  let value = "";
  while (i < s.length) {
    const c = s[i]!;
    if (WORD_END.includes(c)) break;
    if (c === "'") {
      const close = s.indexOf("'", i + 1);
      if (close < 0) refuse("unterminated single quote");
      value += s.slice(i + 1, close);
      i = close + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= s.length) refuse("unterminated double quote");
        const d = s[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === "\\") {
          const e = s[i + 1];
          if (e === undefined) refuse("unterminated double quote");
          if ('$`"\\'.includes(e)) {
            value += e;
            i += 2;
          } else {
            value += d;
            i++;
          }
        } else if (d === "`") {
          refuse("command substitution (`…`) is not allowed");
        } else if (d === "$") {
          checkDollar(s, i, true);
          value += d;
          i++;
        } else {
          value += d;
          i++;
        }
      }
    } else if (c === "\\") {
      if (i + 1 >= s.length) refuse("a trailing backslash is not allowed");
      value += s[i + 1];
      i += 2;
    } else if (c === "`") {
      refuse("command substitution (`…`) is not allowed");
    } else if (c === "$") {
      checkDollar(s, i, false);
      value += c;
      i++;
    } else if (c === "*" || c === "?" || c === "[") {
      refuse("unquoted glob characters (* ? [) are not allowed: no shell expands them here, quote them");
    } else if (c === "{" || c === "}") {
      refuse("unquoted braces ({ }) are not allowed: no brace expansion or command groups, quote them");
    } else if (c === "~") {
      refuse("an unquoted ~ is not allowed: no tilde expansion, write the full path");
    } else if (c === "#" && i === start) {
      refuse("comments (#) are not allowed");
    } else {
      value += c;
      i++;
    }
  }
  return [value, i];
}

/** A `$` is literal unless a shell would expand it; expansions are refused. */
function checkDollar(s: string, i: number, quoted: boolean): void {
  const next = s[i + 1] ?? "";
  if (next === "(") {
    refuse(
      s[i + 2] === "(" ? "arithmetic expansion $((…)) is not allowed" : "command substitution $(…) is not allowed",
    );
  }
  if (next === "[") refuse("arithmetic expansion $[…] is not allowed");
  if (next !== "" && /[A-Za-z0-9_{@*#?$!-]/.test(next))
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
    refuse("parameter expansion ($NAME, ${…}) is not allowed: the command runs without a shell");
  if (!quoted && next === "'") refuse("$'…' quoting is not allowed");
  if (!quoted && next === '"') refuse('$"…" quoting is not allowed');
}
