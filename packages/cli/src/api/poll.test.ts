import { describe, expect, it, vi } from "vitest";
import { pollWhile } from "./poll.js";

const states = (...values: string[]) => {
  const queue = [...values];
  return vi.fn(async () => queue.shift() ?? "done");
};

describe("pollWhile", () => {
  it("returns the first value without reading when nothing is pending", async () => {
    const read = states("creating");
    expect(await pollWhile("running", (s) => s === "creating", read, { intervalMs: 1 })).toBe("running");
    expect(read).not.toHaveBeenCalled();
  });

  it("reads until the value settles and reports every read", async () => {
    const read = states("creating", "creating", "running");
    const seen: string[] = [];
    const result = await pollWhile("creating", (s) => s === "creating", read, {
      intervalMs: 1,
      onPoll: (value, elapsedMs) => {
        expect(elapsedMs).toBeGreaterThanOrEqual(0);
        seen.push(value);
      },
    });
    expect(result).toBe("running");
    expect(seen).toEqual(["creating", "creating", "running"]);
  });

  it("stops at the timeout and hands back the last value, still pending", async () => {
    const read = vi.fn(async () => "creating");
    const result = await pollWhile("creating", (s) => s === "creating", read, { intervalMs: 5, timeoutMs: 20 });
    expect(result).toBe("creating");
    expect(read.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(read.mock.calls.length).toBeLessThan(10);
  });

  it("with a zero timeout never reads", async () => {
    const read = states("running");
    expect(await pollWhile("creating", (s) => s === "creating", read, { intervalMs: 1, timeoutMs: 0 })).toBe(
      "creating",
    );
    expect(read).not.toHaveBeenCalled();
  });

  it("stops waiting when the signal aborts", async () => {
    const controller = new AbortController();
    const read = vi.fn(async () => "creating");
    const waiting = pollWhile("creating", (s) => s === "creating", read, {
      intervalMs: 60_000,
      signal: controller.signal,
    });
    controller.abort();
    await expect(waiting).rejects.toThrow(/abort/i);
    expect(read).not.toHaveBeenCalled();
  });
});
