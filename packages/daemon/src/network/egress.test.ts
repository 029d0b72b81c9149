import { describe, expect, it } from "vitest";
import { formatEgressEntry, nameMatches, parseEgressEntry, toEgressRule } from "./egress.js";

describe("toEgressRule", () => {
  it("turns all or nothing into a rule or none, and an empty allowlist into none", () => {
    expect(toEgressRule(true)).toBe("any");
    expect(toEgressRule(false)).toBeUndefined();
    expect(toEgressRule([])).toBeUndefined();
  });

  it("writes allowlist blocks canonically, once each", () => {
    expect(toEgressRule(["10.1.0.0/16", " 10.1.0.0/16", "192.0.2.7"])).toEqual({
      blocks: [
        { cidr: "10.1.0.0/16", ports: undefined },
        { cidr: "192.0.2.7/32", ports: undefined },
      ],
      names: [],
    });
  });

  it("splits blocks with ports from names and wildcards with ports", () => {
    expect(toEgressRule(["10.0.0.0/8:443,80,443", "Deb.Debian.org.", "*.example.com:443"])).toEqual({
      blocks: [{ cidr: "10.0.0.0/8", ports: [80, 443] }],
      names: [
        { pattern: "deb.debian.org", ports: undefined },
        { pattern: "*.example.com", ports: [443] },
      ],
    });
  });

  it("fails on an invalid entry, naming the allowlist", () => {
    expect(() => toEgressRule(["10.1.0.1/16"])).toThrow(/^egress allowlist: .*host bits set/);
    for (const bad of [
      "10.0.0.0/8:0",
      "10.0.0.0/8:65536",
      "10.0.0.0/8:",
      "10.0.0.0/8:443:80",
      "10.0.0.0/8:0443",
      "exa mple.com",
      "*example.com",
      "a.*.example.com",
      "*.com.",
      "localhost",
      "-bad.example.com",
      "1.2.3.4.5",
      `${"x".repeat(64)}.com`,
    ]) {
      expect(() => toEgressRule([bad]), bad).toThrow(/^egress allowlist: /);
    }
    expect(() => toEgressRule(Array.from({ length: 65 }, (_, i) => `10.0.${i}.0/24`))).toThrow(/at most 64/);
  });

  it("writes an entry back in the form it parses from", () => {
    for (const text of ["10.0.0.0/8:80,443", "192.0.2.1/32", "*.example.com", "deb.debian.org:80"]) {
      expect(formatEgressEntry(parseEgressEntry(text))).toBe(text);
    }
  });
});

describe("nameMatches", () => {
  it("matches an exact name in any case, with or without the trailing dot", () => {
    expect(nameMatches("deb.debian.org", "DEB.debian.org.")).toBe(true);
    expect(nameMatches("deb.debian.org", "security.debian.org")).toBe(false);
    expect(nameMatches("deb.debian.org", "xdeb.debian.org")).toBe(false);
  });

  it("matches every name below a wildcard, but not the wildcard's own name or a lookalike", () => {
    expect(nameMatches("*.example.com", "a.example.com")).toBe(true);
    expect(nameMatches("*.example.com", "a.b.example.com")).toBe(true);
    expect(nameMatches("*.example.com", "example.com")).toBe(false);
    expect(nameMatches("*.example.com", "badexample.com")).toBe(false);
    expect(nameMatches("*.example.com", ".example.com")).toBe(false);
  });
});
