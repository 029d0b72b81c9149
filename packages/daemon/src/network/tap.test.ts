import { describe, expect, it } from "vitest";
import { portIsolationArgs } from "./tap.js";

describe("portIsolationArgs", () => {
  it("sets the bridge port's isolated flag on or off through ip link, as one argument vector", () => {
    expect(portIsolationArgs("fl-aaaaaaaaaaaa", true)).toEqual([
      "ip",
      "link",
      "set",
      "dev",
      "fl-aaaaaaaaaaaa",
      "type",
      "bridge_slave",
      "isolated",
      "on",
    ]);
    expect(portIsolationArgs("fl-aaaaaaaaaaaa", false).at(-1)).toBe("off");
  });
});
