import { describe, expect, it } from "vitest";
import { parseStatLines } from "./files.js";

describe("parseStatLines", () => {
  it("turns busybox stat output into typed, sorted entries relative to the directory", () => {
    const output = [
      "regular file|12|1700000000|/etc/hostname",
      "directory|4096|1700000001|/etc/ssh",
      "symbolic link|7|1700000002|/etc/mtab",
      "regular empty file|0|1700000003|/etc/a|b",
      "fifo|0|1700000004|/etc/pipe",
    ].join("\n");
    expect(parseStatLines(output, "/etc")).toEqual([
      { name: "a|b", type: "file", size: 0, modifiedUnix: 1700000003 },
      { name: "hostname", type: "file", size: 12, modifiedUnix: 1700000000 },
      { name: "mtab", type: "symlink", size: 7, modifiedUnix: 1700000002 },
      { name: "pipe", type: "other", size: 0, modifiedUnix: 1700000004 },
      { name: "ssh", type: "directory", size: 4096, modifiedUnix: 1700000001 },
    ]);
  });
});
