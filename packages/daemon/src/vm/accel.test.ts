import { describe, expect, it } from "vitest";
import { decideAccel, tscKhz } from "./accel.js";

const cpuinfo = (flags: string) => `processor\t: 0\ncpu MHz\t\t: 2445.430\nflags\t\t: fpu vme ${flags} sse2\n`;

describe("acceleration", () => {
  it("auto picks TCG when the CPU advertises no vmx/svm, whatever /dev/kvm says", async () => {
    const decision = await decideAccel("auto", cpuinfo("hypervisor"));
    expect(decision.accel).toBe("tcg");
  });

  it("honours an explicit tcg", async () => {
    expect((await decideAccel("tcg", cpuinfo("vmx"))).accel).toBe("tcg");
  });

  it("reads the host TSC rate in kHz for tsc_early_khz", () => {
    expect(tscKhz(cpuinfo(""))).toBe(2445430);
    expect(tscKhz("nothing here")).toBeUndefined();
  });
});
