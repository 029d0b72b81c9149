/**
 * Rules that are code rather than data: checks of awk programs and sed scripts. Each function has a Perl
 * twin of the same name in fluid-readonly-shell.pl (`check_awk_program`, `check_sed_script`); the shared
 * table test proves the two agree. Both return a refusal reason or null.
 */

const AWK_WORDS: [string, string][] = [
  ["system", "awk system() runs commands"],
  ["getline", "awk getline can read from commands and files"],
  ["close", "awk close() is only useful with pipes and redirections"],
  ["fflush", "awk fflush() is only useful with pipes and redirections"],
  ["ENVIRON", "awk ENVIRON is not allowed"],
  ["PROCINFO", "awk PROCINFO is not allowed"],
  ["ARGV", "awk ARGV changes which files are read, past the path policy"],
  ["ARGC", "awk ARGC changes which files are read, past the path policy"],
  ["SYMTAB", "gawk SYMTAB reaches every variable by name (ARGV, ENVIRON)"],
  ["FUNCTAB", "gawk FUNCTAB reaches every function by name"],
];

/**
 * A conservative awk rule: no `system`, `getline`, `close`, `fflush`, `ENVIRON`, `PROCINFO`, `ARGV`, `ARGC`,
 * `SYMTAB`, `FUNCTAB` (as identifiers),
 * no `|` (pipes to and from commands), no `>` (output redirection; comparisons can be written with `<`), no
 * `@` (gawk's @load/@include and indirect calls).
 */
export function checkAwkProgram(program: string): string | null {
  for (const [word, reason] of AWK_WORDS) {
    if (new RegExp(`(^|[^A-Za-z0-9_])${word}([^A-Za-z0-9_]|$)`).test(program)) return reason;
  }
  if (program.includes("|")) return "awk pipes (|) run commands";
  if (program.includes(">")) return "awk output redirection (>) writes files; write comparisons with <";
  if (program.includes("@")) return "gawk @-directives (@load, @include) are not allowed";
  return null;
}

const SED_SIMPLE = "=dDgGhHnNpPxzF";

/**
 * Parses a sed script (one -e chunk) as GNU sed does and refuses the commands that execute, read or write
 * files: `e`, `r`, `R`, `w`, `W`, and the `e` and `w` flags of `s`. Anything the parser does not know is
 * refused too, so a script is only allowed when every command in it was recognised.
 */
export function checkSedScript(script: string): string | null {
  const n = script.length;
  let i = 0;
  let failure: string | null = null;
  const fail = (reason: string) => {
    failure = reason;
    return false;
  };
  const spaces = () => {
    while (script[i] === " " || script[i] === "\t") i++;
  };
  const digits = () => {
    const start = i;
    while (i < n && script[i]! >= "0" && script[i]! <= "9") i++;
    return i > start;
  };
  // GNU sed refuses multibyte delimiters; checking bytes here keeps this UTF-16 code and the Perl twin
  // (which sees bytes) in agreement
  const singleByte = (delimiter: string) => delimiter.charCodeAt(0) <= 0x7f;
  // up to an unescaped delimiter, as GNU sed's match_slash (no bracket tracking)
  const delimited = (delimiter: string) => {
    while (i < n) {
      const c = script[i]!;
      if (c === delimiter) {
        i++;
        return true;
      }
      i += c === "\\" ? 2 : 1;
    }
    return fail("unterminated sed regular expression or replacement");
  };
  const address = (): boolean | null => {
    const c = script[i];
    if (c !== undefined && c >= "0" && c <= "9") {
      digits();
      if (script[i] === "~") {
        i++;
        if (!digits()) return fail("sed address first~step needs a step");
      }
      return true;
    }
    if (c === "$") {
      i++;
      return true;
    }
    if (c === "/" || c === "\\") {
      let delimiter = "/";
      if (c === "\\") {
        delimiter = script[i + 1] ?? "";
        if (delimiter === "") return fail("unterminated sed address");
        if (!singleByte(delimiter)) return fail("sed delimiters must be ASCII characters");
        i++;
      }
      i++;
      if (!delimited(delimiter)) return false;
      while (script[i] === "I" || script[i] === "M") i++;
      return true;
    }
    return null;
  };
  const afterCommand = (command: string) => {
    spaces();
    if (i >= n || script[i] === ";" || script[i] === "}") return true;
    return fail(`unexpected text after sed command '${command}'`);
  };

  const command = (): boolean => {
    const first = address();
    if (first === false) return false;
    if (first === true) {
      spaces();
      if (script[i] === ",") {
        i++;
        spaces();
        if (script[i] === "+" || script[i] === "~") {
          i++;
          if (!digits()) return fail("sed address +N/~N needs a number");
        } else {
          const second = address();
          if (second === false) return false;
          if (second === null) return fail("sed address range without an end");
        }
      }
    }
    spaces();
    while (script[i] === "!") {
      i++;
      spaces();
    }
    if (i >= n) return fail("sed address without a command");
    const c = script[i]!;
    i++;
    if (c === "{" || c === "}") return true;
    if (SED_SIMPLE.includes(c)) return afterCommand(c);
    if ("lLqQ".includes(c)) {
      spaces();
      digits();
      return afterCommand(c);
    }
    if ("btT:".includes(c)) {
      spaces();
      const start = i;
      while (i < n && /[A-Za-z0-9_]/.test(script[i]!)) i++;
      if (c === ":" && i === start) return fail("sed label ':' needs a name");
      return afterCommand(c);
    }
    if (c === "a" || c === "i" || c === "c") {
      // GNU one-line form: the text runs to the end of the chunk and is never a command
      i = n;
      return true;
    }
    if (c === "s" || c === "y") {
      const delimiter = script[i];
      if (delimiter === undefined || delimiter === "\\") return fail(`sed ${c} command needs a delimiter`);
      if (!singleByte(delimiter)) return fail("sed delimiters must be ASCII characters");
      i++;
      if (!delimited(delimiter) || !delimited(delimiter)) return false;
      if (c === "s") {
        for (;;) {
          const flag = script[i];
          if (flag === "e") return fail("sed s///e runs the pattern space as a command");
          if (flag === "w") return fail("sed s///w writes a file");
          if (flag !== undefined && "gpiImM0123456789".includes(flag)) i++;
          else break;
        }
      }
      return afterCommand(c);
    }
    if (c === "e") return fail("sed e runs commands");
    if (c === "r" || c === "R") return fail(`sed ${c} reads files the path policy cannot check`);
    if (c === "w" || c === "W") return fail(`sed ${c} writes files`);
    if (c === "#") return fail("sed comments are not allowed");
    return fail(/^[!-~]$/.test(c) ? `unsupported sed command '${c}'` : "unsupported sed command");
  };

  for (;;) {
    while (i < n && (script[i] === " " || script[i] === "\t" || script[i] === ";")) i++;
    if (i >= n) return null;
    if (!command()) return failure;
  }
}
