import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

describe("fluid usage and fluid quotas", () => {
  let t: TestServer;
  let key: string;
  let dir: string;

  const fluid = (...args: string[]) =>
    runFluid(args, { env: { FLUID_CONFIG: join(dir, "config.json"), FLUID_SERVER: t.restUrl, FLUID_API_KEY: key } });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-usage-"));
    t = await startTestServer("pglite", {
      quotas: { sandboxes: 5, vcpus: null, memoryMb: 4096, snapshotBytes: 10 * 1024 ** 3 },
    });
    const owner = await t.fastUser("owner");
    const org = await t.org(owner, "acme");
    key = (await t.apiKey(owner, "acme", "viewer")).key;
    // What the accrual would have booked: 2 h of a 2-vCPU, 1 GiB sandbox, then 30 min of it.
    await t.server.ctx.db
      .insertInto("usage_records")
      .values([
        {
          org_id: org.id,
          day: "2026-03-01",
          sandbox_seconds: 7200,
          vcpu_seconds: 14_400,
          memory_mb_seconds: 7_372_800,
        },
        { org_id: org.id, day: "2026-03-02", sandbox_seconds: 1800, vcpu_seconds: 3600, memory_mb_seconds: 1_843_200 },
      ])
      .execute();
  });
  afterAll(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("usage prints a table per day with a total, in hours", async () => {
    const result = await fluid("usage", "--from", "2026-03-01", "--to", "2026-03-31");
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      "Usage of acme, 2026-03-01 to 2026-03-31 (UTC)",
      "DAY         SANDBOX-HOURS  VCPU-HOURS  MEMORY-GIB-HOURS",
      "2026-03-01  2.00           4.00        2.00",
      "2026-03-02  0.50           1.00        0.50",
      "total       2.50           5.00        2.50",
      "",
    ]);
    const empty = await fluid("usage", "--from", "2026-04-01", "--to", "2026-04-02");
    expect(empty.stdout).toBe("Usage of acme, 2026-04-01 to 2026-04-02 (UTC)\nNo sandbox ran in this range.\n");
  });

  it("usage --json prints the server's document in seconds", async () => {
    const result = await fluid("--json", "usage", "--from", "2026-03-02", "--to", "2026-03-02");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      from: "2026-03-02",
      to: "2026-03-02",
      days: [{ day: "2026-03-02", sandbox_seconds: 1800, vcpu_seconds: 3600, memory_mb_seconds: 1_843_200 }],
      totals: { sandbox_seconds: 1800, vcpu_seconds: 3600, memory_mb_seconds: 1_843_200 },
    });
  });

  it("a malformed day is a usage error (exit 2), and so is a range the server refuses", async () => {
    const local = await fluid("usage", "--from", "March");
    expect(local.code).toBe(2);
    expect(local.stderr).toContain("must be a date as YYYY-MM-DD");
    const remote = await fluid("--json", "usage", "--from", "2026-03-02", "--to", "2026-03-01");
    expect(remote.code).toBe(2);
    expect(JSON.parse(remote.stdout)).toEqual({
      error: { code: "invalid_request", message: "from must not be after to" },
    });
  });

  it("quotas prints each limit beside what is used", async () => {
    const result = await fluid("quotas");
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      "RESOURCE         USED  LIMIT",
      "live sandboxes   0     5",
      "vCPUs            0     unlimited",
      "memory (MiB)     0     4096",
      "snapshots (GiB)  0.00  10.00",
      "",
    ]);
    const json = JSON.parse((await fluid("--json", "quotas")).stdout);
    expect(json.sandboxes).toEqual({ limit: 5, used: 0 });
  });
});
