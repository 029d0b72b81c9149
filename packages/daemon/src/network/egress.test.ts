import { describe, expect, it } from "vitest";
import { toEgressRule } from "./egress.js";

describe("toEgressRule", () => {
  it("turns all or nothing into a rule or none, and an empty allowlist into none", () => {
    expect(toEgressRule(true)).toBe("any");
    expect(toEgressRule(false)).toBeUndefined();
    expect(toEgressRule([])).toBeUndefined();
  });

  it("writes allowlist blocks canonically, once each", () => {
    expect(toEgressRule(["10.1.0.0/16", " 10.1.0.0/16", "192.0.2.7"])).toEqual(["10.1.0.0/16", "192.0.2.7/32"]);
  });

  it("fails on a block that is not IPv4 CIDR, naming the allowlist", () => {
    expect(() => toEgressRule(["10.1.0.1/16"])).toThrow(/^egress allowlist: .*host bits set/);
    expect(() => toEgressRule(["example.com"])).toThrow(/^egress allowlist: /);
  });
});
