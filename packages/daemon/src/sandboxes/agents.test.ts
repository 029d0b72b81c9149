import { describe, expect, it } from "vitest";
import type { GuestAgent } from "../agent/client.js";
import { GuestAgents } from "./agents.js";

function fakeConnections(failFirst = false) {
  const connected: string[] = [];
  const closed: string[] = [];
  let failures = failFirst ? 1 : 0;
  const agents = new GuestAgents(async (id) => {
    connected.push(id);
    if (failures-- > 0) throw new Error("agent not ready");
    return { id, close: () => closed.push(id) } as unknown as GuestAgent;
  });
  return { agents, connected, closed };
}

describe("GuestAgents", () => {
  it("connects once per sandbox and reuses the connection", async () => {
    const { agents, connected } = fakeConnections();
    const [a, b] = await Promise.all([agents.get("s1"), agents.get("s1")]);
    expect(a).toBe(b);
    expect(connected).toEqual(["s1"]);
  });

  it("connects again after a failed attempt", async () => {
    const { agents, connected } = fakeConnections(true);
    await expect(agents.get("s1")).rejects.toThrow("agent not ready");
    await expect(agents.get("s1")).resolves.toMatchObject({ id: "s1" });
    expect(connected).toEqual(["s1", "s1"]);
  });

  it("hands a connection to a new id, and closes connections it drops", async () => {
    const { agents, connected, closed } = fakeConnections();
    const entry = await agents.get("pool-1");
    agents.rekey("pool-1", "s1");
    expect(await agents.get("s1")).toBe(entry);
    agents.dropAll();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(closed).toEqual(["pool-1"]);
    expect(connected).toEqual(["pool-1"]);
  });
});
