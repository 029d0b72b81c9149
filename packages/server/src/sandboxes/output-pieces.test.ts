import { describe, expect, it } from "vitest";
import { OutputPieces } from "./output-pieces.js";

const piece = (stream: "stdout" | "stderr", text: string) => ({ stream, data: Buffer.from(text) });

describe("OutputPieces", () => {
  it("passes pieces under the cap on whole and keeps them for the record", () => {
    const pieces = new OutputPieces(10, 10);
    expect(pieces.accept(piece("stdout", "abc"))?.data.toString()).toBe("abc");
    expect(pieces.accept(piece("stderr", "e"))?.data.toString()).toBe("e");
    expect(pieces.stored("stdout")).toEqual({ text: "abc", truncated: false });
    expect(pieces.stored("stderr")).toEqual({ text: "e", truncated: false });
  });

  it("cuts the piece that crosses a stream's cap, drops what follows and marks the stream truncated", () => {
    const pieces = new OutputPieces(5, 5);
    expect(pieces.accept(piece("stdout", "abc"))?.data.toString()).toBe("abc");
    expect(pieces.accept(piece("stdout", "defg"))?.data.toString()).toBe("de");
    expect(pieces.accept(piece("stdout", "h"))).toBeUndefined();
    expect(pieces.accept(piece("stderr", "other stream"))?.data.toString()).toBe("other");
    expect(pieces.stored("stdout")).toEqual({ text: "abcde", truncated: true });
  });

  it("keeps at most the stored cap for the record while passing more on", () => {
    const pieces = new OutputPieces(100, 4);
    expect(pieces.accept(piece("stdout", "abcdef"))?.data.toString()).toBe("abcdef");
    expect(pieces.stored("stdout")).toEqual({ text: "abcd", truncated: true });
  });
});
