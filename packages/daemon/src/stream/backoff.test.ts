import { describe, expect, it } from "vitest";
import { Backoff } from "./backoff.js";

describe("Backoff", () => {
  const options = { baseMs: 1000, capMs: 60_000, stableMs: 60_000 };

  it("doubles the ceiling per failed attempt up to the cap", () => {
    const backoff = new Backoff(options, () => 1);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => backoff.next(0))).toEqual([
      1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000,
    ]);
  });

  it("adds full jitter below the ceiling", () => {
    const backoff = new Backoff(options, () => 0.25);
    expect(backoff.next(0)).toBe(250);
    expect(backoff.next(0)).toBe(500);
  });

  it("resets after a connection that stayed up long enough", () => {
    const backoff = new Backoff(options, () => 1);
    backoff.next(0);
    backoff.next(0);
    backoff.connected(1_000);
    expect(backoff.next(70_000)).toBe(1000);
  });

  it("keeps growing when connections drop quickly", () => {
    const backoff = new Backoff(options, () => 1);
    backoff.next(0);
    backoff.connected(1_000);
    expect(backoff.next(2_000)).toBe(2000);
  });
});
