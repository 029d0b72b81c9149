import { describe, expect, it } from "vitest";
import { compareDiffs } from "./equivalence.js";

const file = (extra: Record<string, unknown> = {}) => ({
  kind: "file",
  action: "added",
  path: "/etc/app.conf",
  mode: "0644",
  uid: 0,
  gid: 0,
  size: 12,
  sha256: "1".repeat(64),
  diff: "@@ -0,0 +1 @@\n+listen 8080\n",
  ...extra,
});
const pkg = (version: string) => ({ kind: "package", action: "added", name: "nginx", version, arch: "amd64" });

describe("compareDiffs", () => {
  it("the same changes in any order are equivalent", () => {
    const result = compareDiffs({ changes: [file(), pkg("1.22.1-9")] }, { changes: [pkg("1.22.1-9"), file()] });
    expect(result).toEqual({ equivalent: true, mismatches: [] });
  });

  it("a change the clone lacks is reported missing, one only the clone has is reported extra", () => {
    const result = compareDiffs({ changes: [file()] }, { changes: [pkg("1.22.1-9")] });
    expect(result.equivalent).toBe(false);
    expect(result.mismatches).toEqual([
      { kind: "file", key: "/etc/app.conf", problem: "missing_in_clone" },
      { kind: "package", key: "nginx", problem: "extra_in_clone" },
    ]);
  });

  it("reports each differing field with both values: content by sha256, mode, version", () => {
    const result = compareDiffs(
      { changes: [file(), pkg("1.22.1-9")] },
      { changes: [file({ mode: "0600", sha256: "2".repeat(64), diff: "other" }), pkg("1.22.1-10")] },
    );
    expect(result.mismatches).toEqual([
      {
        kind: "file",
        key: "/etc/app.conf",
        problem: "differs",
        fields: [
          { field: "mode", expected: "0644", actual: "0600" },
          { field: "sha256", expected: "1".repeat(64), actual: "2".repeat(64) },
        ],
      },
      {
        kind: "package",
        key: "nginx",
        problem: "differs",
        fields: [{ field: "version", expected: "1.22.1-9", actual: "1.22.1-10" }],
      },
    ]);
  });

  it("ignores the text diff when the sha256 matches, and compares it when there is no digest", () => {
    const pinned = compareDiffs({ changes: [file()] }, { changes: [file({ diff: "cut elsewhere" })] });
    expect(pinned.equivalent).toBe(true);
    const { sha256: _a, ...unpinned } = file();
    const result = compareDiffs({ changes: [unpinned] }, { changes: [{ ...unpinned, diff: "something else" }] });
    expect(result.mismatches[0]).toMatchObject({ problem: "differs", fields: [{ field: "diff" }] });
  });

  it("a unit enabled in the sandbox but not in the clone differs in enabled", () => {
    const result = compareDiffs(
      { changes: [{ kind: "unit", action: "changed", name: "nginx.service", enabled: true }] },
      { changes: [{ kind: "unit", action: "changed", name: "nginx.service", enabled: false }] },
    );
    expect(result.mismatches).toEqual([
      {
        kind: "unit",
        key: "nginx.service",
        problem: "differs",
        fields: [{ field: "enabled", expected: true, actual: false }],
      },
    ]);
  });
});
