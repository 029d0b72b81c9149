import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseRecap } from "./recap.js";

/** Output captured from ansible-core 2.14 (Debian 12) running against a debian-12 sandbox. */
const captured = (name: string) => readFileSync(join(import.meta.dirname, "testdata", name), "utf8");
const HOST = "10.93.71.2";

describe("parseRecap on captured ansible-playbook output", () => {
  it("reads a run that changed a file in check mode with --diff", () => {
    expect(parseRecap(captured("check-diff.txt"), HOST)).toEqual({
      ok: 2,
      changed: 1,
      unreachable: 0,
      failed: 0,
      skipped: 0,
      rescued: 0,
      ignored: 0,
    });
  });

  it("reads a second run that changed nothing", () => {
    expect(parseRecap(captured("second-run.txt"), HOST)).toMatchObject({ ok: 1, changed: 0, failed: 0 });
  });

  it("reads a failed task", () => {
    expect(parseRecap(captured("failed-task.txt"), HOST)).toMatchObject({ ok: 1, changed: 0, failed: 1 });
  });

  it("reads an unreachable host", () => {
    expect(parseRecap(captured("unreachable.txt"), HOST)).toMatchObject({ ok: 0, unreachable: 1, failed: 0 });
  });

  it("finds no recap when the playbook did not parse", () => {
    expect(parseRecap(captured("syntax-error.txt"), HOST)).toBeUndefined();
  });

  it("finds no recap for a host the run was not about", () => {
    expect(parseRecap(captured("second-run.txt"), "10.93.71.3")).toBeUndefined();
  });

  it("ignores a recap-like line printed by a task before the real recap", () => {
    const fake = `${HOST}                 : ok=9    changed=9    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0\n`;
    const output = `TASK [echo] ***\nok: [${HOST}] => {"msg": "x"}\n${fake}${captured("second-run.txt")}`;
    expect(parseRecap(output, HOST)).toMatchObject({ ok: 1, changed: 0 });
  });
});
