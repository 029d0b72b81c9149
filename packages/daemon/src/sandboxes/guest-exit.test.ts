import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guestPoweredOff } from "./guest-exit.js";

describe("guestPoweredOff", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-guest-exit-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const log = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };

  it("a guest that powered off or halted ends its serial log with the kernel saying so", async () => {
    const boot = `${"[    0.000000] Linux version 6.1.0\r\n".repeat(300)}fluid boot: ok\r\n`;
    expect(await guestPoweredOff(await log("off", `${boot}[   42.1] reboot: Power down\r\n`))).toBe(true);
    expect(await guestPoweredOff(await log("halt", `${boot}[   42.1] reboot: System halted\n\n`))).toBe(true);
  });

  it("a panic, a log cut short or no log at all is no clean power-off", async () => {
    const panic = "[ 3.2] Kernel panic - not syncing: Attempted to kill init!\n[ 3.2] ---[ end Kernel panic ]---\n";
    expect(await guestPoweredOff(await log("panic", panic))).toBe(false);
    expect(await guestPoweredOff(await log("running", "[ 1.0] systemd[1]: Started fluid-agent.service\n"))).toBe(false);
    expect(await guestPoweredOff(join(dir, "missing"))).toBe(false);
  });
});
