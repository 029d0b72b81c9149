import { describe, expect, it } from "vitest";
import { parseLinks } from "./links.js";

// Trimmed `ip -j -d link show` output (iproute2 6.1) with a bridge, a TAP on it and a veth pair.
const output = JSON.stringify([
  {
    ifindex: 1,
    ifname: "lo",
    flags: ["LOOPBACK", "UP", "LOWER_UP"],
    operstate: "UNKNOWN",
    address: "00:00:00:00:00:00",
  },
  {
    ifindex: 2,
    ifname: "fluid0",
    flags: ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"],
    operstate: "DOWN",
    address: "2a:38:92:c2:f4:fe",
    linkinfo: { info_kind: "bridge", info_data: { stp_state: 0 } },
  },
  {
    ifindex: 3,
    ifname: "fl-abcdefghijkl",
    flags: ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"],
    operstate: "DOWN",
    address: "2a:38:92:c2:f4:fe",
    master: "fluid0",
    linkinfo: { info_kind: "tun", info_data: { type: "tap", persist: true }, info_slave_kind: "bridge" },
  },
  {
    ifindex: 4,
    ifname: "vx1",
    link: "vx0",
    flags: ["BROADCAST", "MULTICAST", "M-DOWN"],
    operstate: "DOWN",
    address: "c6:f2:2d:e0:a7:ca",
    linkinfo: { info_kind: "veth", info_data: {} },
  },
]);

describe("parseLinks", () => {
  it("extracts name, kind, master, admin state and MAC", () => {
    expect(parseLinks(output)).toEqual([
      { name: "lo", up: true, mac: "00:00:00:00:00:00" },
      { name: "fluid0", kind: "bridge", up: true, mac: "2a:38:92:c2:f4:fe" },
      { name: "fl-abcdefghijkl", kind: "tun", master: "fluid0", up: true, mac: "2a:38:92:c2:f4:fe" },
      { name: "vx1", kind: "veth", up: false, mac: "c6:f2:2d:e0:a7:ca" },
    ]);
  });

  it("handles an empty list and rejects output it does not understand", () => {
    expect(parseLinks("[]")).toEqual([]);
    expect(() => parseLinks("{}")).toThrow(/JSON array/);
    expect(() => parseLinks('[{"ifindex":1}]')).toThrow(/without ifname/);
    expect(() => parseLinks("Device not found")).toThrow();
  });
});
