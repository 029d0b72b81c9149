import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFakeSourceHost, FAKE_PRIVATE_KEY, type FakeSourceHost } from "../testing/fake-source-host.js";
import { choosePullDisk, Libvirt, validateVmName } from "./libvirt.js";
import { SourceError } from "./source-error.js";
import { SshRunner } from "./ssh-runner.js";

const agentTable =
  " eth0       52:54:00:fa:07:02    ipv4         10.0.0.5/24\n lo   00:00:00:00:00:00  ipv4  127.0.0.1/8";
const hostileNames = [
  "web;reboot",
  "$(reboot)",
  "a b",
  "-c",
  "--all",
  "../etc",
  "`id`",
  "web\nother",
  "",
  "x".repeat(65),
  ".hidden",
];

describe("Libvirt over SSH (fake host)", () => {
  let fake: FakeSourceHost;
  let runner: SshRunner;

  beforeEach(async () => {
    fake = await createFakeSourceHost({
      domains: {
        web: {
          state: "running",
          vcpus: 2,
          memoryKiB: 2097152,
          disks: [{ type: "file", device: "disk", target: "vda", source: "/images/web.qcow2" }],
          macs: ["52:54:00:fa:07:02"],
          ifaddr: { agent: agentTable },
        },
        db: { state: "shut off", disks: [{ type: "file", device: "disk", target: "vda", source: "/images/db.qcow2" }] },
        "sbx-123": { state: "running", disks: [] },
        "evil;name": { state: "running", disks: [] },
      },
    });
    runner = new SshRunner(
      { host: "kvm1", user: "root", privateKey: FAKE_PRIVATE_KEY },
      { knownHostsFile: join(fake.dir, "known_hosts"), sshBinary: fake.sshBinary },
    );
  });

  afterEach(async () => {
    await fake.cleanup();
  });

  it("lists VMs with state, size and IP; skips sandboxes and reports names it will not touch", async () => {
    const list = await runner.session((remote) => new Libvirt(remote).listVMs());
    expect(list.vms).toEqual([
      {
        name: "web",
        state: "running",
        running: true,
        vcpus: 2,
        memoryMb: 2048,
        ipAddresses: ["10.0.0.5"],
        ipSource: "agent",
      },
      {
        name: "db",
        state: "shut off",
        running: false,
        vcpus: 1,
        memoryMb: 512,
        ipAddresses: [],
        ipSource: undefined,
      },
    ]);
    expect(list.skipped).toEqual([{ name: "evil;name", reason: "name has characters fluid does not handle" }]);
    const calls = await fake.virshCalls();
    // lease was tried first and failed; nothing ran for the skipped names; virsh -c only with a URI.
    expect(calls).toContainEqual(["domifaddr", "web", "--source", "lease"]);
    expect(calls.flat()).not.toContain("evil;name");
    expect(calls.flat()).not.toContain("sbx-123");
    expect((await fake.sshCalls()).filter((call) => call.master)).toHaveLength(1);
  });

  it("describes one VM without listing or querying the others", async () => {
    const web = await runner.session((remote) => new Libvirt(remote).vm("web"));
    expect(web).toMatchObject({ name: "web", running: true, ipAddresses: ["10.0.0.5"], ipSource: "agent" });
    const calls = await fake.virshCalls();
    expect(calls.flat()).not.toContain("list");
    expect(calls.flat()).not.toContain("db");
    await expect(runner.session((remote) => new Libvirt(remote).vm("gone"))).rejects.toMatchObject({
      kind: "not_found",
    });
  });

  it("passes the libvirt URI to every virsh call", async () => {
    await runner.session((remote) => new Libvirt(remote, { uri: "qemu:///system" }).dominfo("web"));
    expect(await fake.virshCalls()).toEqual([["-c", "qemu:///system", "dominfo", "web"]]);
    expect(() => new Libvirt({} as never, { uri: "qemu:///system; reboot" })).toThrow(/URI/);
  });

  it("validates a VM: running with a disk and an address, or the reasons it is not", async () => {
    const good = await runner.session((remote) => new Libvirt(remote).validate("web"));
    expect(good).toMatchObject({
      valid: true,
      running: true,
      ipAddresses: ["10.0.0.5"],
      macs: ["52:54:00:fa:07:02"],
      pullDisk: { target: "vda", source: "/images/web.qcow2" },
      errors: [],
    });
    const off = await runner.session((remote) => new Libvirt(remote).validate("db"));
    expect(off.valid).toBe(false);
    expect(off.errors).toEqual(["the VM is shut off, not running"]);
    expect(off.warnings).toContain("the VM has no network interface");
    const missing = await runner.session((remote) => new Libvirt(remote).validate("nope"));
    expect(missing.errors).toEqual(["no such VM on this host"]);
  });

  it("refuses hostile VM names before anything reaches the host", async () => {
    await runner.session(async (remote) => {
      const libvirt = new Libvirt(remote);
      for (const name of hostileNames) {
        expect(() => validateVmName(name), JSON.stringify(name)).toThrow(SourceError);
        await expect(libvirt.dominfo(name)).rejects.toThrow(/unsupported VM name/);
        await expect(libvirt.domblklist(name)).rejects.toThrow(/unsupported VM name/);
        await expect(libvirt.commitOverlay(name, "vda")).rejects.toThrow(/unsupported VM name/);
        expect((await libvirt.validate(name)).errors).toEqual(["unsupported VM name"]);
      }
    });
    expect(await fake.virshCalls()).toEqual([]);
  });

  it("picks the disk to copy: the first file or block disk, or the one asked for", () => {
    const disks = [
      { type: "file", device: "cdrom", target: "sda", source: "/iso/x.iso" },
      { type: "network", device: "disk", target: "vdc", source: "pool/vol" },
      { type: "block", device: "disk", target: "vdb", source: "/dev/vg/data" },
    ];
    expect(choosePullDisk(disks).target).toBe("vdb");
    expect(() => choosePullDisk(disks, "vdc")).toThrow(/network disk/);
    expect(() => choosePullDisk(disks, "vdz")).toThrow(/no disk vdz/);
    expect(() => choosePullDisk(disks, "vda;x")).toThrow(/invalid disk target/);
    expect(() => choosePullDisk([disks[1] as (typeof disks)[number]])).toThrow(/file or block disks only/);
  });
});
