import { describe, expect, it } from "vitest";
import { boundFile, boundOutput, decodeText } from "./bounded.js";

describe("boundOutput", () => {
  it("leaves short output alone", () => {
    expect(boundOutput("hello\n", "stdout", false)).toEqual({ text: "hello\n", truncated: false });
  });

  it("keeps the start and the end, and says how much of the middle was cut", () => {
    const text = `${"a".repeat(1000)}${"Z".repeat(1000)}${"c".repeat(1000)}`;
    const { text: shown, truncated } = boundOutput(text, "stdout", false, 1000);
    expect(truncated).toBe(true);
    expect(shown.startsWith("a".repeat(500))).toBe(true);
    expect(shown.endsWith("c".repeat(500))).toBe(true);
    expect(shown).not.toContain("Z");
    expect(shown).toContain("[… 2000 bytes of stdout cut here: 3000 bytes in all, the first 500 and the last 500");
  });

  it("never splits a UTF-8 character", () => {
    const text = "é".repeat(1000);
    const { text: shown } = boundOutput(text, "stderr", false, 101);
    expect(shown).not.toContain("\uFFFD");
    expect(shown).toMatch(
      /^(é){25}\n\[… 1900 bytes of stderr cut here: 2000 bytes in all, the first 50 and the last 50/,
    );
  });

  it("reports a cut the host made before us", () => {
    const { text, truncated } = boundOutput("partial", "stdout", true);
    expect(truncated).toBe(true);
    expect(text).toMatch(/^partial\n\[… the sandbox host stopped capturing stdout at its own limit/);
  });
});

describe("boundFile", () => {
  it("returns small text files whole", () => {
    expect(boundFile(Buffer.from("line\n"), "/etc/x", false)).toEqual({
      text: "line\n",
      truncated: false,
      binary: false,
    });
  });

  it("keeps the start of a large file and says how to read further", () => {
    const { text, truncated } = boundFile(Buffer.from("x".repeat(5000)), "/var/log/it's.log", false, 1000);
    expect(truncated).toBe(true);
    expect(
      text.startsWith(`${"x".repeat(1000)}\n[… only the first 1000 bytes of this file are shown (it has 5000 bytes)`),
    ).toBe(true);
    expect(text).toContain(`tail -c +1001 '/var/log/it'\\''s.log' | head -c 1000`);
  });

  it("says when the host already cut the file", () => {
    expect(boundFile(Buffer.from("abc"), "/f", true).text).toContain("(it has more than 3 bytes)");
  });

  it("describes binary content instead of returning it", () => {
    const result = boundFile(new Uint8Array([0, 1, 2, 255]), "/bin/x", false);
    expect(result).toMatchObject({ binary: true, truncated: true });
    expect(result.text).toMatch(/^\[binary file, 4 bytes; not shown/);
  });
});

describe("decodeText", () => {
  it("keeps a byte-order mark, so an edit writes it back", () => {
    expect(decodeText(Buffer.from("\uFEFFhi"))).toBe("\uFEFFhi");
  });

  it("rejects invalid UTF-8 and NUL bytes", () => {
    expect(decodeText(new Uint8Array([0xc3]))).toBeUndefined();
    expect(decodeText(new Uint8Array([0x61, 0]))).toBeUndefined();
  });
});
