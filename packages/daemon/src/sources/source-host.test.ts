import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PullProgress } from "../clone/pull.js";
import { ImageStore } from "../images/store.js";
import { SourceError } from "../remote/source-error.js";
import { makeGuestDisk } from "../testing/fake-guest-disk.js";
import { createFakeSourceHost, FAKE_PRIVATE_KEY, type FakeSourceHost } from "../testing/fake-source-host.js";
import { type SourceHost, SourceHosts } from "./source-host.js";

describe("SourceHost: list and pull through SSH and virsh (fake host, real disk)", () => {
  let fake: FakeSourceHost;
  let dir: string;
  let hosts: SourceHosts;
  let host: SourceHost;
  let guestDisk: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-source-host-"));
    await mkdir(join(dir, "libvirt-images"));
    guestDisk = join(dir, "libvirt-images", "web.qcow2");
    await makeGuestDisk(dir, guestDisk, {
      kernelVersion: "6.1.0-99-amd64",
      modules: true,
      fluid: true,
      files: { "/etc/marker": "from the source VM" },
    });
    fake = await createFakeSourceHost({
      domains: {
        web: {
          state: "running",
          vcpus: 1,
          memoryKiB: 1048576,
          disks: [{ type: "file", device: "disk", target: "vda", source: guestDisk }],
          macs: ["52:54:00:00:00:01"],
          ifaddr: { lease: " vnet0      52:54:00:00:00:01    ipv4         192.168.122.10/24" },
        },
      },
    });
    hosts = new SourceHosts({
      stateDir: join(dir, "state"),
      images: new ImageStore(join(dir, "images")),
      ssh: { sshBinary: fake.sshBinary },
    });
    host = hosts.connect({ id: "kvm-1", ssh: { host: "kvm1.internal", user: "fluid", privateKey: FAKE_PRIVATE_KEY } });
  });

  afterAll(async () => {
    await fake?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it("lists the host's VMs", async () => {
    const list = await host.listVMs();
    expect(list.vms).toEqual([
      {
        name: "web",
        state: "running",
        running: true,
        vcpus: 1,
        memoryMb: 1024,
        ipAddresses: ["192.168.122.10"],
        ipSource: "lease",
      },
    ]);
  });

  it("pulls a VM into the image store, then serves it from the cache", async () => {
    const progress: PullProgress[] = [];
    const pulled = await host.pull("web", { onProgress: (p) => progress.push(p) });
    expect(pulled).toMatchObject({ image: "src-kvm-1-web", cached: false, hostId: "kvm-1", vm: "web" });
    expect(progress.map((p) => p.phase)).toEqual(
      expect.arrayContaining(["snapshot", "copy", "commit", "flatten", "boot-files", "done"]),
    );
    expect((await fake.libvirt()).domains.web?.disks[0]?.source).toBe(guestDisk);
    expect((await readdir(join(dir, "libvirt-images"))).sort()).toEqual(["web.qcow2"]);
    expect(await readdir(hosts.journal.dir)).toEqual([]);
    expect(await host.cached("web")).toMatchObject({ capturedAt: pulled.capturedAt });

    const again = await host.pull("web");
    expect(again.cached).toBe(true);
    expect((await fake.virshCalls()).filter((call) => call[0] === "snapshot-create-as")).toHaveLength(1);
  });

  it("refuses hostile names and bad host ids before connecting", async () => {
    const before = (await fake.sshCalls()).length;
    await expect(host.pull("web;id")).rejects.toThrow(SourceError);
    await expect(host.cached("../x")).rejects.toThrow(/unsupported VM name/);
    expect(() => hosts.connect({ id: "a/b", ssh: { host: "h", user: "u", privateKey: FAKE_PRIVATE_KEY } })).toThrow(
      /invalid source host id/,
    );
    expect((await fake.sshCalls()).length).toBe(before);
  });
});
