import { describe, expect, it } from "vitest";
import { firewallInput } from "./firewall-input.js";
import { tapName } from "./names.js";

const lease = (sandboxId: string, last: number) => ({
  sandboxId,
  ip: `10.91.0.${last}`,
  mac: `52:54:00:5b:00:0${last}`,
});

describe("firewallInput", () => {
  it("groups the TAPs of sandboxes by peer group and leaves ungrouped and user-mode sandboxes out of every group", () => {
    const input = firewallInput(
      new Map([
        ["a", { lease: lease("a", 2), egress: undefined, peerGroup: "forks-of:p" }],
        ["b", { lease: lease("b", 3), egress: "any" as const }],
        ["c", { lease: lease("c", 4), egress: undefined, peerGroup: "forks-of:p" }],
        ["d", { lease: lease("d", 5), egress: undefined, peerGroup: "forks-of:q" }],
        ["user", { egress: undefined, peerGroup: "forks-of:p" }],
      ]),
    );
    expect(input.peerGroups).toEqual([[tapName("a"), tapName("c")], [tapName("d")]]);
    expect(input.ports.map((port) => port.tap)).toEqual(["a", "b", "c", "d"].map(tapName));
    expect([...input.egress]).toEqual([["10.91.0.3", "any"]]);
  });
});
