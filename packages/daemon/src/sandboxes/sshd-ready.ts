import type { GuestReader } from "../agent/guest-sockets.js";
import { parseProcNet } from "../agent/proc-net.js";
import { SandboxError } from "../errors.js";

export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
}

/**
 * Under systemd sshd starts after the agent and makes its host keys on first boot: measured over
 * 30 s after RUNNING for debian-12 under TCG on a loaded host (e2e/ssh.test.ts), hence 90 s.
 */
export const SSHD_WAIT: WaitOptions = { timeoutMs: 90_000, intervalMs: 250 };

const SSH_PORT = 22;
const MAX_TABLE_BYTES = 4 * 1024 * 1024;

/** Whether something in the guest listens on TCP port 22, over IPv4 or IPv6 (read from /proc/net). */
export async function sshdListening(guest: Pick<GuestReader, "readFile">): Promise<boolean> {
  for (const table of ["tcp", "tcp6"] as const) {
    const read = await guest.readFile(`/proc/net/${table}`, MAX_TABLE_BYTES).catch(() => undefined);
    if (read && parseProcNet(read.data.toString("utf8"), table).some((socket) => socket.port === SSH_PORT)) {
      return true;
    }
  }
  return false;
}

/**
 * Returns once sshd in the guest accepts connections, so the address handed to a caller works at
 * once: a freshly booted guest (or one whose sshd was just told to reload) may not listen yet.
 */
export async function waitForSshd(
  guest: Pick<GuestReader, "readFile">,
  sandboxId: string,
  options: WaitOptions = SSHD_WAIT,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await sshdListening(guest)) return;
    if (Date.now() >= deadline) {
      // invalid_state: the sandbox is not (yet) in a state to take SSH; a host answers no "timeout".
      throw new SandboxError(
        "invalid_state",
        `sshd in sandbox ${sandboxId} is not listening on port ${SSH_PORT} after ${Math.round(options.timeoutMs / 1000)} s; try again once the sandbox has finished booting`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs, deadline - Date.now())));
  }
}
