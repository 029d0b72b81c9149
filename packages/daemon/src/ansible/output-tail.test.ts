import { describe, expect, it } from "vitest";
import { OutputTail } from "./output-tail.js";

describe("OutputTail", () => {
  it("keeps everything while under its limit", () => {
    const tail = new OutputTail(16);
    tail.push(Buffer.from("PLAY "));
    tail.push(Buffer.from("RECAP"));
    expect(tail.text()).toBe("PLAY RECAP");
    expect(tail.truncated).toBe(false);
  });

  it("keeps only the last bytes of a long stream and says it dropped some", () => {
    const tail = new OutputTail(8);
    for (const chunk of ["0123456789", "abc", "defgh"]) tail.push(Buffer.from(chunk));
    expect(tail.text()).toBe("9abcdefgh".slice(-8));
    expect(tail.truncated).toBe(true);
  });

  it("drops a character the cut split rather than emitting a broken one", () => {
    const tail = new OutputTail(5);
    tail.push(Buffer.from("xx→abc"));
    // "→" is three bytes; the last five bytes start inside it.
    expect(tail.text()).toBe("abc");
  });
});
