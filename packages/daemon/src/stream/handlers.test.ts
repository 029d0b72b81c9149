import { create } from "@bufbuild/protobuf";
import { ControlMessageSchema, SnapshotMode } from "@fluid/proto";
import { describe, expect, it } from "vitest";
import type { SandboxManager } from "../sandboxes/manager.js";
import type { PullOptions, SourceHosts } from "../sources/source-host.js";
import type { VmAccess } from "../sources/vm-access.js";
import { type CreateProgress, handleCommand } from "./handlers.js";

const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

describe("createSandbox from a source VM", () => {
  const pulls: Array<{ vm: string; options: PullOptions }> = [];
  const hosts = {
    connect: () => ({
      pull: async (vm: string, options: PullOptions) => {
        pulls.push({ vm, options });
        options.onProgress?.({ phase: "snapshot", bytesCopied: 0, totalBytes: undefined });
        for (let i = 1; i <= 50; i++) {
          options.onProgress?.({ phase: "copy", bytesCopied: i << 20, totalBytes: 50 << 20 });
        }
        options.onProgress?.({ phase: "commit", bytesCopied: 50 << 20, totalBytes: 50 << 20 });
        options.onProgress?.({ phase: "done", bytesCopied: 50 << 20, totalBytes: 50 << 20 });
        return {
          image: `src-h1-${vm}`,
          fluidGuest: vm === "web-1",
          warnings: ["install qemu-guest-agent"],
          cached: vm === "old-copy",
          capturedAt: "2026-01-02T03:04:05.000Z",
        };
      },
    }),
  } as unknown as SourceHosts;
  const booted: string[] = [];
  const manager = {
    create: async (input: { id: string; image: string }) => {
      booted.push(input.image);
      return { id: input.id, name: "n", state: "RUNNING", ip: "10.0.0.2", mac: null, tap: "t", pid: 9 };
    },
  } as unknown as SandboxManager;

  it("reports each pull phase, a copy's bytes at most once a second, then boot, and boots the pulled image", async () => {
    const progress: CreateProgress[] = [];
    const reply = await handleCommand(
      manager,
      create(ControlMessageSchema, {
        requestId: "r1",
        payload: {
          case: "createSandbox",
          value: {
            sandboxId: "s1",
            sourceVm: "web-1",
            snapshotMode: SnapshotMode.FRESH,
            sourceHostConnection: { type: "libvirt", sshHost: "192.0.2.1", sshPrivateKey: key, sourceHostId: "h1" },
          },
        },
      }),
      { hosts, access: {} as VmAccess },
      (p) => progress.push(p),
    );
    expect(pulls).toMatchObject([{ vm: "web-1", options: { fresh: true } }]);
    expect(progress).toEqual([
      { sandboxId: "s1", phase: "snapshot", bytesDone: 0, bytesTotal: 0 },
      { sandboxId: "s1", phase: "copy", bytesDone: 1 << 20, bytesTotal: 50 << 20 },
      { sandboxId: "s1", phase: "commit", bytesDone: 50 << 20, bytesTotal: 50 << 20 },
      { sandboxId: "s1", phase: "boot", bytesDone: 0, bytesTotal: 0 },
    ]);
    expect(booted).toEqual(["src-h1-web-1"]);
    expect(reply).toMatchObject({ case: "sandboxCreated", value: { sandboxId: "s1", state: "RUNNING" } });
  });

  const createFrom = (sourceVm: string) =>
    handleCommand(
      manager,
      create(ControlMessageSchema, {
        requestId: "r2",
        payload: {
          case: "createSandbox",
          value: {
            sandboxId: "s2",
            sourceVm,
            sourceHostConnection: { type: "libvirt", sshHost: "192.0.2.1", sshPrivateKey: key, sourceHostId: "h1" },
          },
        },
      }),
      { hosts, access: {} as VmAccess },
    );

  it("refuses, with the pull's warnings, a VM whose disk cannot boot as a sandbox", async () => {
    await expect(createFrom("no-agent")).rejects.toMatchObject({
      code: "invalid_argument",
      message: "no-agent cannot boot as a sandbox: install qemu-guest-agent",
    });
    expect(booted).not.toContain("src-h1-no-agent");
  });

  it("says when the refused disk is an old cached copy that a fresh pull could replace", async () => {
    await expect(createFrom("old-copy")).rejects.toMatchObject({
      message: expect.stringContaining("this is the copy captured 2026-01-02T03:04:05.000Z; fresh pulls it again"),
    });
  });
});
