import { randomBytes } from "node:crypto";
import type { GuestAgent } from "../agent/client.js";
import type { SandboxRow } from "../state/schema.js";
import type { SandboxContext } from "./context.js";
import { generateHostKeys } from "./host-keys.js";
import { hostnameFor, identityFiles, reidentifyCommands } from "./identity.js";
import type { NetAttachment } from "./ports.js";

type SetupAgent = Pick<GuestAgent, "writeFile" | "execArgv" | "exec">;

/** Hostname, a fresh machine id and entropy: files written through the agent, no process needed. */
export async function writeIdentity(agent: Pick<GuestAgent, "writeFile">, name: string): Promise<void> {
  for (const file of identityFiles(hostnameFor(name), randomBytes(16).toString("hex"))) {
    await agent.writeFile(file.path, file.data);
  }
  await agent.writeFile("/dev/urandom", randomBytes(64));
}

/**
 * A guest resumed from a memory image runs on the clock of the moment it was saved or paused. Set
 * to the second, as a cold boot's RTC read is. Not qemu-ga's guest-set-time: it runs hwclock
 * afterwards, which takes ~1.7 s in a Debian guest under TCG.
 */
export async function setGuestClock(agent: Pick<GuestAgent, "execArgv">): Promise<void> {
  const result = await agent.execArgv(["date", "-u", "-s", `@${Math.round(Date.now() / 1000)}`], {
    timeoutMs: 30_000,
    maxOutputBytes: 4096,
  });
  if (result.exitCode !== 0)
    throw new Error(`setting the guest clock failed: ${result.stderr.toString("utf8").trim()}`);
}

/**
 * A clone resumed from guest RAM still carries its parent's hostname, machine id, address, host
 * keys and the clock of the moment it was saved. Files (host keys made on the host) go through the
 * agent directly; besides `date`, a process runs only when something needs one (bridged
 * networking, sshd), because every new program is slow right after a TCG restore.
 */
export async function reidentify(ctx: SandboxContext, row: SandboxRow, net: NetAttachment): Promise<void> {
  const agent: SetupAgent = await ctx.agents.get(row.id);
  await writeIdentity(agent, row.name);
  await setGuestClock(agent);
  const image = await ctx.options.images.resolve(row.image);
  if (image.sshd) {
    for (const file of await generateHostKeys(hostnameFor(row.name))) await agent.writeFile(file.path, file.data);
  }
  const commands = reidentifyCommands(net, { sshd: image.sshd });
  if (!commands) return;
  const result = await agent.exec({ command: commands, timeoutMs: 60_000, maxOutputBytes: 65_536 });
  if (result.exitCode !== 0) {
    const why = result.timedOut ? "timed out after 60 s" : result.stderr.toString("utf8").slice(0, 500);
    throw new Error(`re-identifying the clone failed: ${why}`);
  }
}
