import { describe, expect, it } from "vitest";
import type { ExecResult } from "../agent/client.js";
import { GuestAgentError } from "../agent/client.js";
import { SandboxError } from "../errors.js";
import { type QuiesceAgent, withQuiescedGuest } from "./quiesce.js";

const exited = (exitCode: number, stderr = ""): ExecResult => ({
  exitCode,
  stdout: Buffer.alloc(0),
  stderr: Buffer.from(stderr),
  stdoutTruncated: false,
  stderrTruncated: false,
  timedOut: false,
  durationMs: 1,
});

/** Records what the daemon asked of the guest, in order. */
function fakeAgent(behaviour: { freeze?: "ok" | "unsupported"; syncExit?: number | "lost" } = {}) {
  const calls: string[] = [];
  const agent: QuiesceAgent = {
    async freezeFilesystems() {
      calls.push("freeze");
      if (behaviour.freeze === "unsupported") throw new GuestAgentError("CommandNotFound", "fsfreeze not supported");
      return 1;
    },
    async thawFilesystems() {
      calls.push("thaw");
      return 1;
    },
    async execArgv(argv) {
      calls.push(argv.join(" "));
      if (behaviour.syncExit === "lost") throw new Error("guest agent connection closed");
      return exited(behaviour.syncExit ?? 0, "sync: I/O error");
    },
  };
  return { agent, calls };
}

const options = { maxFrozenMs: 5_000 };

describe("withQuiescedGuest", () => {
  it("takes a disk snapshot with the guest's filesystems frozen, so its page cache is on disk first", async () => {
    const { agent, calls } = fakeAgent();
    const result = await withQuiescedGuest(
      agent,
      async () => {
        calls.push("snapshot");
        return "taken";
      },
      options,
    );
    expect(result).toBe("taken");
    expect(calls).toEqual(["freeze", "snapshot", "thaw"]);
  });

  it("never leaves the guest frozen when the snapshot fails", async () => {
    const { agent, calls } = fakeAgent();
    const failing = withQuiescedGuest(
      agent,
      async () => {
        throw new Error("disk full");
      },
      options,
    );
    await expect(failing).rejects.toThrow("disk full");
    expect(calls).toEqual(["freeze", "thaw"]);
  });

  it("syncs the guest instead where its agent cannot freeze", async () => {
    const { agent, calls } = fakeAgent({ freeze: "unsupported" });
    const warnings: string[] = [];
    await withQuiescedGuest(agent, async () => calls.push("snapshot"), {
      ...options,
      onWarning: (message) => warnings.push(message),
    });
    expect(calls).toEqual(["freeze", "thaw", "sync", "snapshot"]);
    expect(warnings).toHaveLength(1);
  });

  it("refuses the snapshot with a clear error when the guest can neither freeze nor sync", async () => {
    for (const syncExit of [1, "lost"] as const) {
      const { agent, calls } = fakeAgent({ freeze: "unsupported", syncExit });
      const refused = withQuiescedGuest(agent, async () => calls.push("snapshot"), options);
      await expect(refused).rejects.toThrow(SandboxError);
      await expect(refused).rejects.toThrow(/neither freeze .*fsfreeze not supported.* nor sync/);
      expect(calls).not.toContain("snapshot");
    }
  });

  it("thaws the guest at the freeze bound and fails a snapshot still running then", async () => {
    const { agent, calls } = fakeAgent();
    let finish: () => void = () => undefined;
    const slow = withQuiescedGuest(
      agent,
      () =>
        new Promise<void>((resolve) => {
          finish = resolve;
        }),
      { maxFrozenMs: 20 },
    );
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls).toEqual(["freeze", "thaw"]);
    finish();
    await expect(slow).rejects.toThrow(/longer than 20 ms with the guest frozen/);
    expect(calls).toEqual(["freeze", "thaw"]);
  });
});
