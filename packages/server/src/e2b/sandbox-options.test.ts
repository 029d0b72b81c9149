import { describe, expect, it } from "vitest";
import { EnvVars, Metadata, metadataFilter, optionLimits } from "./sandbox-options.js";

describe("E2B sandbox metadata and env vars", () => {
  it("reads the list filter as the SDK encodes it (each key and value URI-encoded, then a query)", () => {
    const encoded = new URLSearchParams({
      [encodeURIComponent("team name")]: encodeURIComponent("a&b=c"),
      app: "prod",
    }).toString();
    expect(metadataFilter(encoded)).toEqual({ "team name": "a&b=c", app: "prod" });
    expect(metadataFilter(undefined)).toBeUndefined();
  });

  it("refuses more than the bounded number of entries", () => {
    const many = Object.fromEntries(Array.from({ length: optionLimits.maxEntries + 1 }, (_, i) => [`k${i}`, "v"]));
    expect(Metadata.safeParse(many).success).toBe(false);
    expect(Metadata.safeParse({ k: "v" }).success).toBe(true);
  });

  it("refuses NUL, over-long values and env var names a shell could not set", () => {
    expect(Metadata.safeParse({ k: "a\u0000b" }).success).toBe(false);
    expect(Metadata.safeParse({ k: "x".repeat(optionLimits.maxValueLength + 1) }).success).toBe(false);
    expect(EnvVars.safeParse({ "1BAD": "v" }).success).toBe(false);
    expect(EnvVars.safeParse({ GOOD_1: "v" }).success).toBe(true);
  });

  it("answers a malformed filter as an invalid request", () => {
    expect(() => metadataFilter("k=%E0%A4%A")).toThrow(/metadata filter/);
  });
});
