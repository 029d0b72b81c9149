import { runChecked } from "../system/run.js";

export interface ImageFile {
  path: string;
  format: "raw" | "qcow2";
}

/** qemu-img's `-p` output: `    (12.34/100%)\r`, repeated. */
const progressPattern = /\((\d+(?:\.\d+)?)\/100%\)/g;

/** The last fraction (0..1) in a chunk of `qemu-img -p` output, if it has one. */
export function lastFraction(text: string): number | undefined {
  let last: number | undefined;
  for (const match of text.matchAll(progressPattern)) last = Number(match[1]) / 100;
  return last === undefined ? undefined : Math.min(1, Math.max(0, last));
}

/**
 * `qemu-img convert` from one image file to another, telling `onFraction` how far it has got: on a
 * disk of hundreds of GB this runs for minutes, and a pull must be seen to be moving.
 */
export async function convertImage(
  from: ImageFile,
  to: ImageFile,
  options: { onFraction?: ((fraction: number) => void) | undefined; timeoutMs?: number } = {},
): Promise<void> {
  await runChecked(["qemu-img", "convert", "-p", "-f", from.format, "-O", to.format, from.path, to.path], {
    timeoutMs: options.timeoutMs ?? 6 * 60 * 60_000,
    maxOutputBytes: 64 * 1024,
    onStdout: (text) => {
      const fraction = lastFraction(text);
      if (fraction !== undefined) options.onFraction?.(fraction);
    },
  });
}
