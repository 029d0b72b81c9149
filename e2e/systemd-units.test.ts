import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./lib/global-setup.js";

const unitDir = join(repoRoot, "deploy/systemd");
const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;

function cli(bin: string, ...args: string[]): string {
  const run = spawnSync(process.execPath, [join(repoRoot, bin), ...args], { encoding: "utf8" });
  return run.stdout + run.stderr;
}

/** The unit's ExecStart joined over its continuation lines. */
function execStart(unit: string): string {
  const joined = unit.replace(/\\\n\s*/g, " ");
  const line = /^ExecStart=(.*)$/m.exec(joined)?.[1];
  if (!line) throw new Error("no ExecStart");
  return line;
}

const readEnv = (name: string) => readFileSync(join(unitDir, name), "utf8");
const envNames = (text: string) => [...text.matchAll(/^#?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1] as string);

describe("the systemd units in deploy/systemd", () => {
  let dir: string;
  let server: string;
  let daemon: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-units-"));
    server = await readFile(join(unitDir, "fluid-server.service"), "utf8");
    daemon = await readFile(join(unitDir, "fluid-daemon.service"), "utf8");
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.runIf(hasAnalyze)("pass systemd-analyze verify with this checkout installed at /opt/fluid", async () => {
    const paths: string[] = [];
    for (const [name, text] of [
      ["fluid-server.service", server],
      ["fluid-daemon.service", daemon],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, text.replaceAll("/opt/fluid", repoRoot));
      paths.push(path);
    }
    const verify = spawnSync("systemd-analyze", ["verify", ...paths], { encoding: "utf8" });
    expect(verify.stderr + verify.stdout).toBe("");
    expect(verify.status).toBe(0);
  });

  it.skipIf(hasAnalyze)("are verified by systemd-analyze (skipped: systemd-analyze is not installed)", () => {});

  it("start the installed CLIs with flags they know, and read only variables they document", () => {
    const serverCommand = execStart(server);
    expect(serverCommand).toBe("/opt/fluid/packages/server/bin/fluid-server.js");
    const serverHelp = cli("packages/server/bin/fluid-server.js", "--help");
    for (const name of [
      ...envNames(server.replace(/^Environment=/gm, "")),
      ...envNames(readEnv("fluid-server.env.example")),
    ]) {
      expect(serverHelp, name).toContain(name);
    }

    const daemonCommand = execStart(daemon);
    expect(daemonCommand.startsWith("/opt/fluid/packages/daemon/bin/fluid-daemon.js run ")).toBe(true);
    const daemonHelp = cli("packages/daemon/bin/fluid-daemon.js", "run", "--help");
    const flags = [...daemonCommand.matchAll(/(--[a-z-]+)/g)].map((m) => m[1] as string);
    expect(flags.length).toBeGreaterThan(5);
    for (const flag of flags) expect(daemonHelp, flag).toContain(`${flag} `);
    // Every variable of the example is used by the unit's command line or documented by the daemon.
    for (const name of envNames(readEnv("fluid-daemon.env.example"))) {
      expect(daemonCommand.includes(`\${${name}}`) || daemonHelp.includes(name), name).toBe(true);
    }
  });

  it("leave sandboxes running when the daemon stops, and order after the network and PostgreSQL", () => {
    expect(daemon).toMatch(/^KillMode=process$/m);
    expect(server).toMatch(/^KillMode=mixed$/m);
    for (const unit of [server, daemon]) {
      expect(unit).toMatch(/^Restart=on-failure$/m);
      expect(unit).toMatch(/^After=network-online\.target/m);
      expect(unit).toMatch(/^Wants=network-online\.target$/m);
    }
    expect(server).toMatch(/^After=.*postgresql\.service/m);
    expect(server).toMatch(/^User=fluid$/m);
  });
});
