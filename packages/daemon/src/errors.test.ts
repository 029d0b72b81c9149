import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { codeOf, isDiskFull, SandboxError } from "./errors.js";

describe("codeOf", () => {
  it("keeps a SandboxError's code and reads anything else as a host error", () => {
    expect(codeOf(new SandboxError("not_found", "no such sandbox"))).toBe("not_found");
    expect(codeOf(new Error("boom"))).toBe("host_error");
    expect(codeOf("boom")).toBe("host_error");
  });

  it("reads a full disk as no_capacity, however it surfaced", () => {
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    const tool = new Error("qemu-img: Could not create overlay.qcow2: No space left on device");
    for (const err of [enospc, tool]) {
      expect(isDiskFull(err)).toBe(true);
      expect(codeOf(err)).toBe("no_capacity");
    }
  });

  it("recognises SQLite's own SQLITE_FULL", () => {
    const db = new Database(":memory:");
    db.pragma("max_page_count = 2");
    db.exec("CREATE TABLE t (v BLOB)");
    let caught: unknown;
    try {
      db.prepare("INSERT INTO t VALUES (?)").run(Buffer.alloc(64 * 1024));
    } catch (err) {
      caught = err;
    }
    db.close();
    expect(isDiskFull(caught)).toBe(true);
    expect(codeOf(caught)).toBe("no_capacity");
  });
});
