import { describe, expect, it } from "vitest";
import { asText, decodeBase64, parentPath } from "./files";

describe("file content", () => {
  it("shows UTF-8 text as text", () => {
    // btoa takes bytes as Latin-1 characters: C3 A9 is "é" in UTF-8.
    expect(asText(decodeBase64(btoa("h\u00c3\u00a9llo\n")))).toBe("héllo\n");
  });

  it("treats NUL bytes or invalid UTF-8 as binary (download only)", () => {
    expect(asText(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x00]))).toBeUndefined();
    expect(asText(new Uint8Array([0xff, 0xfe, 0x41]))).toBeUndefined();
  });

  it("walks up to the root and no further", () => {
    expect(parentPath("/etc/ssh")).toBe("/etc");
    expect(parentPath("/etc/")).toBe("/");
    expect(parentPath("/")).toBe("/");
  });
});
