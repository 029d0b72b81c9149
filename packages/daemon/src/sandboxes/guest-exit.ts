import { open } from "node:fs/promises";

/** The serial log's tail is enough: the kernel's last words are its final lines. */
const TAIL_BYTES = 4096;

/**
 * True when the guest powered itself off (`shutdown -h now`, `poweroff`, `systemctl poweroff`)
 * rather than crashing: the kernel's last line on the serial console is "reboot: Power down" or
 * "reboot: System halted". QEMU exits the same way for a panic (panic=-1 with -no-reboot), whose
 * last lines are the panic's.
 */
export async function guestPoweredOff(serialLog: string): Promise<boolean> {
  let tail: string;
  try {
    const file = await open(serialLog, "r");
    try {
      const { size } = await file.stat();
      const start = Math.max(0, size - TAIL_BYTES);
      const buffer = Buffer.alloc(size - start);
      await file.read(buffer, 0, buffer.length, start);
      tail = buffer.toString("utf8");
    } finally {
      await file.close();
    }
  } catch {
    return false;
  }
  const lines = tail.split(/\r?\n/).filter((line) => line.trim() !== "");
  const last = lines.at(-1) ?? "";
  return /\breboot: (Power down|System halted)\s*$/.test(last);
}
