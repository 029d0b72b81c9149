import { describe, expect, it } from "vitest";
import { fakeServer } from "./fake-server.fixtures.js";
import { deleteSnapshot, listSnapshots, restoreSnapshot, takeSnapshot } from "./sandbox-snapshots.js";

const SANDBOX = "7f3c1e8a-0000-4000-8000-000000000004";
const base = `/v1/orgs/acme/sandboxes/${SANDBOX}`;

describe("snapshot calls", () => {
  it("takes, lists, restores and deletes snapshots of one sandbox", async () => {
    const { conn, calls } = fakeServer((request) =>
      request.method === "GET" ? { body: { snapshots: [{ id: "s1" }], count: 1 } } : { body: { id: "s1" } },
    );
    await takeSnapshot(conn, SANDBOX, { name: "before", includeMemory: true });
    expect(await listSnapshots(conn, SANDBOX)).toEqual({ snapshots: [{ id: "s1" }], count: 1 });
    await restoreSnapshot(conn, SANDBOX, "s1");
    await deleteSnapshot(conn, SANDBOX, "s1");
    expect(calls.map((c) => [c.method, c.path, c.body])).toEqual([
      ["POST", `${base}/snapshot`, { name: "before", include_memory: true }],
      ["GET", `${base}/snapshots`, undefined],
      ["POST", `${base}/restore`, { snapshot_id: "s1" }],
      ["DELETE", `${base}/snapshots/s1`, undefined],
    ]);
  });
});
