import { describe, expect, it } from "vitest";
import { parseDuration } from "./durations.js";

describe("parseDuration", () => {
  it("reads seconds, minutes, hours and days", () => {
    expect(parseDuration("600")).toBe(600);
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("30m")).toBe(1800);
    expect(parseDuration("2h")).toBe(7200);
    expect(parseDuration("1.5h")).toBe(5400);
    expect(parseDuration("1d")).toBe(86_400);
    expect(parseDuration(" 2H ")).toBe(7200);
  });

  it("rejects anything else, and zero", () => {
    for (const bad of ["", "0", "0m", "-5m", "5x", "m", "1h30m", "1e3", "soon"])
      expect(parseDuration(bad)).toBeUndefined();
  });
});
