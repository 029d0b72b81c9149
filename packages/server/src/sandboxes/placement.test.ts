import { describe, expect, it } from "vitest";
import { explainNoFit, fits, type PlacementHost, rankHosts } from "./placement.js";

const policy = { cpuOvercommit: 4 };
const host = (id: string, overrides: Partial<PlacementHost> = {}): PlacementHost => ({
  id,
  totalCpus: 4,
  totalMemoryMb: 8192,
  availableMemoryMb: 8192,
  availableDiskMb: 50_000,
  committedVcpus: 0,
  committedMemoryMb: 0,
  ...overrides,
});
const demand = { vcpus: 1, memoryMb: 512, diskMb: 1024 };

describe("placement", () => {
  it("placement-respects-requested-resources: a host without the requested memory is never chosen", () => {
    const small = host("a", { availableMemoryMb: 600 });
    expect(rankHosts([small], { ...demand, memoryMb: 4096 }, policy)).toEqual([]);
    expect(rankHosts([small], demand, policy).map((h) => h.id)).toEqual(["a"]);
  });

  it("counts what the control plane already committed, even before the host reports it", () => {
    const busy = host("a", { totalMemoryMb: 2048, availableMemoryMb: 2048, committedMemoryMb: 1800 });
    expect(fits(busy, demand, policy)).toBe(false);
  });

  it("caps vCPUs at the overcommit ratio", () => {
    const cpuBound = host("a", { totalCpus: 2, committedVcpus: 8 });
    expect(fits(cpuBound, demand, policy)).toBe(false);
    expect(fits(host("a", { totalCpus: 2, committedVcpus: 7 }), demand, policy)).toBe(true);
  });

  it("needs free disk", () => {
    expect(fits(host("a", { availableDiskMb: 100 }), demand, policy)).toBe(false);
  });

  it("placement-spreads-load: the host with the most room wins", () => {
    const ranked = rankHosts(
      [host("a", { committedMemoryMb: 4096 }), host("b"), host("c", { committedMemoryMb: 1024 })],
      demand,
      policy,
    );
    expect(ranked.map((h) => h.id)).toEqual(["b", "c", "a"]);
  });

  it("source-vm-placement-best-fit-deterministic: equal hosts are ordered by id whatever the input order", () => {
    const hosts = [host("c"), host("a"), host("b")];
    expect(rankHosts(hosts, demand, policy).map((h) => h.id)).toEqual(["a", "b", "c"]);
    expect(rankHosts([...hosts].reverse(), demand, policy).map((h) => h.id)).toEqual(["a", "b", "c"]);
  });

  it("placement-errors-distinguish-causes: explains which resource is short", () => {
    expect(explainNoFit([host("a", { availableMemoryMb: 300 })], demand, policy)).toMatch(
      /512 MB of memory.*most free: 300 MB/,
    );
    expect(explainNoFit([host("a", { totalCpus: 1, committedVcpus: 4 })], demand, policy)).toMatch(/1 vCPUs free/);
    expect(explainNoFit([host("a", { availableDiskMb: 10 })], demand, policy)).toMatch(/1024 MB of disk/);
  });
});
