import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { compareDebianVersions } from "./debian-version.js";

const hasDpkg = spawnSync("dpkg", ["--version"]).status === 0;

/** Whether dpkg holds `a relation b`; anything but a yes or no (a bad version) fails the test. */
function dpkgHolds(a: string, relation: "lt" | "eq", b: string): boolean {
  const { status, stderr } = spawnSync("dpkg", ["--compare-versions", a, relation, b], { encoding: "utf8" });
  if ((status !== 0 && status !== 1) || stderr !== "") throw new Error(`dpkg: ${stderr}`);
  return status === 0;
}

/** What dpkg itself says: -1, 0 or 1. */
function dpkgOrder(a: string, b: string): number {
  if (dpkgHolds(a, "lt", b)) return -1;
  return dpkgHolds(a, "eq", b) ? 0 : 1;
}

const TRICKY_PAIRS: Array<[string, string]> = [
  ["1.0", "1.0"],
  ["1.0", "1.0-0"],
  ["0:1.0", "1.0"],
  ["1:0.1", "2.0"],
  ["10:1", "9:2"],
  ["1.0~rc1", "1.0"],
  ["1.0~rc1", "1.0~rc1~beta"],
  ["1.0~", "1.0"],
  ["1.0~~", "1.0~"],
  ["1.0", "1.0+b1"],
  ["1.0", "1.0a"],
  ["1.0a", "1.0+"],
  ["1.0a", "1.0."],
  ["1.9", "1.10"],
  ["1.010", "1.9"],
  ["1.0001", "1.1"],
  ["1.2.3", "1.2.3.0"],
  ["7.88.1-10", "7.88.1-10+deb12u5"],
  ["2:9.0.1378-2", "2:9.0.1378-2+deb12u1"],
  ["1.22.1-9", "1.22.1-10"],
  ["1.2-3-4", "1.2-3-5"],
  ["1.2-3-4", "1.2-3"],
  ["3.0.11-1~deb12u2", "3.0.11-1"],
  ["5.10.0-0.bpo.1", "5.10.0-1"],
  ["1:2.38.1-5+deb12u1", "1:2.38.1-5+b1"],
  ["99999999999999999999", "99999999999999999998"],
  ["1.0A", "1.0a"],
  ["1.0-1ubuntu1", "1.0-1"],
];

describe.skipIf(!hasDpkg)("Debian version comparison", () => {
  it.each(TRICKY_PAIRS)("orders %s and %s as dpkg --compare-versions does", (a, b) => {
    expect(Math.sign(compareDebianVersions(a, b))).toBe(dpkgOrder(a, b));
    expect(Math.sign(compareDebianVersions(b, a))).toBe(dpkgOrder(b, a));
  });
});
