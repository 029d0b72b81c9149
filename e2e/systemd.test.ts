import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { buildImage } from "./lib/global-setup.js";
import { until } from "./lib/wait.js";

/** A unit as a VM's admin would add one: enabled for multi-user.target, marking /run (a tmpfs) when it starts. */
const HELLO_UNIT = [
  "[Unit]",
  "Description=e2e: a service enabled in the VM",
  "[Service]",
  "ExecStartPre=/bin/sh -c 'date +%s%N >> /run/hello.starts'",
  "ExecStart=/bin/sleep infinity",
  "[Install]",
  "WantedBy=multi-user.target",
  "",
].join("\n");

/**
 * A debian-12 sandbox boots its own systemd as PID 1 (boot: systemd, docs/guest-images.md): the
 * VM's enabled services start at boot, systemctl works, fluid's agent and sshd run as units, and a
 * shutdown from inside ends the sandbox as STOPPED. One VM serves every case, in order.
 */
describe.skipIf(process.getuid?.() !== 0)("debian-12 under systemd on a real QEMU microVM (needs root)", () => {
  let daemon: TestDaemonProcess;
  let id: string;
  const sh = async (command: string) => {
    const res = await daemon.api.run(id, command, { timeout_seconds: 120 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { stdout: string; stderr: string; exit_code: number };
  };
  const state = async () => (await daemon.api.call("GET", `/v1/sandboxes/${id}`)).body.state as string;

  beforeAll(async () => {
    buildImage("debian-12", inject("imageDir"));
    daemon = await startDaemon();
    const created = await daemon.api.create({ name: "sysd", image: "debian-12", memory_mb: 512 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    id = created.body.id;
  });

  afterAll(async () => {
    await daemon?.dispose();
  });

  it("PID 1 is the VM's systemd and the boot finishes running (or degraded), not offline", async () => {
    expect((await sh("cat /proc/1/comm")).stdout).toBe("systemd\n");
    const running = await sh("systemctl is-system-running --wait; systemctl --failed --no-legend --plain");
    expect(running.stdout.split("\n")[0], running.stdout).toMatch(/^(running|degraded)$/);
  });

  it("fluid's agent and sshd run as units, and the VM's own copies of them are masked for the boot", async () => {
    const units = await sh(
      "systemctl is-active fluid-boot fluid-agent fluid-sshd; systemctl is-enabled ssh qemu-guest-agent || true",
    );
    expect(units.stdout).toBe("active\nactive\nactive\nmasked-runtime\nmasked-runtime\n");
  });

  it("a unit enabled in the VM starts at boot", async () => {
    const put = await daemon.api.call(
      "PUT",
      `/v1/sandboxes/${id}/files?path=/etc/systemd/system/hello.service`,
      Buffer.from(HELLO_UNIT),
      "application/octet-stream",
    );
    expect(put.status).toBe(200);
    expect((await sh("systemctl enable hello.service")).exit_code).toBe(0);
    expect((await daemon.api.call("POST", `/v1/sandboxes/${id}/stop`, {})).body.state).toBe("STOPPED");
    expect((await daemon.api.call("POST", `/v1/sandboxes/${id}/start`)).body.state).toBe("RUNNING");
    await until(
      async () => (await sh("systemctl is-active hello.service || true")).stdout === "active\n",
      120_000,
      500,
    );
    expect((await sh("wc -l < /run/hello.starts")).stdout).toBe("1\n");
  });

  it("systemctl restart gives the service a new main process", async () => {
    const pid = async () => Number((await sh("systemctl show -p MainPID --value hello.service")).stdout.trim());
    const before = await pid();
    expect(before).toBeGreaterThan(1);
    expect((await sh("systemctl restart hello.service")).exit_code).toBe(0);
    const after = await pid();
    expect(after).toBeGreaterThan(1);
    expect(after).not.toBe(before);
    expect((await sh("wc -l < /run/hello.starts")).stdout).toBe("2\n");
  });

  it("sshd killed by its pid file (as a re-identified clone's is) comes back with a new pid", async () => {
    await until(async () => (await sh("test -s /run/sshd.pid && echo yes || true")).stdout === "yes\n", 60_000, 500);
    const before = (await sh("cat /run/sshd.pid")).stdout.trim();
    await sh('kill "$(cat /run/sshd.pid)"');
    await until(
      async () => {
        const now = await sh("systemctl is-active fluid-sshd; cat /run/sshd.pid 2>/dev/null || true");
        const [active, pid] = now.stdout.trim().split("\n");
        return active === "active" && pid !== undefined && pid !== before;
      },
      60_000,
      500,
    );
  });

  it("a disk snapshot of the running sandbox freezes its filesystems through the agent and restores the file", async () => {
    const data = Buffer.from("written through the agent\n");
    const put = await daemon.api.call(
      "PUT",
      `/v1/sandboxes/${id}/files?path=/root/h.txt`,
      data,
      "application/octet-stream",
    );
    expect(put.status).toBe(200);
    const snap = await daemon.api.call("POST", `/v1/sandboxes/${id}/snapshots`, { name: "s1" });
    expect(snap.status, JSON.stringify(snap.body)).toBe(201);
    await sh("echo changed > /root/h.txt; chmod 600 /root/h.txt; sync");
    const restored = await daemon.api.call("POST", `/v1/snapshots/${snap.body.id}/restore`, { sandbox_id: id });
    expect(restored.body.state).toBe("RUNNING");
    expect((await sh("cat /root/h.txt; stat -c %A /root/h.txt; cat /proc/1/comm")).stdout).toBe(
      `${data}-rw-r--r--\nsystemd\n`,
    );
  });

  it("shutdown -h now from inside powers the VM off and leaves the sandbox STOPPED", async () => {
    await sh("nohup sh -c 'sleep 1; shutdown -h now' >/dev/null 2>&1 &");
    await until(async () => (await state()) !== "RUNNING", 120_000, 500);
    expect(await state()).toBe("STOPPED");
  });
});
