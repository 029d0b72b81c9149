import { describe, expect, it } from "vitest";
import { SourceError } from "../remote/source-error.js";
import { debugfsPath, parseDebugfsListing } from "./ext-filesystem.js";

describe("debugfs helpers", () => {
  it("parses debugfs ls -p", () => {
    expect(
      parseDebugfsListing(
        "/13/040755/0/0/.//\n/2/040755/0/0/..//\n/10034/100644/0/0/vmlinuz-6.1.0-56-amd64/8247232/\n/576/120777/0/0/lib/7/\n",
      ),
    ).toEqual([
      { name: "vmlinuz-6.1.0-56-amd64", mode: 0o100644, size: 8247232 },
      { name: "lib", mode: 0o120777, size: 7 },
    ]);
  });

  it("quotes paths for a debugfs command line and refuses what it cannot quote", () => {
    expect(debugfsPath("/etc/ssh/ssh host key")).toBe('"/etc/ssh/ssh host key"');
    for (const path of ['/etc/"quoted"', "/etc/new\nline", "/etc/cr\rname", "/etc/nul\0byte"]) {
      expect(() => debugfsPath(path)).toThrow(SourceError);
    }
  });
});
