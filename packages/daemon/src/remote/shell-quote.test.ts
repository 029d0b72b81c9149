import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { quoteArg, remoteCommand } from "./shell-quote.js";

/** What a POSIX login shell makes of a remote command line: the argv printf receives. */
function shellWords(line: string): string[] {
  const result = spawnSync("sh", ["-c", `printf '%s\\0' ${line}`], { encoding: "utf8" });
  expect(result.status).toBe(0);
  return result.stdout.split("\0").slice(0, -1);
}

const hostile = [
  "web-1",
  "",
  "a b  c",
  "it's",
  "'",
  "''",
  '"double"',
  "$(touch /tmp/fluid-pwned)",
  "`id`",
  "; rm -rf / #",
  "a && b || c | d & e",
  "*",
  "~root",
  "$HOME $" + "{PATH}",
  "-rf",
  "--diskspec=vda,snapshot=no",
  "\\",
  "tab\there",
  "ünïcødé ☃",
  "!event",
  "<in >out 2>&1",
];

describe("remote command quoting", () => {
  it("single-quotes every element, writing a quote as '\\''", () => {
    expect(quoteArg("web-1")).toBe("'web-1'");
    expect(quoteArg("it's")).toBe("'it'\\''s'");
    expect(quoteArg("")).toBe("''");
    expect(remoteCommand(["virsh", "dominfo", "a b"])).toBe("'virsh' 'dominfo' 'a b'");
  });

  it("a POSIX shell splits the line back into exactly the original argv", () => {
    expect(shellWords(remoteCommand(hostile))).toEqual(hostile);
  });

  it("refuses NUL and line breaks, and an empty command", () => {
    for (const bad of ["a\nb", "a\rb", "a\0b"]) expect(() => quoteArg(bad)).toThrow(/NUL or line breaks/);
    expect(() => remoteCommand([])).toThrow(/empty/);
  });
});
