import { describe, expect, it } from "vitest";
import { KeyedLocks } from "./locks.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("KeyedLocks", () => {
  it("runs jobs for one key one after another, and jobs for other keys alongside", async () => {
    const locks = new KeyedLocks();
    const order: string[] = [];
    const job = (name: string) => async () => {
      order.push(`${name} start`);
      await tick();
      order.push(`${name} end`);
    };
    await Promise.all([locks.run("a", job("a1")), locks.run("a", job("a2")), locks.run("b", job("b1"))]);
    expect(order.indexOf("a2 start")).toBeGreaterThan(order.indexOf("a1 end"));
    expect(order.indexOf("b1 start")).toBeLessThan(order.indexOf("a1 end"));
  });

  it("starts the next job after a failed one, and forgets a key once its jobs have settled", async () => {
    const locks = new KeyedLocks();
    const failing = locks.run("a", async () => {
      throw new Error("boom");
    });
    const next = locks.run("a", async () => "ran");
    expect(locks.has("a")).toBe(true);
    await expect(failing).rejects.toThrow("boom");
    await expect(next).resolves.toBe("ran");
    expect(locks.has("a")).toBe(false);
  });
});
