import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";

export type AccelPreference = "auto" | "kvm" | "tcg";
export type Accel = "kvm" | "tcg";

export interface AccelDecision {
  accel: Accel;
  reason: string;
}

/**
 * `auto` uses KVM only when /dev/kvm is usable *and* the CPU advertises vmx/svm: a /dev/kvm backed
 * by a paravirtual hypervisor (no vmx/svm) cannot run ordinary guest kernels, so TCG is the honest choice.
 */
export async function decideAccel(preference: AccelPreference, cpuinfo?: string): Promise<AccelDecision> {
  if (preference === "tcg") return { accel: "tcg", reason: "TCG requested" };
  const info = cpuinfo ?? (await readFile("/proc/cpuinfo", "utf8"));
  const flags = /^flags\s*:\s*(.*)$/m.exec(info)?.[1]?.split(/\s+/) ?? [];
  const hasVirtualization = flags.includes("vmx") || flags.includes("svm");
  const kvmUsable = await access("/dev/kvm", constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
  if (preference === "kvm") {
    if (!kvmUsable) throw new Error("--accel kvm: /dev/kvm is not usable by this user");
    return { accel: "kvm", reason: "KVM requested" };
  }
  if (kvmUsable && hasVirtualization) return { accel: "kvm", reason: "/dev/kvm usable and CPU has vmx/svm" };
  return {
    accel: "tcg",
    reason: kvmUsable
      ? "/dev/kvm exists but the CPU advertises no vmx/svm; using TCG"
      : "no usable /dev/kvm; using TCG",
  };
}

/**
 * The host TSC rate in kHz. Under TCG the guest's rdtsc runs at the host rate, and telling the guest
 * (`tsc_early_khz=`) avoids a TSC calibration that can hang forever on microvm.
 */
export function tscKhz(cpuinfo: string): number | undefined {
  const mhz = /^cpu MHz\s*:\s*([\d.]+)$/m.exec(cpuinfo)?.[1];
  return mhz ? Math.round(Number(mhz) * 1000) : undefined;
}
