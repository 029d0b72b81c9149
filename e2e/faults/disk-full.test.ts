import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { open, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "../lib/daemon.js";
import { startServer, type TestServerProcess } from "../lib/server.js";
import { until } from "../lib/wait.js";
import { inventory, removeBridge } from "./host-inventory.js";
import { report, timed, timeUntil } from "./measure.js";

const isRoot = process.getuid?.() === 0;
/** Room for the sandbox's record but not for its overlay's metadata, so the create fails half-way. */
const HEADROOM_BYTES = 192 * 1024;

/** Writes until the filesystem refuses (ENOSPC); returns the bytes written. */
async function fill(path: string): Promise<number> {
  const file = await open(path, "w");
  let written = 0;
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          written += (await file.write(chunk)).bytesWritten;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw err;
        }
      }
    }
  } finally {
    await file.close().catch(() => undefined);
  }
  return written;
}

/**
 * The daemon's state dir on a tmpfs the test mounts, filled to the last byte. The tmpfs is just above
 * the 1 GiB of disk placement asks of a host, so once freed the host takes sandboxes again.
 */
describe.skipIf(!isRoot)("fault: disk full on the daemon's state dir (needs root to mount a tmpfs)", () => {
  const bridge = `fldsk${randomBytes(3).toString("hex")}`;
  const base = mkdtempSync(join(tmpdir(), "fluid-faults-disk-"));
  const mount = join(base, "mnt");
  let server: TestServerProcess;
  let daemon: TestDaemonProcess;
  let key: string;
  let hostId: string;
  const filler = join(mount, "filler");

  beforeAll(async () => {
    mkdirSync(mount);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1100m", "fluid-faults-disk", mount]);
    server = await startServer();
    ({ key } = await server.bootstrap("diskfault"));
    const token = await server.call("POST", "/v1/orgs/diskfault/hosts/tokens", { key, body: { name: "h" } });
    hostId = token.body.id;
    daemon = await startDaemon({
      network: "bridge",
      bridge,
      subnet: "10.93.82.0/24",
      stateDir: join(mount, "state"),
      extraArgs: ["--server", server.grpc, "--insecure", "--token", token.body.token],
    });
    await until(
      async () => (await server.call("GET", `/v1/orgs/diskfault/hosts/${hostId}`, { key })).body.status === "ONLINE",
    );
  });

  afterAll(async () => {
    await rm(filler, { force: true });
    await rm(`${filler}-2`, { force: true });
    await daemon?.dispose();
    await server?.dispose();
    removeBridge(bridge);
    try {
      execFileSync("umount", [mount]);
    } catch {
      // not mounted
    }
    rmSync(base, { recursive: true, force: true });
  });

  const hostDiskMb = async () =>
    Number((await server.call("GET", `/v1/orgs/diskfault/hosts/${hostId}`, { key })).body.available_disk_mb);
  const create = () =>
    server.call("POST", "/v1/orgs/diskfault/sandboxes", { key, body: { source_vm: "tiny", memory_mb: 256 } });

  it("a create on a full disk fails with a clear error, leaves nothing half-made, and the daemon keeps serving", async () => {
    const filled = await fill(filler);
    // On the daemon itself (its local API): the create reaches the full disk.
    const { ms: localMs, value: local } = await timed(() => daemon.api.create({}));
    const localLeft = await inventory(daemon.stateDir, bridge, daemon.process.child.pid);
    // A little room: the record fits, the VM's files do not all fit.
    await truncate(filler, filled - HEADROOM_BYTES);
    const { ms: partlyMs, value: partly } = await timed(() => daemon.api.create({}));
    const partlyLeft = await inventory(daemon.stateDir, bridge, daemon.process.child.pid);
    await fill(`${filler}-2`);
    // Through the control plane, once a heartbeat has told it the host's disk is full.
    const heartbeatMs = await timeUntil(async () => (await hostDiskMb()) < 1024, 60_000, 250);
    const { ms: placedMs, value: placed } = await timed(create);
    const placedLeft = await inventory(daemon.stateDir, bridge, daemon.process.child.pid);

    await rm(filler);
    await rm(`${filler}-2`);
    const recoverMs = await timeUntil(async () => (await create()).status === 201, 90_000, 1_000);
    const list = await daemon.api.call("GET", "/v1/sandboxes");
    report("disk full", {
      filledBytes: filled,
      daemonCreate: { status: local.status, error: local.body?.error, ms: localMs, left: localLeft },
      daemonCreateWithHeadroom: { status: partly.status, error: partly.body?.error, ms: partlyMs, left: partlyLeft },
      heartbeatMs,
      serverCreate: { status: placed.status, error: placed.body?.error, ms: placedMs, left: placedLeft },
      freedToCreateMs: recoverMs,
    });
    for (const [answer, ms, left] of [
      [local, localMs, localLeft],
      [partly, partlyMs, partlyLeft],
    ] as const) {
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe("no_capacity");
      expect(answer.body.error.message).toMatch(/space|disk|full/i);
      expect(ms).toBeLessThan(60_000);
      expect(left).toEqual({ vms: [], zombies: [], dirs: [], taps: [], leases: [], unended: [] });
    }
    expect(placed.status).toBe(503);
    expect(placed.body.error.code).toBe("no_capacity");
    expect(placedLeft).toEqual(localLeft);
    expect(daemon.process.child.exitCode).toBeNull();
    expect(list.body.sandboxes.filter((sandbox: { state: string }) => sandbox.state === "RUNNING")).toHaveLength(1);
  });
});
