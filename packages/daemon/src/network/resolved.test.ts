import { describe, expect, it } from "vitest";
import { ResolvedAddresses } from "./resolved.js";

describe("ResolvedAddresses", () => {
  it("opens each answered address for each matching entry's ports, with the bounded TTL", () => {
    const resolved = new ResolvedAddresses(() => 0);
    const elements = resolved.open(
      "sb1",
      "10.91.0.2",
      [
        { pattern: "*.example.com", ports: [443] },
        { pattern: "a.example.com", ports: undefined },
      ],
      [{ address: "192.0.2.1", ttl: 600 }],
    );
    expect(elements).toEqual([
      { source: "10.91.0.2", address: "192.0.2.1", ports: [443], timeoutSeconds: 600 },
      { source: "10.91.0.2", address: "192.0.2.1", ports: undefined, timeoutSeconds: 600 },
    ]);
  });

  it("gives a full firewall update what is left of each timeout, under the sandbox's current address", () => {
    let now = 0;
    const resolved = new ResolvedAddresses(() => now);
    resolved.open(
      "sb1",
      "10.91.0.2",
      [{ pattern: "a.example.com", ports: undefined }],
      [{ address: "192.0.2.1", ttl: 300 }],
    );
    now = 100_000;
    expect(resolved.elements(new Map([["sb1", "10.91.0.7"]]))).toEqual([
      { source: "10.91.0.7", address: "192.0.2.1", ports: undefined, timeoutSeconds: 200 },
    ]);
    now = 300_000;
    expect(resolved.elements(new Map([["sb1", "10.91.0.7"]]))).toEqual([]);
  });

  it("drops everything a sandbox had once it is forgotten", () => {
    const resolved = new ResolvedAddresses(() => 0);
    resolved.open(
      "sb1",
      "10.91.0.2",
      [{ pattern: "a.example.com", ports: undefined }],
      [{ address: "192.0.2.1", ttl: 300 }],
    );
    resolved.forget("sb1");
    expect(resolved.elements(new Map([["sb1", "10.91.0.2"]]))).toEqual([]);
  });
});
