import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type DaemonDatabase, openDaemonDatabase } from "./database.js";
import { sqliteLeaseStore } from "./sqlite-leases.js";

describe("sqliteLeaseStore", () => {
  let database: DaemonDatabase;
  beforeEach(async () => {
    database = await openDaemonDatabase(":memory:");
  });
  afterEach(() => database.close());

  it("persists, lists and removes leases", () => {
    const store = sqliteLeaseStore(database.sqlite);
    store.insert({ sandboxId: "a", ip: "10.91.0.2", mac: "52:54:00:00:00:02" });
    store.insert({ sandboxId: "b", ip: "10.91.0.3", mac: "52:54:00:00:00:03" });
    store.remove("a");
    expect(store.all()).toEqual([{ sandboxId: "b", ip: "10.91.0.3", mac: "52:54:00:00:00:03" }]);
  });

  it("refuses a second lease on the same address", () => {
    const store = sqliteLeaseStore(database.sqlite);
    store.insert({ sandboxId: "a", ip: "10.91.0.2", mac: "52:54:00:00:00:02" });
    expect(() => store.insert({ sandboxId: "b", ip: "10.91.0.2", mac: "52:54:00:00:00:09" })).toThrow(/UNIQUE/);
  });
});
