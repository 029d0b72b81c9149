import { describe, expect, it } from "vitest";
import { describeProgress } from "./sandbox-progress.js";

describe("describeProgress", () => {
  const at = "2026-01-01T00:00:00.000Z";
  it("names the phase, with bytes and a percentage once the host knows them", () => {
    expect(describeProgress(null)).toBeUndefined();
    expect(describeProgress({ phase: "snapshot", bytes_done: 0, bytes_total: 0, at })).toBe(
      "snapshotting the source VM's disk",
    );
    expect(describeProgress({ phase: "copy", bytes_done: 3 << 20, bytes_total: 0, at })).toBe(
      "copying the source VM's disk: 3.0 MiB",
    );
    expect(describeProgress({ phase: "copy", bytes_done: 512 << 20, bytes_total: 2 * 1024 ** 3, at })).toBe(
      "copying the source VM's disk: 512.0 MiB of 2.0 GiB (25%)",
    );
    expect(describeProgress({ phase: "boot", bytes_done: 0, bytes_total: 0, at })).toBe("booting");
  });
});
