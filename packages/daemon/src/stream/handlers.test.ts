import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { ControlMessageSchema, SnapshotMode } from "@fluid/proto";
import { describe, expect, it } from "vitest";
import type { ApplyAccess } from "../apply/access.js";
import { SandboxError } from "../errors.js";
import { withRoot } from "../review/disk-view.js";
import type { SandboxManager } from "../sandboxes/manager.js";
import type { PullOptions, SourceHosts } from "../sources/source-host.js";
import type { VmAccess } from "../sources/vm-access.js";
import { runChecked } from "../system/run.js";
import { type CreateProgress, commandHandlers, handleCommand } from "./handlers.js";

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
      { hosts, access: {} as VmAccess, apply: {} as ApplyAccess },
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
      { hosts, access: {} as VmAccess, apply: {} as ApplyAccess },
    );

  it("refuses, with the pull's warnings, a VM whose disk cannot boot as a sandbox", async () => {
    await expect(createFrom("no-agent")).rejects.toMatchObject({
      code: "invalid_request",
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

const IMAGE = "/var/lib/fluid/images/debian-12/rootfs.qcow2";
const diskReady = existsSync("/dev/fuse") && existsSync(IMAGE) && process.getuid?.() === 0;

function diffCommand(noiseOverrideJson = "", withPlaybook = false) {
  return create(ControlMessageSchema, {
    requestId: "r-diff",
    payload: { case: "diffSandbox", value: { sandboxId: "sbx-1", noiseOverrideJson, withPlaybook } },
  });
}

describe("diffSandbox", () => {
  it("refuses a noise override that is not valid JSON before touching a disk", async () => {
    const manager = { disks: () => Promise.reject(new Error("must not be reached")) } as unknown as SandboxManager;
    await expect(handleCommand(manager, diffCommand("{nope"))).rejects.toMatchObject({
      code: "invalid_request",
      message: "noise: not valid JSON",
    });
  });

  it.skipIf(!diskReady)("replies with the diff as JSON and its hash (needs root, /dev/fuse, debian-12)", async () => {
    const scratch = await mkdtemp(join(tmpdir(), "fluid-review-test-"));
    try {
      const overlay = join(scratch, "disk.qcow2");
      await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-b", IMAGE, "-F", "qcow2", overlay]);
      await withRoot(overlay, (root) => writeFile(join(root, "etc/app.conf"), "listen 8080\n"), { writable: true });
      const manager = {
        disks: async () => ({ overlay, base: IMAGE, rootDevice: "/dev/vda" }),
        flush: async () => undefined,
        get: async () => ({ state: "STOPPED", dir: scratch }),
      } as unknown as SandboxManager;
      const reply = await handleCommand(manager, diffCommand());
      expect(reply?.case).toBe("sandboxDiff");
      const value = reply?.value as { sandboxId: string; diffJson: Uint8Array; hash: string; playbookYaml: string };
      const diff = JSON.parse(Buffer.from(value.diffJson).toString("utf8"));
      expect(value.sandboxId).toBe("sbx-1");
      expect(value.hash).toBe(diff.hash);
      expect(diff.changes).toMatchObject([{ kind: "file", action: "added", path: "/etc/app.conf" }]);
      expect(value.playbookYaml).toBe("");
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it.skipIf(!diskReady)(
    "adds the generated playbook and its notes when asked (needs root, /dev/fuse, debian-12)",
    async () => {
      const scratch = await mkdtemp(join(tmpdir(), "fluid-review-test-"));
      try {
        const overlay = join(scratch, "disk.qcow2");
        await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-b", IMAGE, "-F", "qcow2", overlay]);
        await withRoot(
          overlay,
          async (root) => {
            await writeFile(join(root, "etc/default/ssh"), 'SSHD_OPTS="-o LogLevel=VERBOSE"\n');
            await writeFile(join(root, "usr/local/bin/tool"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]));
          },
          { writable: true },
        );
        const manager = {
          disks: async () => ({ overlay, base: IMAGE, rootDevice: "/dev/vda" }),
          flush: async () => undefined,
          get: async () => ({ state: "STOPPED", dir: scratch }),
        } as unknown as SandboxManager;
        const reply = await handleCommand(manager, diffCommand("", true));
        const value = reply?.value as { playbookYaml: string; playbookNotes: string[] };
        // /etc/default/ssh is openssh-server's, which ships ssh.service, enabled in the image.
        expect(value.playbookYaml).toContain('- name: "Write /etc/default/ssh"');
        expect(value.playbookYaml).toContain('notify:\n        - "Restart ssh.service"');
        expect(value.playbookNotes).toEqual([expect.stringMatching(/^\/usr\/local\/bin\/tool: binary/)]);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  );
});

describe("runPlaybook", () => {
  const asked: string[] = [];
  const manager = {
    sshAccess: async (id: string) => {
      asked.push(id);
      throw new SandboxError("invalid_state", "image tiny has no SSH server; use exec instead");
    },
  } as unknown as SandboxManager;
  const runPlaybook = (playbookYaml: string) =>
    handleCommand(
      manager,
      create(ControlMessageSchema, {
        requestId: "r3",
        payload: { case: "runPlaybook", value: { sandboxId: "s3", playbookYaml, check: true } },
      }),
    );

  it("answers with the sandbox's own error when it cannot be reached over SSH", async () => {
    await expect(runPlaybook("- hosts: all\n  tasks: []\n")).rejects.toMatchObject({
      code: "invalid_state",
      message: expect.stringContaining("no SSH server"),
    });
    expect(asked).toEqual(["s3"]);
  });

  it("refuses an empty playbook before touching the sandbox", async () => {
    asked.length = 0;
    await expect(runPlaybook("  \n")).rejects.toMatchObject({ code: "invalid_request" });
    expect(asked).toEqual([]);
  });
});

describe("the command table", () => {
  const manager = {} as SandboxManager;

  it("has a handler for every command the control plane can send", () => {
    const oneof = ControlMessageSchema.oneofs.find((o) => o.localName === "payload");
    const cases = oneof?.fields.map((f) => f.localName).filter((name) => name !== "registrationAck");
    expect(cases?.length).toBeGreaterThan(20);
    expect(cases?.filter((name) => !(name in commandHandlers))).toEqual([]);
  });

  it("refuses a message that is no command", async () => {
    const ack = create(ControlMessageSchema, { requestId: "r", payload: { case: "registrationAck", value: {} } });
    await expect(handleCommand(manager, ack)).rejects.toMatchObject({ code: "invalid_request" });
    await expect(handleCommand(manager, create(ControlMessageSchema, { requestId: "r" }))).rejects.toMatchObject({
      code: "invalid_request",
      message: "unknown command (empty)",
    });
  });

  it("answers source commands with unavailable on a host without source services", async () => {
    const list = create(ControlMessageSchema, { requestId: "r", payload: { case: "listSourceVms", value: {} } });
    await expect(handleCommand(manager, list)).rejects.toMatchObject({ code: "host_unavailable" });
  });

  it("refuses a file larger than a stream message may carry before touching the sandbox", async () => {
    const write = create(ControlMessageSchema, {
      requestId: "r",
      payload: {
        case: "writeFile",
        value: { sandboxId: "s", path: "/f", content: new Uint8Array(8 * 1024 * 1024 + 1) },
      },
    });
    await expect(handleCommand(manager, write)).rejects.toMatchObject({ code: "invalid_request" });
  });
});

describe("deleteSnapshot", () => {
  const deleted: string[] = [];
  const manager = {
    deleteSnapshot: async (id: string) => {
      if (id === "gone") throw new SandboxError("not_found", `no snapshot ${id} on this host`);
      if (id === "base") throw new SandboxError("invalid_state", "snapshot is the base of sandbox s1");
      deleted.push(id);
    },
  } as unknown as SandboxManager;
  const remove = (snapshotId: string) =>
    handleCommand(
      manager,
      create(ControlMessageSchema, { requestId: "r", payload: { case: "deleteSnapshot", value: { snapshotId } } }),
    );

  it("deletes the snapshot and says it existed", async () => {
    expect(await remove("snap-1")).toMatchObject({
      case: "snapshotDeleted",
      value: { snapshotId: "snap-1", existed: true },
    });
    expect(deleted).toEqual(["snap-1"]);
  });

  it("answers a snapshot the host no longer has as deleted, with existed false", async () => {
    expect(await remove("gone")).toMatchObject({
      case: "snapshotDeleted",
      value: { snapshotId: "gone", existed: false },
    });
  });

  it("refuses a snapshot another disk is built on with the host's own error", async () => {
    await expect(remove("base")).rejects.toMatchObject({ code: "invalid_state" });
  });
});
