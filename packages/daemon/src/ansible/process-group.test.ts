import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { runInProcessGroup } from "./process-group.js";

const options = { env: { PATH: "/usr/bin:/bin" }, cwd: tmpdir(), maxLogBytes: 1024 };

/** Running, as opposed to gone or a zombie nobody has reaped yet (PID 1 here may not reap). */
const running = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

describe("runInProcessGroup", () => {
  it("reports the exit status and interleaved output", async () => {
    const result = await runInProcessGroup(["sh", "-c", "echo out; echo err >&2; exit 2"], {
      ...options,
      timeoutMs: 10_000,
    });
    expect(result).toMatchObject({ exitCode: 2, timedOut: false, logTruncated: false });
    expect(result.log.split("\n").sort()).toEqual(["", "err", "out"]);
  });

  it("kills the whole group at the timeout, children included", async () => {
    const result = await runInProcessGroup(["sh", "-c", "sleep 60 & echo $!; wait"], {
      ...options,
      timeoutMs: 500,
      graceMs: 500,
    });
    const child = Number(result.log.trim());
    expect(result).toMatchObject({ exitCode: -1, timedOut: true });
    expect(result.durationMs).toBeLessThan(5_000);
    expect(running(child)).toBe(false);
  });

  it("keeps only the end of a long output", async () => {
    const result = await runInProcessGroup(["sh", "-c", "seq 1 2000"], { ...options, timeoutMs: 10_000 });
    expect(result.logTruncated).toBe(true);
    expect(Buffer.byteLength(result.log)).toBeLessThanOrEqual(1024);
    expect(result.log.endsWith("1999\n2000\n")).toBe(true);
  });
});
