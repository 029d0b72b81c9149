import { existsSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Libvirt } from "../remote/libvirt.js";
import { SourceError } from "../remote/source-error.js";
import { SshError } from "../remote/ssh-error.js";
import { SshRunner } from "../remote/ssh-runner.js";
import { run, runChecked } from "../system/run.js";
import {
  createFakeSourceHost,
  FAKE_PRIVATE_KEY,
  type FakeLibvirtState,
  type FakeSourceHost,
} from "../testing/fake-source-host.js";
import { flattenChain } from "./disk-chain.js";
import { type CopyDiskOptions, copyRunningVmDisk, type PullProgress } from "./pull.js";
import { PullJournal } from "./pull-journal.js";

describe("copyRunningVmDisk (fake libvirt host, real qemu-img)", () => {
  let fake: FakeSourceHost;
  let runner: SshRunner;
  let journal: PullJournal;
  let images: string;
  let work: string;
  let initial: FakeLibvirtState;

  beforeEach(async () => {
    fake = await createFakeSourceHost();
    images = join(fake.dir, "images");
    work = join(fake.dir, "work");
    await mkdir(images);
    await mkdir(work);
    const base = join(images, "base.qcow2");
    const top = join(images, "web, prod.qcow2");
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", base, "16M"]);
    await runChecked(["qemu-io", "-f", "qcow2", "-c", "write -P 0xaa 0 1M", base]);
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, top]);
    await runChecked(["qemu-io", "-f", "qcow2", "-c", "write -P 0xbb 4M 1M", top]);
    await runChecked(["qemu-img", "create", "-q", "-f", "raw", join(images, "data.raw"), "1M"]);
    initial = {
      domains: {
        web: {
          state: "running",
          disks: [
            { type: "file", device: "disk", target: "vda", source: top },
            { type: "file", device: "disk", target: "vdb", source: join(images, "data.raw") },
            { type: "file", device: "cdrom", target: "sda" },
          ],
        },
        off: { state: "shut off", disks: [{ type: "file", device: "disk", target: "vda", source: base }] },
      },
    };
    await fake.setLibvirt(initial);
    journal = new PullJournal(join(fake.dir, "state", "pulls"));
    runner = new SshRunner(
      { host: "kvm1", user: "root", privateKey: FAKE_PRIVATE_KEY },
      { knownHostsFile: join(fake.dir, "known_hosts"), sshBinary: fake.sshBinary },
    );
  });

  afterEach(async () => {
    await fake.cleanup();
  });

  const pull = (vm: string, extra: Partial<CopyDiskOptions> = {}) =>
    runner.session((remote) =>
      copyRunningVmDisk(new Libvirt(remote), remote, vm, { hostId: "kvm1", workDir: work, journal, ...extra }),
    );

  const commits = async () => (await fake.virshCalls()).filter((call) => call[0] === "blockcommit");
  const overlayFiles = async () => (await readdir(images)).filter((name) => name.includes(".fluid-pull-"));
  const expectRestored = async () => {
    expect((await fake.libvirt()).domains.web?.disks).toEqual(initial.domains.web?.disks);
    expect(await overlayFiles()).toEqual([]);
    expect(await readdir(journal.dir)).toEqual([]);
  };

  it("snapshots every disk, copies the frozen chain, commits each overlay back and verifies", async () => {
    const progress: PullProgress[] = [];
    const copied = await pull("web", { onProgress: (p) => progress.push(p) });

    expect(copied.disk.target).toBe("vda");
    expect(copied.layers.map((layer) => layer.format)).toEqual(["qcow2", "qcow2"]);
    const flat = join(work, "flat.qcow2");
    await flattenChain(copied.layers, flat);
    const compare = await run(["qemu-img", "compare", "-q", flat, join(images, "web, prod.qcow2")]);
    expect(compare.code).toBe(0);

    const calls = await fake.virshCalls();
    const snapshot = calls.find((call) => call[0] === "snapshot-create-as") ?? [];
    const tag = /^fluid-pull-([0-9a-f]{8})$/.exec(snapshot[2] ?? "")?.[1];
    expect(tag).toBeDefined();
    expect(snapshot).toEqual([
      "snapshot-create-as",
      "web",
      `fluid-pull-${tag}`,
      "--disk-only",
      "--atomic",
      "--no-metadata",
      "--diskspec",
      // the comma in the file name is doubled for virsh
      `vda,snapshot=external,file=${images}/web,, prod.qcow2.fluid-pull-${tag}.qcow2`,
      "--diskspec",
      `vdb,snapshot=external,file=${images}/data.raw.fluid-pull-${tag}.qcow2`,
      "--diskspec",
      "sda,snapshot=no",
    ]);
    expect(await commits()).toEqual([
      ["blockcommit", "web", "vda", "--active", "--shallow", "--pivot", "--timeout", "1740"],
      ["blockcommit", "web", "vdb", "--active", "--shallow", "--pivot", "--timeout", "1740"],
    ]);
    // Verification reads domblklist after the commits.
    expect(calls.at(-1)).toEqual(["domblklist", "web", "--details"]);
    await expectRestored();

    expect(progress.map((p) => p.phase)).toEqual(expect.arrayContaining(["snapshot", "copy", "commit"]));
    const copies = progress.filter((p) => p.phase === "copy");
    expect(copies.at(-1)?.bytesCopied).toBe(copied.bytesCopied);
    expect(copies.at(-1)?.totalBytes).toBe(copied.bytesCopied);
  });

  it("still commits back and cleans up when the copy fails", async () => {
    await fake.failCat(4096);
    const err = await pull("web").catch((error: unknown) => error);
    expect(err).toBeInstanceOf(SshError);
    expect((err as SshError).kind).toBe("command_failed");
    expect((err as SshError).message).toContain("Input/output error");
    expect(await commits()).toHaveLength(2);
    await expectRestored();
  });

  it("still commits back when the local disk is too small for the copy", async () => {
    await expect(pull("web", { freeBytes: async () => 1000 })).rejects.toThrow(/not enough space/);
    expect(await commits()).toHaveLength(2);
    await expectRestored();
  });

  it("fails loudly when the VM's disks are not what they were after the commit", async () => {
    await fake.setLibvirt({ ...initial, faults: { sourceAfterCommit: join(images, "elsewhere.qcow2") } });
    const err = await pull("web").catch((error: unknown) => error);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as SourceError).kind).toBe("disk_chain_changed");
    expect((err as SourceError).message).toMatch(/before vda=.*web, prod.qcow2.*now vda=.*elsewhere.qcow2/);
  });

  it("leaves a journal entry when an overlay cannot be merged back, and the next pull merges it first", async () => {
    await fake.setLibvirt({ ...initial, faults: { commitFailures: 2 } });
    const err = await pull("web").catch((error: unknown) => error);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as SourceError).kind).toBe("commit_failed");
    expect((err as SourceError).message).toContain("virsh blockcommit web vda --active --shallow --pivot");
    const left = await journal.pending("kvm1", "web");
    expect(left).toHaveLength(1);
    expect((await fake.libvirt()).domains.web?.disks[0]?.source).toContain(".fluid-pull-");

    // The daemon restarts (a fresh journal object on the same dir); the next pull recovers first.
    journal = new PullJournal(journal.dir);
    await pull("web");
    expect(await commits()).toHaveLength(6); // 2 failed, 2 recovery, 2 for the new pull
    await expectRestored();
  });

  it("does not commit anything when the snapshot itself fails", async () => {
    await fake.setLibvirt({ ...initial, faults: { snapshot: true } });
    await expect(pull("web")).rejects.toThrow(/unable to execute QEMU command 'transaction'/);
    expect(await commits()).toEqual([]);
    await expectRestored();
  });

  it("refuses VMs that are not running or already run on a fluid overlay, before any snapshot", async () => {
    await expect(pull("off")).rejects.toThrow(/shut off; fluid pulls running VMs/);
    await expect(pull("nope")).rejects.toThrow(/no VM nope/);
    const disks = initial.domains.web?.disks ?? [];
    await fake.setLibvirt({
      domains: {
        web: {
          state: "running",
          disks: [{ ...disks[0], source: `${disks[0]?.source}.fluid-pull-00000000.qcow2` } as (typeof disks)[number]],
        },
      },
    });
    await expect(pull("web")).rejects.toThrow(/temporary overlay of another fluid pull/);
    expect((await fake.virshCalls()).some((call) => call[0] === "snapshot-create-as")).toBe(false);
  });

  it("refuses a hostile VM name without running anything on the host", async () => {
    await expect(pull("web; virsh destroy web")).rejects.toThrow(/unsupported VM name/);
    expect(await fake.virshCalls()).toEqual([]);
    expect(existsSync(journal.dir)).toBe(false);
  });
});
