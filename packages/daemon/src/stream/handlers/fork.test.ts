import { create } from "@bufbuild/protobuf";
import { ForkSandboxCommandSchema } from "@fluid/proto";
import { describe, expect, it } from "vitest";
import { SandboxError } from "../../errors.js";
import type { SandboxManager } from "../../sandboxes/manager.js";
import type { CreateInput } from "../../sandboxes/types.js";
import { forkSandbox } from "./fork.js";

type Clone = Omit<CreateInput, "image" | "vcpus" | "memoryMb">;

/** A manager holding one snapshot (snap-1 of parent-1) whose fork fails for the clone named `failOn`. */
function fakeManager(failOn?: string) {
  const forked: Clone[] = [];
  const destroyed: Array<{ id: string; reason: string }> = [];
  const manager = {
    getSnapshot: async (id: string) => {
      if (id !== "snap-1") throw new SandboxError("not_found", `no snapshot ${id} on this host`);
      return { id, sandbox_id: "parent-1" };
    },
    fork: async (_snapshotId: string, clones: Clone[]) =>
      clones.map((clone) => {
        if (clone.name === failOn) throw new SandboxError("no_capacity", "not enough memory");
        forked.push(clone);
        const n = forked.length;
        return {
          id: clone.id,
          name: clone.name,
          state: "RUNNING",
          ip: `10.0.0.${10 + n}`,
          mac: `52:54:00:00:00:0${n}`,
          tap: `fl-tap${n}`,
          pid: 100 + n,
        };
      }),
    destroy: async (id: string, reason: string) => {
      destroyed.push({ id, reason });
    },
  } as unknown as SandboxManager;
  return { manager, forked, destroyed };
}

const command = (clones: Array<{ sandboxId: string; name: string }>, snapshotId = "snap-1", parent = "parent-1") =>
  create(ForkSandboxCommandSchema, {
    parentSandboxId: parent,
    snapshotId,
    clones: clones.map((c) => ({ ...c, ttlSeconds: 600, allowEgress: true, agentId: "a1" })),
  });

describe("forkSandbox", () => {
  it("forks every clone from the snapshot and answers with each one's identity, in order", async () => {
    const { manager, forked } = fakeManager();
    const before = Date.now();
    const reply = await forkSandbox(
      manager,
      command([
        { sandboxId: "c1", name: "web-fork-1" },
        { sandboxId: "c2", name: "web-fork-2" },
      ]),
    );
    expect(forked.map((c) => [c.id, c.name, c.allowEgress, c.agentId])).toEqual([
      ["c1", "web-fork-1", true, "a1"],
      ["c2", "web-fork-2", true, "a1"],
    ]);
    expect(forked[0]?.expiresAt).toBeGreaterThanOrEqual(before + 600_000);
    expect(reply).toEqual({
      case: "sandboxesForked",
      value: {
        sandboxes: [
          {
            sandboxId: "c1",
            name: "web-fork-1",
            state: "RUNNING",
            ipAddress: "10.0.0.11",
            macAddress: "52:54:00:00:00:01",
            bridge: "fluid0",
            pid: 101,
          },
          {
            sandboxId: "c2",
            name: "web-fork-2",
            state: "RUNNING",
            ipAddress: "10.0.0.12",
            macAddress: "52:54:00:00:00:02",
            bridge: "fluid0",
            pid: 102,
          },
        ],
      },
    });
  });

  it("destroys the clones it made when a later one fails, and reports the failure", async () => {
    const { manager, destroyed } = fakeManager("web-fork-3");
    const fork = forkSandbox(
      manager,
      command([
        { sandboxId: "c1", name: "web-fork-1" },
        { sandboxId: "c2", name: "web-fork-2" },
        { sandboxId: "c3", name: "web-fork-3" },
      ]),
    );
    await expect(fork).rejects.toMatchObject({ code: "no_capacity", message: "not enough memory" });
    expect(destroyed).toEqual([
      { id: "c1", reason: "create_failed" },
      { id: "c2", reason: "create_failed" },
    ]);
  });

  it("refuses a snapshot of another sandbox before creating anything", async () => {
    const { manager, forked } = fakeManager();
    await expect(
      forkSandbox(manager, command([{ sandboxId: "c1", name: "x" }], "snap-1", "someone-else")),
    ).rejects.toMatchObject({ code: "invalid_request" });
    expect(forked).toEqual([]);
  });

  it("answers not_found for a snapshot this host does not have", async () => {
    const { manager } = fakeManager();
    await expect(forkSandbox(manager, command([{ sandboxId: "c1", name: "x" }], "snap-9"))).rejects.toMatchObject({
      code: "not_found",
    });
  });
});
