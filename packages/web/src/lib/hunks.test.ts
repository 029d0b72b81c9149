import { describe, expect, it } from "vitest";
import { parseHunks } from "./hunks";

describe("parseHunks", () => {
  it("numbers context, removed and added lines from the hunk header", () => {
    const rows = parseHunks("@@ -3,3 +3,3 @@\n a\n-b\n+B\n c\n");
    expect(rows).toEqual([
      { type: "hunk", text: "@@ -3,3 +3,3 @@" },
      { type: "context", text: "a", oldNo: 3, newNo: 3 },
      { type: "removed", text: "b", oldNo: 4 },
      { type: "added", text: "B", newNo: 4 },
      { type: "context", text: "c", oldNo: 5, newNo: 5 },
    ]);
  });

  it("starts a new file's lines at 1 (the daemon writes an added file as -0,0)", () => {
    const rows = parseHunks("@@ -0,0 +1,2 @@\n+one\n+two\n");
    expect(rows.slice(1)).toEqual([
      { type: "added", text: "one", newNo: 1 },
      { type: "added", text: "two", newNo: 2 },
    ]);
  });

  it("restarts numbering at each hunk and keeps a blank context line", () => {
    const rows = parseHunks("@@ -1,1 +1,1 @@\n-x\n+y\n@@ -20,2 +20,2 @@\n \n-z\n+w\n");
    expect(rows[4]).toEqual({ type: "context", text: "", oldNo: 20, newNo: 20 });
    expect(rows[5]).toEqual({ type: "removed", text: "z", oldNo: 21 });
  });

  it("has no rows for an empty diff", () => {
    expect(parseHunks("")).toEqual([]);
  });
});
