import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { OpenSession } from "../remote/ssh-runner.js";
import { PooledConnection } from "./pooled-connection.js";

function fakeSession() {
  const close = vi.fn(async () => {});
  const open = async () => ({ close }) as unknown as OpenSession;
  return { close, open };
}

describe("PooledConnection", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reports itself idle only after the last user released it and the idle time passed", () => {
    const { open } = fakeSession();
    const connection = new PooledConnection("k", 1000, open);
    const onIdle = vi.fn();
    connection.onIdle = onIdle;
    connection.acquire();
    connection.release();
    vi.advanceTimersByTime(5000);
    expect(onIdle).not.toHaveBeenCalled();
    connection.release();
    vi.advanceTimersByTime(999);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onIdle).toHaveBeenCalledOnce();
  });

  it("is expired after four minutes or once retired", async () => {
    const { open } = fakeSession();
    const old = new PooledConnection("a", 1000, open);
    expect(old.expired()).toBe(false);
    vi.advanceTimersByTime(4 * 60_000 + 1);
    expect(old.expired()).toBe(true);
    const retired = new PooledConnection("b", 1000, open);
    await retired.retire();
    expect(retired.expired()).toBe(true);
  });

  it("closes when retired while unused, else when its last user releases it", async () => {
    const { close, open } = fakeSession();
    const connection = new PooledConnection("k", 1000, open);
    await connection.retire();
    expect(close).not.toHaveBeenCalled();
    connection.release();
    await vi.waitFor(() => expect(close).toHaveBeenCalledOnce());

    const unused = fakeSession();
    const idle = new PooledConnection("j", 1000, unused.open);
    idle.release();
    await idle.retire();
    expect(unused.close).toHaveBeenCalledOnce();
  });
});
