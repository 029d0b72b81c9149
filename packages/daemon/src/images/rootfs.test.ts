import { describe, expect, it } from "vitest";
import { parseLdd } from "./rootfs.js";

describe("parseLdd", () => {
  it("collects resolved libraries and the loader, skipping the vDSO", () => {
    const output = [
      "\tlinux-vdso.so.1 (0x00007ffd1a7f4000)",
      "\tlibglib-2.0.so.0 => /lib/x86_64-linux-gnu/libglib-2.0.so.0 (0x00007f0e8e564000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e8e29a000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f0e8e7e9000)",
      "\tlibpcre2-8.so.0 => /lib/x86_64-linux-gnu/libpcre2-8.so.0 (0x00007f0e8e200000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e8e29a000)",
      "",
    ].join("\n");
    expect(parseLdd(output)).toEqual({
      libraries: [
        "/lib/x86_64-linux-gnu/libglib-2.0.so.0",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
        "/lib/x86_64-linux-gnu/libpcre2-8.so.0",
      ],
      missing: [],
    });
  });

  it("reports libraries that are not found", () => {
    const output =
      "\tliburing.so.2 => not found\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e8e29a000)\n";
    expect(parseLdd(output)).toEqual({ libraries: ["/lib/x86_64-linux-gnu/libc.so.6"], missing: ["liburing.so.2"] });
  });

  it("yields nothing for a static binary", () => {
    expect(parseLdd("\tnot a dynamic executable\n")).toEqual({ libraries: [], missing: [] });
    expect(parseLdd("\tstatically linked\n")).toEqual({ libraries: [], missing: [] });
  });
});
