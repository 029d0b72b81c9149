import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type DaemonDatabase, openDaemonDatabase } from "./database.js";
import { liveSandboxNetworks } from "./live-sandboxes.js";

describe("liveSandboxNetworks", () => {
  let database: DaemonDatabase;
  beforeEach(async () => {
    database = await openDaemonDatabase(":memory:");
  });
  afterEach(() => database.close());

  const row = (id: string, allowEgress: number, endedAt: number | null) => ({
    id,
    name: id,
    image: "tiny",
    state: "RUNNING" as const,
    vcpus: 1,
    memory_mb: 256,
    allow_egress: allowEgress,
    dir: `/var/lib/fluid/${id}`,
    pid: null,
    ip: null,
    mac: null,
    tap: null,
    network: null,
    agent_id: null,
    created_at: 1,
    updated_at: 1,
    expires_at: null,
    ended_at: endedAt,
    end_reason: null,
    error: null,
  });

  it("restores the peer group recorded in a sandbox's attachment, and none from a record that does not parse", async () => {
    await database.db
      .insertInto("sandboxes")
      .values([
        { ...row("shared", 0, null), network: JSON.stringify({ mode: "bridge", peerGroup: "forks-of:p" }) },
        { ...row("alone", 0, null), network: JSON.stringify({ mode: "bridge" }) },
        { ...row("broken", 0, null), network: "{" },
      ])
      .execute();
    const live = await liveSandboxNetworks(database.db);
    expect(live.sort((a, b) => a.sandboxId.localeCompare(b.sandboxId))).toEqual([
      { sandboxId: "alone", egress: false },
      { sandboxId: "broken", egress: false },
      { sandboxId: "shared", egress: false, peerGroup: "forks-of:p" },
    ]);
  });

  it("lists the sandboxes not ended, with whether each may reach the internet", async () => {
    await database.db
      .insertInto("sandboxes")
      .values([row("open", 1, null), row("closed", 0, null), row("gone", 1, 5)])
      .execute();
    const live = await liveSandboxNetworks(database.db);
    expect(live.sort((a, b) => a.sandboxId.localeCompare(b.sandboxId))).toEqual([
      { sandboxId: "closed", egress: false },
      { sandboxId: "open", egress: true },
    ]);
  });
});
