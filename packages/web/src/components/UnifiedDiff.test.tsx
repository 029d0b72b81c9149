import { act } from "react";
import { describe, expect, it } from "vitest";
import { useMountedRoot } from "../lib/mount.fixtures";
import { UnifiedDiff } from "./UnifiedDiff";

describe("UnifiedDiff", () => {
  const view = useMountedRoot();

  const render = (text: string) => act(() => view.root.render(<UnifiedDiff text={text} label="/etc/motd" />));
  const row = (cls: string) => [...view.container.querySelectorAll(`tr.${cls}`)];

  it("colours removed and added lines by class and numbers them on their own side", () => {
    render("@@ -1,2 +1,2 @@\n keep\n-old\n+new\n");
    const [removed] = row("diff-removed");
    const [added] = row("diff-added");
    expect(removed?.textContent).toBe("2-removed: old");
    expect(added?.textContent).toBe("2+added: new");
    expect(row("diff-context")[0]?.querySelectorAll("td.diff-no")[1]?.textContent).toBe("1");
  });

  it("shows each hunk header as its own row", () => {
    render("@@ -1,1 +1,1 @@\n-a\n+b\n@@ -9,1 +9,1 @@\n-c\n+d\n");
    expect(row("diff-hunk").map((r) => r.textContent)).toEqual(["@@ -1,1 +1,1 @@", "@@ -9,1 +9,1 @@"]);
  });

  it("says so instead of drawing an empty table when there are no lines", () => {
    render("");
    expect(view.container.querySelector("table")).toBeNull();
    expect(view.container.textContent).toContain("No line changes");
  });
});
