import { describe, expect, it } from "vitest";
import { mirrorStyleElements } from "./adopted-styles";

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const adoptedText = () =>
  document.adoptedStyleSheets.map((sheet) => [...sheet.cssRules].map((rule) => rule.cssText).join(" "));

describe("mirrorStyleElements", () => {
  it("mirrors <style> text under the root into adopted sheets, follows rewrites and removals, and drops them when stopped", async () => {
    const root = document.createElement("div");
    document.body.append(root);
    const stop = mirrorStyleElements(root);
    const style = document.createElement("style");
    style.textContent = ".cell { width: 9px; }";
    root.append(style);
    await settle();
    expect(adoptedText()).toEqual([".cell { width: 9px; }"]);

    style.textContent = ".cell { width: 11px; }";
    await settle();
    expect(adoptedText()).toEqual([".cell { width: 11px; }"]);

    const second = document.createElement("style");
    second.textContent = ".row { height: 17px; }";
    root.append(second);
    style.remove();
    await settle();
    expect(adoptedText()).toEqual([".row { height: 17px; }"]);

    stop();
    expect(document.adoptedStyleSheets).toEqual([]);
    root.remove();
  });
});
