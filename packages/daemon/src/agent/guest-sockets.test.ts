import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ExecResult } from "./client.js";
import {
  type GuestReader,
  loadListeningBaseline,
  readListeningSockets,
  recordListeningBaseline,
} from "./guest-sockets.js";

const HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const SSHD =
  "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0 100 0 0 10 0\n";
const NGINX =
  "   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3001 1 0 100 0 0 10 0\n";

/** A guest as its agent shows it: /proc files by path, and what `find … -exec ls -l` prints. */
function fakeGuest(files: Record<string, string>, fdListing = ""): GuestReader & { execs: number } {
  const guest = {
    execs: 0,
    readFile: async (path: string) => {
      const text = files[path];
      if (text === undefined) throw new Error(`no ${path}`);
      return { data: Buffer.from(text), truncated: false };
    },
    execArgv: async (): Promise<ExecResult> => {
      guest.execs++;
      return {
        exitCode: 0,
        stdout: Buffer.from(fdListing),
        stderr: Buffer.alloc(0),
        stdoutTruncated: false,
        stderrTruncated: false,
        timedOut: false,
        durationMs: 1,
      };
    },
  };
  return guest;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "fluid-sockets-test-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("a guest's listening sockets", () => {
  it("names each socket's process from the guest's fd links, the parent for shared sockets", async () => {
    const guest = fakeGuest(
      { "/proc/net/tcp": HEADER + SSHD + NGINX, "/proc/210/comm": "sshd\n", "/proc/300/comm": "nginx\n" },
      [
        "lrwx------ 1 root root 64 Dec  3 15:46 /proc/210/fd/3 -> socket:[2001]",
        "lrwx------ 1 www-data www-data 64 Dec  3 15:46 /proc/301/fd/6 -> socket:[3001]",
        "lrwx------ 1 root root 64 Dec  3 15:46 /proc/300/fd/6 -> socket:[3001]",
        "lr-x------ 1 root root 64 Dec  3 15:46 /proc/300/fd/0 -> /dev/null",
      ].join("\n"),
    );
    expect(await readListeningSockets(guest)).toEqual([
      { protocol: "tcp", address: "0.0.0.0", port: 22, inode: 2001, process: "sshd" },
      { protocol: "tcp", address: "127.0.0.1", port: 8080, inode: 3001, process: "nginx" },
    ]);
  });

  it("runs nothing in a guest that listens on nothing", async () => {
    const guest = fakeGuest({ "/proc/net/tcp": HEADER, "/proc/net/udp": HEADER });
    expect(await readListeningSockets(guest)).toEqual([]);
    expect(guest.execs).toBe(0);
  });

  it("keeps the first boot's record when the sandbox boots again", async () => {
    const log = pino({ level: "silent" });
    await recordListeningBaseline(fakeGuest({ "/proc/net/tcp": HEADER + SSHD }), dir, log);
    await recordListeningBaseline(fakeGuest({ "/proc/net/tcp": HEADER + SSHD + NGINX }), dir, log);
    expect((await loadListeningBaseline(dir))?.map((s) => s.port)).toEqual([22]);
  });

  it("treats a damaged record as no record", async () => {
    await writeFile(join(dir, "listening-baseline.json"), "{not json");
    expect(await loadListeningBaseline(dir)).toBeUndefined();
  });
});
