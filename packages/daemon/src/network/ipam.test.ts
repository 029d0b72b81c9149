import { describe, expect, it } from "vitest";
import { DEFAULT_SUBNET, Ipam } from "./ipam.js";
import { formatIpv4, parseCidr, parseIpv4 } from "./ipv4.js";
import { MemoryLeaseStore } from "./leases.js";

describe("IPv4 helpers", () => {
  it("round-trips addresses through numbers", () => {
    for (const ip of ["0.0.0.0", "10.91.0.1", "255.255.255.255", "192.168.1.200"]) {
      expect(formatIpv4(parseIpv4(ip))).toBe(ip);
    }
  });

  it("rejects malformed addresses", () => {
    for (const bad of ["1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "a.b.c.d", "", " 1.2.3.4"]) {
      expect(() => parseIpv4(bad), bad).toThrow(/not an IPv4 address/);
    }
  });

  it("parses CIDR blocks, treating a bare address as /32 and refusing host bits", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ network: parseIpv4("10.0.0.0"), prefix: 8 });
    expect(parseCidr("1.2.3.4")).toEqual({ network: parseIpv4("1.2.3.4"), prefix: 32 });
    expect(() => parseCidr("10.91.0.5/24")).toThrow(/host bits set; did you mean 10\.91\.0\.0\/24/);
    for (const bad of ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/8/8", "10.0.0.0/x"]) {
      expect(() => parseCidr(bad), bad).toThrow();
    }
  });
});

describe("Ipam", () => {
  it("defaults to 10.91.0.0/24 with the gateway on the first host address", () => {
    const ipam = new Ipam(new MemoryLeaseStore());
    expect(DEFAULT_SUBNET).toBe("10.91.0.0/24");
    expect(ipam.subnet).toBe("10.91.0.0/24");
    expect(ipam.gateway).toBe("10.91.0.1");
    expect(ipam.prefix).toBe(24);
    expect(ipam.capacity).toBe(253);
  });

  it("allocates the lowest free address with a MAC derived from it", () => {
    const ipam = new Ipam(new MemoryLeaseStore());
    expect(ipam.allocate("a")).toEqual({ sandboxId: "a", ip: "10.91.0.2", mac: "52:54:00:5b:00:02" });
    expect(ipam.allocate("b")).toEqual({ sandboxId: "b", ip: "10.91.0.3", mac: "52:54:00:5b:00:03" });
    expect(ipam.allocate("c").ip).toBe("10.91.0.4");
    ipam.release("b");
    expect(ipam.allocate("d").ip).toBe("10.91.0.3");
  });

  it("returns the existing lease when a sandbox allocates again", () => {
    const ipam = new Ipam(new MemoryLeaseStore());
    const first = ipam.allocate("a");
    ipam.allocate("b");
    expect(ipam.allocate("a")).toEqual(first);
    expect(ipam.leases()).toHaveLength(2);
  });

  it("never hands out the network, gateway or broadcast address, and says so when full", () => {
    const ipam = new Ipam(new MemoryLeaseStore(), "192.168.7.8/29");
    const ips = Array.from({ length: 5 }, (_, index) => ipam.allocate(`s${index}`).ip);
    expect(ips).toEqual(["192.168.7.10", "192.168.7.11", "192.168.7.12", "192.168.7.13", "192.168.7.14"]);
    expect(() => ipam.allocate("one-too-many")).toThrow(
      "no free address in 192.168.7.8/29 for sandbox one-too-many: all 5 sandbox addresses are leased",
    );
    expect(ipam.lookup("one-too-many")).toBeUndefined();
  });

  it("releases idempotently", () => {
    const ipam = new Ipam(new MemoryLeaseStore());
    ipam.allocate("a");
    ipam.release("a");
    ipam.release("a");
    ipam.release("never-leased");
    expect(ipam.leases()).toEqual([]);
  });

  it("persists through the store: a new allocator continues where the old one left off", () => {
    const store = new MemoryLeaseStore();
    new Ipam(store).allocate("a");
    const restarted = new Ipam(store);
    expect(restarted.lookup("a")?.ip).toBe("10.91.0.2");
    expect(restarted.allocate("b").ip).toBe("10.91.0.3");
  });

  it("avoids a MAC held by a lease from another subnet", () => {
    const store = new MemoryLeaseStore([{ sandboxId: "old", ip: "10.77.0.9", mac: "52:54:00:5b:00:02" }]);
    const lease = new Ipam(store).allocate("a");
    expect(lease.ip).toBe("10.91.0.2");
    expect(lease.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(lease.mac).not.toBe("52:54:00:5b:00:02");
  });

  it("replaces a sandbox's lease that lies outside the configured subnet", () => {
    const store = new MemoryLeaseStore([{ sandboxId: "a", ip: "10.77.0.9", mac: "52:54:00:4d:00:09" }]);
    const ipam = new Ipam(store);
    expect(ipam.allocate("a")).toEqual({ sandboxId: "a", ip: "10.91.0.2", mac: "52:54:00:5b:00:02" });
    expect(store.all()).toHaveLength(1);
  });

  it("gives unique MACs across a whole /16", () => {
    const ipam = new Ipam(new MemoryLeaseStore(), "10.92.0.0/16");
    const macs = new Set(Array.from({ length: 2000 }, (_, index) => ipam.allocate(`s${index}`).mac));
    expect(macs.size).toBe(2000);
  });

  it("rejects unusable subnets", () => {
    const store = new MemoryLeaseStore();
    expect(() => new Ipam(store, "10.91.0.1/24")).toThrow(/host bits/);
    expect(() => new Ipam(store, "10.91.0.0/31")).toThrow(/between \/16 and \/30/);
    expect(() => new Ipam(store, "10.0.0.0/8")).toThrow(/between \/16 and \/30/);
    expect(() => new Ipam(store, "fluid")).toThrow(/not an IPv4 address/);
  });
});

describe("MemoryLeaseStore", () => {
  it("enforces the uniqueness the SQLite table enforces", () => {
    const store = new MemoryLeaseStore([{ sandboxId: "a", ip: "10.91.0.2", mac: "52:54:00:00:00:02" }]);
    expect(() => store.insert({ sandboxId: "a", ip: "10.91.0.3", mac: "52:54:00:00:00:03" })).toThrow(/sandbox/);
    expect(() => store.insert({ sandboxId: "b", ip: "10.91.0.2", mac: "52:54:00:00:00:03" })).toThrow(/ip/);
    expect(() => store.insert({ sandboxId: "b", ip: "10.91.0.3", mac: "52:54:00:00:00:02" })).toThrow(/mac/);
  });
});
