import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executionLimits } from "./rules.js";
import { readonlyShellScript } from "./shell.js";

/**
 * Layer 2 contains what it runs: these run the real Perl shell locally, with short limits, and look for
 * leftovers by process group (never by program name: other tests and workers run awk too).
 */

let dir: string;
/** Deadline 3 s, output cap 1000 bytes, 256 MiB of address space. */
let script: string;
/** The same with a 20 s deadline, for commands that must be stopped by something else. */
let patientScript: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fluid-containment-"));
  const limits = {
    wallSeconds: 3,
    cpuSeconds: 30,
    addressSpaceBytes: 256 * 1024 * 1024,
    outputBytes: 1000,
    killGraceSeconds: 1,
  };
  script = join(dir, "fluid-readonly-shell");
  await writeFile(script, readonlyShellScript(limits), { mode: 0o755 });
  patientScript = join(dir, "fluid-readonly-shell-20s");
  await writeFile(patientScript, readonlyShellScript({ ...limits, wallSeconds: 20 }), { mode: 0o755 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Proc {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
}

function processes(): Proc[] {
  const found: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // it ended while we looked
    }
    // the command name, in parentheses, may itself hold spaces and parentheses
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    found.push({ pid: Number(name), state: state!, ppid: Number(ppid), pgrp: Number(pgrp) });
  }
  return found;
}

/** Live (not zombie) members of a process group. */
const liveMembers = (pgrp: number) => processes().filter((p) => p.pgrp === pgrp && p.state !== "Z");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(probe: () => T | undefined, ms: number): Promise<T> {
  for (const until = Date.now() + ms; Date.now() < until; await sleep(50)) {
    const value = probe();
    if (value !== undefined) return value;
  }
  throw new Error(`nothing after ${ms} ms`);
}

/** The session the shell runs its command in: its child leads it; resolves once the command is running. */
async function commandGroup(shellPid: number): Promise<number> {
  return waitFor(() => {
    const leader = processes().find((p) => p.ppid === shellPid);
    if (leader === undefined || leader.pgrp !== leader.pid) return undefined;
    return liveMembers(leader.pid).some((p) => p.pid !== leader.pid) ? leader.pid : undefined;
  }, 5000);
}

function exited(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => {
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

describe("fluid-readonly-shell contains runaway commands", () => {
  it("by default every limit is set, and the deadline is the API's longest timeout", () => {
    expect(executionLimits.wallSeconds).toBe(600);
    for (const value of Object.values(executionLimits)) expect(value).toBeGreaterThan(0);
  });

  it("runs each program under the CPU, address space, file size and process limits", async () => {
    const child = spawn("perl", [script, "-c", "cat /proc/self/limits"], { env: {} });
    const result = await exited(child);
    const limit = (name: string) => new RegExp(`^${name} +([0-9]+) +([0-9]+)`, "m").exec(result.stdout)?.slice(1);
    expect(limit("Max cpu time")).toEqual(["30", "31"]);
    expect(limit("Max address space")).toEqual([`${256 * 1024 * 1024}`, `${256 * 1024 * 1024}`]);
    expect(limit("Max file size")).toEqual([`${executionLimits.fileSizeBytes}`, `${executionLimits.fileSizeBytes}`]);
    expect(limit("Max processes")).toEqual([`${executionLimits.processes}`, `${executionLimits.processes}`]);
  });

  it("kills an endless awk loop at the deadline and leaves no process of its group behind", async () => {
    const child = spawn("perl", [script, "-c", "awk 'BEGIN{while(1);}'"], { env: {} });
    const done = exited(child);
    const group = await commandGroup(child.pid!);
    expect(group).not.toBe(child.pid);
    const result = await done;
    expect(result.code).toBe(124);
    expect(result.stderr).toBe("fluid-readonly-shell: stopped: the command ran longer than 3 seconds\n");
    expect(result.ms).toBeGreaterThanOrEqual(1900);
    expect(result.ms).toBeLessThan(3000 + 1000 + 1500);
    expect(liveMembers(group)).toEqual([]);
  });

  it("kills the command's whole group when its parent (sshd) dies", async () => {
    const sshd = spawn(
      "perl",
      [
        "-e",
        '$| = 1; my $pid = fork // die; if (!$pid) { exec @ARGV } print "$pid\\n"; sleep 60',
        "perl",
        patientScript,
        "-c",
        "awk 'BEGIN{while(1);}'",
      ],
      { env: {}, stdio: ["ignore", "pipe", "inherit"] },
    );
    sshd.stdout!.setEncoding("utf8");
    const shellPid = Number(await new Promise<string>((resolve) => sshd.stdout!.once("data", resolve)));
    const group = await commandGroup(shellPid);
    sshd.kill("SIGKILL");
    // long before the deadline: the shell notices within half a second, then one second of grace at most
    await waitFor(() => (liveMembers(group).length === 0 ? true : undefined), 2500);
    await waitFor(() => (processes().some((p) => p.pid === shellPid && p.state !== "Z") ? undefined : true), 1000);
  });

  it("kills the command's whole group on SIGHUP", async () => {
    const child = spawn("perl", [script, "-c", "awk 'BEGIN{while(1);}'"], { env: {} });
    const done = exited(child);
    const group = await commandGroup(child.pid!);
    child.kill("SIGHUP");
    const result = await done;
    expect(result.code).toBe(129);
    expect(result.ms).toBeLessThan(2500);
    expect(liveMembers(group)).toEqual([]);
  });

  it("kills the command's whole group once its output has nowhere to go", async () => {
    // busy for about a second (silent), then it floods standard output
    const command = "awk 'BEGIN{for(i=0;i<20000000;i++); while(1)print 1}'";
    const child = spawn("perl", [patientScript, "-c", command], { env: {} });
    const done = exited(child);
    const group = await commandGroup(child.pid!);
    child.stdout!.destroy();
    const result = await done;
    expect(result.code).toBe(129);
    expect(result.ms).toBeLessThan(10_000);
    expect(liveMembers(group)).toEqual([]);
  });

  it("stops a memory bomb at the address-space limit, long before the deadline", async () => {
    const child = spawn("perl", [script, "-c", `awk 'BEGIN{s="x";while(1)s=s s}'`], { env: {} });
    const result = await exited(child);
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBe(124);
    expect(result.stderr).toContain("out of memory");
    expect(result.ms).toBeLessThan(2000);
  });

  it("cuts the output at the cap and stops the command", async () => {
    const child = spawn("perl", [script, "-c", `awk 'BEGIN{while(1)print "xxxxxxxxx"}'`], { env: {} });
    const result = await exited(child);
    expect(result.code).toBe(125);
    expect(result.stdout).toBe("xxxxxxxxx\n".repeat(100));
    expect(result.stderr).toBe("fluid-readonly-shell: stopped: the command printed more than 1000 bytes\n");
  });

  it("still returns the exit status and output of commands that finish", async () => {
    const result = await exited(spawn("perl", [script, "-c", "echo hi | tr a-z A-Z; false"], { env: {} }));
    expect(result).toMatchObject({ code: 1, stdout: "HI\n", stderr: "" });
  });
});
