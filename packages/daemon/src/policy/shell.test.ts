import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCommand } from "./check.js";
import * as rules from "./rules.js";
import { readonlyShellScript, toPerl } from "./shell.js";

let dir: string;
let script: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fluid-readonly-shell-"));
  script = join(dir, "fluid-readonly-shell");
  await writeFile(script, readonlyShellScript(), { mode: 0o755 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function shell(args: string[], env: Record<string, string> = {}, input?: Buffer) {
  const result = spawnSync("perl", [script, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", FOO: "secret", ...env },
    input,
    maxBuffer: 16 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe("fluid-readonly-shell runs allowed commands without a shell", () => {
  it("is valid Perl using only perl-base modules", async () => {
    const text = readonlyShellScript();
    expect(spawnSync("perl", ["-c", script]).status).toBe(0);
    const modules = [...text.matchAll(/^use ([A-Za-z:]+)/gm)].map((match) => match[1]);
    expect(modules.sort()).toEqual(["POSIX", "strict", "warnings"]);
    expect(text).toMatch(/^\$POLICY = \{/m);
  });

  it("pipes: echo hello | tr a-z A-Z", () => {
    expect(shell(["-c", "echo hello | tr a-z A-Z"])).toEqual({ status: 0, stdout: "HELLO\n", stderr: "" });
  });

  it("&&, || and ; follow exit statuses", () => {
    expect(shell(["-c", "false && echo no; echo yes"]).stdout).toBe("yes\n");
    expect(shell(["-c", "false || echo fallback"]).stdout).toBe("fallback\n");
    expect(shell(["-c", "true && echo one || echo two"]).stdout).toBe("one\n");
    expect(shell(["-c", "false && echo one || echo two"]).stdout).toBe("two\n");
  });

  it("returns the exit status of the last pipeline, which is that of its last command", () => {
    expect(shell(["-c", "echo a; false"]).status).toBe(1);
    expect(shell(["-c", "false; true"]).status).toBe(0);
    expect(shell(["-c", "true | false"]).status).toBe(1);
    expect(shell(["-c", "false | true"]).status).toBe(0);
    expect(shell(["-c", "ls /nonexistent-fluid-dir"]).status).toBe(2);
  });

  it("passes words literally: nothing is expanded or interpreted", () => {
    expect(shell(["-c", "echo 'a;b' '$HOME' \"x|y\" 'a*'"]).stdout).toBe("a;b $HOME x|y a*\n");
  });

  it("refuses with the reason on stderr and exit status 126, running nothing", () => {
    const refused = shell(["-c", "echo hi; rm -rf /"]);
    expect(refused).toEqual({
      status: 126,
      stdout: "",
      stderr: "refused: rm is not on the read-only allowlist (it deletes files)\n",
    });
    expect(shell(["-c", "cat /etc/shadow"]).stderr).toBe(
      "refused: /etc/shadow is not readable: it holds password hashes\n",
    );
  });

  it("refuses an interactive login (no command) with exit status 1", () => {
    expect(shell([])).toEqual({ status: 1, stdout: "", stderr: "interactive login is not permitted\n" });
    expect(shell(["-l"]).status).toBe(1);
  });

  it("takes the command from SSH_ORIGINAL_COMMAND", () => {
    expect(shell(["-c", "/usr/local/bin/fluid-readonly-shell"], { SSH_ORIGINAL_COMMAND: "echo from-ssh" }).stdout).toBe(
      "from-ssh\n",
    );
    expect(shell([], { SSH_ORIGINAL_COMMAND: "sudo id" }).status).toBe(126);
    // ForceCommand without a client command: an interactive login
    expect(shell(["-c", "/usr/local/bin/fluid-readonly-shell"])).toEqual({
      status: 1,
      stdout: "",
      stderr: "interactive login is not permitted\n",
    });
  });

  it("runs commands in / with a clean environment", () => {
    const result = shell(["-c", "env"]);
    const names = result.stdout
      .trim()
      .split("\n")
      .map((line) => line.split("=")[0])
      .sort();
    expect(names).toEqual(["DPKG_PAGER", "HOME", "LANG", "PAGER", "PATH", "SYSTEMD_PAGER"]);
    expect(result.stdout).toContain("PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
    expect(result.stdout).toContain("LANG=C.UTF-8\n");
    expect(shell(["-c", "realpath ."]).stdout).toBe("/\n");
  });

  it("--check answers without running anything", () => {
    expect(shell(["--check", "-c", "echo hi"])).toEqual({ status: 0, stdout: "allowed\n", stderr: "" });
    expect(shell(["--check", "-c", "ls > x"])).toEqual({
      status: 126,
      stdout: "refused: output redirection is not allowed\n",
      stderr: "",
    });
  });

  it("--check is only an argv mode: as a command it is just an unknown program", () => {
    expect(shell(["-c", "--check"]).stderr).toBe("refused: --check is not on the read-only allowlist\n");
  });

  it("refuses to run from the template without policy data", async () => {
    const template = join(dir, "template.pl");
    await writeFile(template, await readFile(new URL("./fluid-readonly-shell.pl", import.meta.url), "utf8"));
    const result = spawnSync("perl", [template, "-c", "id"]);
    expect(result.status).not.toBe(0);
    expect(result.stderr.toString()).toContain("the policy data is missing");
  });
});

describe("toPerl", () => {
  it("serialises data as Perl literals that nothing interpolates", () => {
    expect(toPerl({ a: ["x'y", "back\\slash", "$not @interp"], b: null, c: 3, d: true, e: undefined })).toBe(
      "{'a' => ['x\\'y', 'back\\\\slash', '$not @interp'], 'b' => undef, 'c' => 3, 'd' => 1}",
    );
    const result = spawnSync("perl", ["-e", `my $v = ${toPerl({ s: "x'y\\z $a @b" })}; print $v->{s}`]);
    expect(result.stdout.toString()).toBe("x'y\\z $a @b");
  });
});

/** Deterministic random command lines from tricky pieces: both layers must give the same answer. */
describe("differential fuzzing of the two layers", () => {
  it("agrees on 8000 generated commands", () => {
    const pieces = [
      "cat",
      "ls",
      "sed",
      "awk",
      "find",
      "sort",
      "ip",
      "systemctl",
      "journalctl",
      "top",
      "ping",
      "date",
      "rm",
      "env",
      " ",
      " ",
      " ",
      "\t",
      "|",
      "||",
      "&&",
      ";",
      "&",
      ">",
      "<",
      "(",
      ")",
      "{",
      "}",
      "'",
      '"',
      "\\",
      "$",
      "`",
      "*",
      "~",
      "#",
      "=",
      "-",
      "--",
      "-n",
      "-i",
      "-e",
      "-o",
      "-f",
      "-c",
      "--output=",
      "--fol",
      "/",
      "/etc/shadow",
      "..",
      ".",
      "/dev/null",
      "/proc/1/environ",
      "p",
      "s/a/b/",
      "e",
      "w",
      "x",
      "status",
      "restart",
      "a",
      "show",
      "-b",
      "1",
      "100",
      "+%s",
      "{print}",
      "system(",
      "getline",
      "é",
      "\u0430",
      "@",
      ":",
      "!",
      "%",
      "A=b",
      "-exec",
      "-delete",
      "/usr/bin/",
    ];
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.floor(seed / 65536) % n;
    };
    const programs = Object.keys(rules.programs);
    const words = [
      "-n",
      "-e",
      "-i",
      "-o",
      "-f",
      "-c",
      "-b",
      "-s",
      "-a",
      "-l",
      "-t",
      "-p",
      "-u",
      "-bn1",
      "-c3",
      "-Tc",
      "-ro/x",
      "--output=/tmp/x",
      "--fol",
      "--no-pager",
      "--set",
      "--",
      "1",
      "5",
      "100",
      "+%s",
      "show",
      "list",
      "status",
      "restart",
      "a",
      "link",
      "route",
      "set",
      "/etc/hosts",
      "/etc/shadow",
      "etc/shadow",
      "/etc/../etc/passwd",
      "/proc/1/environ",
      "/root/.ssh/id_rsa.pub",
      "'{print $1}'",
      "'$3 > 1'",
      "'BEGIN{system(1)}'",
      "p",
      "'1,5p'",
      "'s/a/b/g'",
      "'s/a/b/e'",
      "'w /x'",
      "'1{p;q}'",
      "-exec",
      "-delete",
      "-name",
      "'*.conf'",
      "x",
      "@x",
      "-x@",
    ];
    const commands = new Set<string>();
    for (let attempt = 0; commands.size < 4000 && attempt < 100_000; attempt++) {
      const length = 1 + random(8);
      let command = "";
      for (let k = 0; k < length; k++) command += pieces[random(pieces.length)];
      commands.add(command);
    }
    for (let attempt = 0; commands.size < 8000 && attempt < 100_000; attempt++) {
      const pipeline = () => {
        const argv = [programs[random(programs.length)]];
        for (let k = random(4); k > 0; k--) argv.push(words[random(words.length)]!);
        return argv.join(" ");
      };
      let command = pipeline();
      for (let k = random(3); k > 0; k--) command += ` ${["|", "&&", "||", ";"][random(4)]} ${pipeline()}`;
      commands.add(command);
    }
    const list = [...commands];
    const frames = Buffer.concat(
      list.flatMap((command) => {
        const bytes = Buffer.from(command, "utf8");
        return [Buffer.from(`${bytes.length}\n`), bytes];
      }),
    );
    const answers = shell(["--check-batch"], {}, frames).stdout.split("\n").slice(0, -1);
    expect(answers).toHaveLength(list.length);
    const disagreements = list.flatMap((command, index) => {
      const decision = checkCommand(command);
      const expected = decision.allowed ? "allowed" : `refused: ${decision.reason}`;
      return expected === answers[index] ? [] : [{ command, layer1: expected, layer2: answers[index] }];
    });
    expect(disagreements).toEqual([]);
    // the generator must exercise both outcomes
    expect(answers.filter((answer) => answer === "allowed").length).toBeGreaterThan(100);
  });
});
