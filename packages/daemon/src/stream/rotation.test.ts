import { describe, expect, it } from "vitest";
import { Backoff } from "./backoff.js";
import { type Clock, ServerRotation } from "./rotation.js";
import { endpointKey, parseServerList, type Resolver } from "./server-list.js";

/** A clock that only moves when the rotation sleeps, recording each sleep. */
function fakeClock() {
  let now = 0;
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal.aborted) throw signal.reason;
      sleeps.push(ms);
      now += ms;
    },
  };
  return { clock, sleeps, advance: (ms: number) => (now += ms) };
}

function rotation(list: string, resolve: Resolver = async () => []) {
  const time = fakeClock();
  const lookups: string[] = [];
  const unresolved: string[] = [];
  const r = new ServerRotation({
    servers: parseServerList(list),
    resolve: (host) => {
      lookups.push(host);
      return resolve(host);
    },
    backoff: new Backoff({ baseMs: 1000, capMs: 60_000, stableMs: 60_000 }, () => 1),
    clock: time.clock,
    onUnresolved: (server) => unresolved.push(server.entry),
  });
  const signal = new AbortController().signal;
  const next = async () => endpointKey(await r.next(signal));
  return { r, next, ...time, lookups, unresolved };
}

describe("ServerRotation", () => {
  it("tries every address once per round without waiting, then backs off before the next round", async () => {
    const { next, sleeps } = rotation("10.0.0.1:1,10.0.0.2:1,10.0.0.3:1");
    expect([await next(), await next(), await next()]).toEqual(["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]);
    expect(sleeps).toEqual([]);
    expect(await next()).toBe("10.0.0.1:1");
    expect(sleeps).toEqual([1000]);
    await next();
    await next();
    expect(await next()).toBe("10.0.0.1:1");
    expect(sleeps).toEqual([1000, 2000]);
  });

  it("after losing an established stream, waits the short backoff and starts with the address after it", async () => {
    const { r, next, sleeps, advance } = rotation("10.0.0.1:1,10.0.0.2:1,10.0.0.3:1");
    await next();
    expect(await next()).toBe("10.0.0.2:1");
    r.registered();
    advance(3_600_000);
    expect([await next(), await next(), await next()]).toEqual(["10.0.0.3:1", "10.0.0.1:1", "10.0.0.2:1"]);
    expect(sleeps).toEqual([1000]);
  });

  it("a stream that keeps dropping right after registering is not retried in a hot loop", async () => {
    const { r, next, sleeps } = rotation("10.0.0.1:1,10.0.0.2:1");
    for (let i = 0; i < 5; i++) {
      await next();
      r.registered();
    }
    await next();
    expect(sleeps).toEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it("resolves names afresh each round and follows their new addresses", async () => {
    let answer = [{ address: "10.0.0.1", family: 4 }];
    const { next, lookups } = rotation("cp.example:9", async () => answer);
    expect(await next()).toBe("10.0.0.1:9");
    answer = [
      { address: "10.0.0.7", family: 4 },
      { address: "fd00::7", family: 6 },
    ];
    expect([await next(), await next()]).toEqual(["10.0.0.7:9", "[fd00::7]:9"]);
    expect(lookups).toEqual(["cp.example", "cp.example"]);
  });

  it("starts after the last address even when a round re-resolves to the same set", async () => {
    const addresses = [
      { address: "10.0.0.1", family: 4 },
      { address: "10.0.0.2", family: 4 },
    ];
    const { r, next } = rotation("cp.example:9,10.0.0.3:9", async () => addresses);
    expect(await next()).toBe("10.0.0.1:9");
    expect(await next()).toBe("10.0.0.2:9");
    r.registered();
    expect([await next(), await next(), await next()]).toEqual(["10.0.0.3:9", "10.0.0.1:9", "10.0.0.2:9"]);
  });

  it("keeps backing off while no name resolves, and reports each failure", async () => {
    const { next, sleeps, unresolved } = rotation("gone.example:1,cp.example:1", async (host) => {
      if (host === "gone.example" || sleeps.length < 2) throw new Error("ENOTFOUND");
      return [{ address: "10.0.0.5", family: 4 }];
    });
    expect(await next()).toBe("10.0.0.5:1");
    expect(sleeps).toEqual([1000, 2000]);
    expect(unresolved).toEqual(["gone.example:1", "cp.example:1", "gone.example:1", "cp.example:1", "gone.example:1"]);
  });

  it("stops waiting once aborted", async () => {
    const time = fakeClock();
    const r = new ServerRotation({
      servers: parseServerList("10.0.0.1:1"),
      resolve: async () => [],
      backoff: new Backoff({ baseMs: 1000, capMs: 60_000, stableMs: 60_000 }),
      clock: time.clock,
      onUnresolved: () => undefined,
    });
    const stop = new AbortController();
    await r.next(stop.signal);
    stop.abort(new Error("stopped"));
    await expect(r.next(stop.signal)).rejects.toThrow("stopped");
  });
});
