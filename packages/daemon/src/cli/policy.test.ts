import { spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { REFUSED_EXIT_CODE, registerPolicyCommands } from "./policy.js";

const boot = `const { main } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, "..", "main.ts")).href)}); await main(process.argv.slice(1));`;

/** The real `fluid-daemon` from source (main.ts under tsx), so exit codes are the real ones. */
function fluidDaemon(args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", boot, "--", ...args], {
      env: { PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("fluid-daemon policy", () => {
  const cli = async (...args: string[]) => {
    let out = "";
    let code = 0;
    const program = new Command("fluid-daemon").exitOverride();
    registerPolicyCommands(program, {
      stdout: { write: (text: string) => (out += text) },
      setExitCode: (value) => {
        code = value;
      },
    });
    await program.parseAsync(args, { from: "user" });
    return { out, code };
  };

  it("check prints allowed for an allowed command", async () => {
    expect(await cli("policy", "check", "--", "cat /etc/os-release | grep ID")).toEqual({ out: "allowed\n", code: 0 });
  });

  it("check prints the reason and sets exit status 3 for a refused command", async () => {
    expect(await cli("policy", "check", "--", "find / -exec rm '{}' ';'")).toEqual({
      out: "refused: find -exec runs commands\n",
      code: REFUSED_EXIT_CODE,
    });
    expect(await cli("policy", "check", "--", "ls > /tmp/x")).toEqual({
      out: "refused: output redirection is not allowed\n",
      code: 3,
    });
  });

  it("shell prints the generated restricted shell", async () => {
    const { out } = await cli("policy", "shell");
    expect(out.startsWith("#!/usr/bin/perl\n")).toBe(true);
    expect(out).toContain("$POLICY = {");
  });

  it("holds the contract as a process: exit 0 / exit 3", async () => {
    expect(await fluidDaemon(["policy", "check", "--", "cat /etc/os-release | grep ID"])).toEqual({
      code: 0,
      stdout: "allowed\n",
      stderr: "",
    });
    expect(await fluidDaemon(["policy", "check", "--", "xargs rm"])).toEqual({
      code: 3,
      stdout: "refused: xargs is not on the read-only allowlist (it runs other commands)\n",
      stderr: "",
    });
  });
});
