import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isTapName, MAX_IFNAME_LENGTH, TAP_PREFIX, tapName } from "./names.js";

describe("tapName", () => {
  it("fits IFNAMSIZ, carries the fluid prefix and is stable", () => {
    const name = tapName("0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    expect(name.length).toBeLessThanOrEqual(MAX_IFNAME_LENGTH);
    expect(name.startsWith(TAP_PREFIX)).toBe(true);
    expect(name).toMatch(/^fl-[a-z2-7]{12}$/);
    expect(tapName("0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")).toBe(name);
  });

  it("does not collide for ids sharing a long prefix (the old 9-character scheme did)", () => {
    // Time-ordered UUIDs created close together share their leading characters.
    const ids = Array.from(
      { length: 50_000 },
      (_, index) => `0199a1b2-c3d4-7e5f-8a9b-${index.toString(16).padStart(12, "0")}`,
    );
    const names = new Set(ids.map(tapName));
    expect(names.size).toBe(ids.length);
  });

  it("does not collide for random ids", () => {
    const names = new Set(Array.from({ length: 50_000 }, () => tapName(randomUUID())));
    expect(names.size).toBe(50_000);
  });

  it("refuses an empty id", () => {
    expect(() => tapName("")).toThrow(/empty/);
  });
});

describe("isTapName", () => {
  it("recognises only names tapName produces", () => {
    expect(isTapName(tapName("x"))).toBe(true);
    for (const other of ["fluid0", "fl-", "fl-abc", "fl-abcdefghijkl1", "fl-ABCDEFGHIJKL", "eth0", "xfl-abcdefghijk"]) {
      expect(isTapName(other), other).toBe(false);
    }
  });
});
