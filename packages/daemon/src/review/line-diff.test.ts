import { describe, expect, it } from "vitest";
import { shortestEdit, unifiedDiff } from "./line-diff.js";

describe("line diff", () => {
  it("finds an edit script of minimal length", () => {
    const edits = shortestEdit(["a", "b", "c", "a", "b", "b", "a"], ["c", "b", "a", "b", "a", "c"], 100);
    expect(edits?.filter((e) => e.op !== " ")).toHaveLength(5);
  });

  it("renders changes as unified hunks with three lines of context", () => {
    const before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
    const after = "1\nTWO\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n";
    expect(unifiedDiff(before, after)).toEqual({
      text: "@@ -1,5 +1,5 @@\n 1\n-2\n+TWO\n 3\n 4\n 5\n@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+13\n",
      truncated: false,
    });
  });

  it("shows an added file as one hunk from empty", () => {
    expect(unifiedDiff("", "a\nb\n").text).toBe("@@ -0,0 +1,2 @@\n+a\n+b\n");
  });

  it("gives up beyond the edit limit instead of running long", () => {
    const before = Array.from({ length: 500 }, (_, i) => `old ${i}`).join("\n");
    const after = Array.from({ length: 500 }, (_, i) => `new ${i}`).join("\n");
    expect(unifiedDiff(before, after, { maxEdits: 100 })).toEqual({ text: "", truncated: true });
  });

  it("cuts the output at the byte limit and says so", () => {
    const after = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
    const diff = unifiedDiff("", after, { maxBytes: 200 });
    expect(diff.truncated).toBe(true);
    expect(Buffer.byteLength(diff.text)).toBeLessThanOrEqual(200);
  });
});
