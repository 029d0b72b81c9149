import type { Sandbox } from "@fluid/sdk";
import { bytes } from "./output.js";

const phaseNames: Record<string, string> = {
  snapshot: "snapshotting the source VM's disk",
  copy: "copying the source VM's disk",
  commit: "merging the snapshot back into the source VM",
  flatten: "flattening the copy",
  "boot-files": "finding the kernel and cleaning the clone",
  boot: "booting",
};

/** One line for a creating sandbox's progress, e.g. "copying the source VM's disk: 512.0 MiB of 2.0 GiB (25%)". */
export function describeProgress(progress: Sandbox["progress"]): string | undefined {
  if (!progress) return undefined;
  const name = phaseNames[progress.phase] ?? progress.phase;
  if (progress.bytes_done <= 0) return name;
  if (progress.bytes_total <= 0) return `${name}: ${bytes(progress.bytes_done)}`;
  const percent = Math.min(100, Math.floor((progress.bytes_done / progress.bytes_total) * 100));
  return `${name}: ${bytes(progress.bytes_done)} of ${bytes(progress.bytes_total)} (${percent}%)`;
}
