/** What the sandbox manager needs from the image store (kept narrow so tests can stand in). */
import type { BootMode } from "../vm/boot-mode.js";

export interface ImageSource {
  resolve(name: string): Promise<ResolvedImage>;
  names(): Promise<string[]>;
}

export interface ResolvedImage {
  name: string;
  kernel: string;
  initrd?: string | undefined;
  disk: string;
  sshd: boolean;
  /** The root filesystem's device in the guest (/dev/vda, or /dev/vdaN for a partitioned pulled disk). */
  rootDevice?: string | undefined;
  /** How the guest starts; fast (busybox init) when absent. */
  boot?: BootMode | undefined;
}
