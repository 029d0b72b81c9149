import { describe, expect, it } from "vitest";
import { checkCommand } from "./check.js";
import { parseCommand } from "./parse.js";

describe("parseCommand", () => {
  it("splits pipelines and commands into plain argvs", () => {
    expect(parseCommand("cat /etc/os-release | grep ID && uptime; false || echo 'a b'")).toEqual({
      ok: true,
      pipelines: [
        {
          connector: null,
          commands: [
            ["cat", "/etc/os-release"],
            ["grep", "ID"],
          ],
        },
        { connector: "&&", commands: [["uptime"]] },
        { connector: ";", commands: [["false"]] },
        { connector: "||", commands: [["echo", "a b"]] },
      ],
    });
  });

  it("joins quoted pieces and escapes into one word", () => {
    const parsed = parseCommand(`ca""t 'a'"b"c\\ d "q\\"\\$\\\\x\\y" ''`);
    expect(parsed).toEqual({
      ok: true,
      pipelines: [{ connector: null, commands: [["cat", "abc d", 'q"$\\x\\y', ""]] }],
    });
  });

  it("keeps operators inside quotes as text", () => {
    expect(parseCommand("grep 'a|b;c&&d>e<f(g)' \"*?[~#\"")).toEqual({
      ok: true,
      pipelines: [{ connector: null, commands: [["grep", "a|b;c&&d>e<f(g)", "*?[~#"]] }],
    });
  });

  it("keeps # and = inside words, and only refuses assignments as the first word", () => {
    expect(parseCommand("echo a#b x=1")).toEqual({
      ok: true,
      pipelines: [{ connector: null, commands: [["echo", "a#b", "x=1"]] }],
    });
    expect(parseCommand("ls; A=1 id")).toEqual({
      ok: false,
      reason: "environment assignments (NAME=value) are not allowed",
    });
  });

  it("refuses the first problem it meets", () => {
    expect(parseCommand("ls > x $(id)")).toEqual({ ok: false, reason: "output redirection is not allowed" });
  });

  it("returns the parsed pipelines from checkCommand", () => {
    const decision = checkCommand("echo hi | tr a-z A-Z");
    expect(decision).toEqual({
      allowed: true,
      pipelines: [
        {
          connector: null,
          commands: [
            ["echo", "hi"],
            ["tr", "a-z", "A-Z"],
          ],
        },
      ],
    });
  });
});
