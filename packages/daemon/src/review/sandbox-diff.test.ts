import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GuestReader, recordListeningBaseline } from "../agent/guest-sockets.js";
import { runChecked } from "../system/run.js";
import { withRoot } from "./disk-view.js";
import { diffSandbox } from "./sandbox-diff.js";

const IMAGE = "/var/lib/fluid/images/debian-12/rootfs.qcow2";
const ready = existsSync("/dev/fuse") && existsSync(IMAGE) && process.getuid?.() === 0;

describe.skipIf(!ready)("diffSandbox (needs root, /dev/fuse and the debian-12 image)", () => {
  let scratch: string;
  let overlay: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "fluid-review-test-"));
    overlay = join(scratch, "disk.qcow2");
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-b", IMAGE, "-F", "qcow2", overlay]);
  });

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it("misses what a running guest has not yet flushed to its disk", async () => {
    // The fake guest's flush is what puts its pending write on the disk.
    const manager = {
      disks: async () => ({ overlay, base: IMAGE, rootDevice: "/dev/vda" }),
      flush: () => withRoot(overlay, (root) => writeFile(join(root, "etc/pending.conf"), "x\n"), { writable: true }),
      get: async () => ({ state: "STOPPED", dir: scratch }),
      agent: () => Promise.reject(new Error("a stopped sandbox has no guest")),
    };
    const { diff } = await diffSandbox(manager, "sbx-1");
    expect(diff.changes.map((c) => `${c.kind} ${c.action} ${c.path}`)).toContain("file added /etc/pending.conf");
  });

  describe("ports", () => {
    const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    const listen = (hex: string, inode: number) =>
      `   0: ${hex} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0 100 0 0 10 0\n`;
    /** A guest whose agent shows these TCP listeners and no process owners. */
    const guest = (tcp: string): GuestReader => ({
      readFile: async (path) => {
        if (path !== "/proc/net/tcp") throw new Error(`no ${path}`);
        return { data: Buffer.from(header + tcp), truncated: false };
      },
      execArgv: () => Promise.reject(new Error("no process listing")),
    });
    const manager = (state: string) => ({
      disks: async () => ({ overlay, base: IMAGE, rootDevice: "/dev/vda" }),
      flush: async () => undefined,
      get: async () => ({ state, dir: scratch }),
      agent: async () => guest(listen("00000000:0016", 11) + listen("0100007F:1F90", 12)),
    });

    beforeAll(async () => {
      await recordListeningBaseline(guest(listen("00000000:0016", 11)), scratch, pino({ level: "silent" }));
    });

    it("compares a running sandbox's listeners with those of its first boot", async () => {
      const { diff } = await diffSandbox(manager("RUNNING"), "sbx-1", { noise: { replace: [] } });
      expect(diff.changes.filter((c) => c.kind === "port")).toEqual([
        {
          kind: "port",
          action: "added",
          name: "tcp/127.0.0.1:8080",
          protocol: "tcp",
          address: "127.0.0.1",
          port: 8080,
        },
      ]);
    });

    it("gives a stopped sandbox no port changes", async () => {
      const { diff } = await diffSandbox(manager("STOPPED"), "sbx-1", { noise: { replace: [] } });
      expect(diff.changes.filter((c) => c.kind === "port")).toEqual([]);
    });
  });
});
