import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChecked } from "../system/run.js";
import { convertImage, lastFraction } from "./qemu-img.js";

describe("qemu-img conversions with progress", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-qemu-img-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("reads the last fraction of a chunk of -p output", () => {
    expect(lastFraction("    (0.00/100%)\r    (12.50/100%)\r")).toBe(0.125);
    expect(lastFraction("    (100.00/100%)\r\n")).toBe(1);
    expect(lastFraction("no progress here")).toBeUndefined();
  });

  it("converts an image and reports fractions up to the whole", async () => {
    const from = join(dir, "from.qcow2");
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", from, "64M"]);
    const fractions: number[] = [];
    await convertImage(
      { path: from, format: "qcow2" },
      { path: join(dir, "to.raw"), format: "raw" },
      { onFraction: (f) => fractions.push(f) },
    );
    expect((await stat(join(dir, "to.raw"))).size).toBe(64 * 1024 * 1024);
    expect(fractions.at(-1)).toBe(1);
    expect([...fractions].sort((a, b) => a - b)).toEqual(fractions);
  });
});
