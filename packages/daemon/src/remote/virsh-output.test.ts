import { describe, expect, it } from "vitest";
import {
  parseDomBlkList,
  parseDomIfAddr,
  parseDomIfList,
  parseDomInfo,
  parseNameList,
  reachableIpv4,
  sameBlockDevices,
} from "./virsh-output.js";

// Captured from libvirt 9.0 (Debian 12) with LC_ALL=C.
const dominfo = `Id:             1
Name:           fluid-probe-src
UUID:           a2d8c231-9288-45f2-a5dd-4f29a3e9cc8a
OS Type:        hvm
State:          running
CPU(s):         2
CPU time:       8.4s
Max memory:     524288 KiB
Used memory:    524288 KiB
Persistent:     yes
Autostart:      disable
Managed save:   no
Security model: none
Security DOI:   0
Messages:       tainted: running with undesirable elevated privileges

`;

const domifaddr = ` Name       MAC address          Protocol     Address
-------------------------------------------------------------------------------
 lo         00:00:00:00:00:00    ipv4         127.0.0.1/8
 -          -                    ipv6         ::1/128
 eth0       52:54:00:fa:07:02    ipv4         10.231.7.2/24
 -          -                    ipv4         10.231.8.2/24
 -          -                    ipv6         fe80::5054:ff:fefa:702/64
 eth1       52:54:00:fa:07:03    ipv4         169.254.3.3/16

`;

const domblklist = ` Type   Device   Target   Source
-----------------------------------------------------------
 file   disk     vda      /var/lib/libvirt/images/web 1.qcow2
 block  disk     vdb      /dev/vg0/data
 file   cdrom    sda      -
 network disk    vdc      pool/volume

`;

describe("virsh output parsers", () => {
  it("dominfo: state, vCPUs and memory", () => {
    expect(parseDomInfo(dominfo)).toEqual({ state: "running", vcpus: 2, maxMemoryMb: 512, persistent: true });
    expect(parseDomInfo("State:          shut off\nMax memory:     2 GiB\n")).toMatchObject({
      state: "shut off",
      maxMemoryMb: 2048,
      vcpus: undefined,
    });
    expect(() => parseDomInfo("nothing")).toThrow(/State/);
  });

  it("domifaddr: addresses with their interface, continuation rows included", () => {
    const addresses = parseDomIfAddr(domifaddr);
    expect(addresses.map((a) => `${a.interface} ${a.address}/${a.prefix}`)).toEqual([
      "lo 127.0.0.1/8",
      "lo ::1/128",
      "eth0 10.231.7.2/24",
      "eth0 10.231.8.2/24",
      "eth0 fe80::5054:ff:fefa:702/64",
      "eth1 169.254.3.3/16",
    ]);
    expect(reachableIpv4(addresses)).toEqual(["10.231.7.2", "10.231.8.2"]);
    expect(parseDomIfAddr(" Name       MAC address          Protocol     Address\n-----\n\n")).toEqual([]);
  });

  it("domblklist --details: the source is the rest of the line, '-' is an empty drive", () => {
    expect(parseDomBlkList(domblklist)).toEqual([
      { type: "file", device: "disk", target: "vda", source: "/var/lib/libvirt/images/web 1.qcow2" },
      { type: "block", device: "disk", target: "vdb", source: "/dev/vg0/data" },
      { type: "file", device: "cdrom", target: "sda", source: undefined },
      { type: "network", device: "disk", target: "vdc", source: "pool/volume" },
    ]);
  });

  it("compares disk lists exactly", () => {
    const a = parseDomBlkList(domblklist);
    expect(sameBlockDevices(a, parseDomBlkList(domblklist))).toBe(true);
    const changed = a.map((d) => (d.target === "vda" ? { ...d, source: `${d.source}.fluid-pull-1.qcow2` } : d));
    expect(sameBlockDevices(a, changed)).toBe(false);
    expect(sameBlockDevices(a, a.slice(1))).toBe(false);
  });

  it("list --name and domiflist", () => {
    expect(parseNameList("web\nsbx-1\n\n")).toEqual(["web", "sbx-1"]);
    expect(
      parseDomIfList(
        " Interface   Type     Source    Model    MAC\n------\n vnet0       bridge   flsrcp0   virtio   52:54:00:FA:07:02\n\n",
      ),
    ).toEqual(["52:54:00:fa:07:02"]);
  });
});
