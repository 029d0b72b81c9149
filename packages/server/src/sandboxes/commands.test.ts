import { describe, expect, it } from "vitest";
import { capOutput } from "./commands.js";

describe("capOutput", () => {
  it("keeps output within the limit as it is", () => {
    expect(capOutput("hello", 5)).toEqual({ text: "hello", truncated: false });
  });

  it("cuts output over the limit by bytes, not characters", () => {
    expect(capOutput("héllo", 3)).toEqual({ text: "h\u00e9", truncated: true });
    expect(capOutput("abcdef", 4)).toEqual({ text: "abcd", truncated: true });
  });
});
