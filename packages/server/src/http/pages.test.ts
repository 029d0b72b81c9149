import { describe, expect, it } from "vitest";
import { z } from "zod";
import { pageReply, pageSchema } from "./pages.js";

describe("offset pages", () => {
  it("drops the probe row and points at the next page when more rows follow", () => {
    const reply = pageReply("items", [1, 2, 3], { limit: 2, offset: 4 }, (n) => n * 10);
    expect(reply).toEqual({ items: [10, 20], count: 2, has_more: true, next_offset: 6 });
  });

  it("ends the listing when the probe row is missing", () => {
    const reply = pageReply("items", [1], { limit: 2, offset: 0 }, String);
    expect(reply).toEqual({ items: ["1"], count: 1, has_more: false, next_offset: null });
  });

  it("describes the same shape it returns", () => {
    const schema = pageSchema("items", z.number());
    expect(schema.parse(pageReply("items", [1, 2], { limit: 1, offset: 0 }, (n) => n))).toEqual({
      items: [1],
      count: 1,
      has_more: true,
      next_offset: 1,
    });
    expect(() => schema.parse({ items: [], count: 0, has_more: false })).toThrow();
  });
});
