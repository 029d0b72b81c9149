import { describe, expect, it } from "vitest";
import { bootParams, parseBootMode } from "./boot-mode.js";

describe("boot modes", () => {
  it("systemd asks the initramfs for systemd and keeps the interface named eth0; fast adds nothing", () => {
    expect(bootParams("systemd")).toEqual(["fluid.boot=systemd", "net.ifnames=0"]);
    expect(bootParams("fast")).toEqual([]);
  });

  it("parses the two modes and rejects anything else", () => {
    expect(parseBootMode("fast")).toBe("fast");
    expect(parseBootMode("systemd")).toBe("systemd");
    expect(() => parseBootMode("sysvinit")).toThrow(/invalid boot mode "sysvinit" \(use systemd or fast\)/);
  });
});
