import { SandboxError } from "../errors.js";
import type { IssuedCertificate } from "../remote/ssh-certificates.js";
import type { SandboxContext } from "./context.js";
import { writeFile } from "./files.js";
import { SSHD_WAIT, type WaitOptions, waitForSshd } from "./sshd-ready.js";

export interface SshAccess {
  user: string;
  host: string;
  port: number;
  certificate: string;
  validBefore: Date;
}

const SSHD_DROP_IN = "TrustedUserCAKeys /etc/ssh/fluid_ca.pub\nAuthorizedPrincipalsFile /etc/ssh/fluid_principals/%u\n";

/**
 * Short-lived SSH access to a sandbox whose image runs sshd: the guest is told (once) to trust
 * this host's CA for the `sandbox` principal as root, and the caller's key gets a certificate.
 */
export async function sshAccess(
  ctx: SandboxContext,
  id: string,
  input: { publicKey: string; ttlSeconds: number; requestedBy: string },
  sshdWait: WaitOptions = SSHD_WAIT,
): Promise<SshAccess> {
  const ca = ctx.options.sshCa;
  if (!ca) throw new SandboxError("host_unavailable", "this host has no SSH certificate authority");
  const row = await ctx.store.running(id);
  const image = await ctx.options.images.resolve(row.image);
  if (!image.sshd) throw new SandboxError("invalid_state", `image ${row.image} has no SSH server; use exec instead`);
  const agent = await ctx.agents.get(id);
  const limits = { timeoutMs: 30_000, maxOutputBytes: 65_536 };
  const caLine = `${ca.publicKeyLine()}\n`;
  const read = async (path: string) => (await agent.readFile(path, 4096).catch(() => undefined))?.data.toString();
  const trusted = await read("/etc/ssh/fluid_ca.pub");
  const principals = (await read("/etc/ssh/fluid_principals/root"))?.split("\n").filter(Boolean) ?? [];
  const dropIn = await read("/etc/ssh/sshd_config.d/fluid.conf");
  // Configure and reload sshd only once: a reload briefly stops it from accepting connections. The CA
  // alone does not say it was done: a clone of a source VM this host prepared already trusts it, for
  // other principals (fluid-readonly, and root's fluid-apply where applying is enabled).
  if (trusted !== caLine || !principals.includes("sandbox") || dropIn === undefined) {
    await agent.execArgv(["mkdir", "-p", "/etc/ssh/sshd_config.d", "/etc/ssh/fluid_principals"], limits);
    const rootPrincipals = [...new Set([...principals, "sandbox"])].join("\n");
    await writeFile(ctx, id, "/etc/ssh/fluid_principals/root", Buffer.from(`${rootPrincipals}\n`), 0o644);
    await writeFile(ctx, id, "/etc/ssh/sshd_config.d/fluid.conf", Buffer.from(SSHD_DROP_IN), 0o644);
    await writeFile(ctx, id, "/etc/ssh/fluid_ca.pub", Buffer.from(caLine), 0o644);
    const pid = (await agent.readFile("/run/sshd.pid", 32).catch(() => undefined))?.data.toString().trim();
    if (pid && /^\d+$/.test(pid)) await agent.execArgv(["kill", "-HUP", pid], limits);
  }
  let issued: IssuedCertificate;
  try {
    issued = ca.issue({
      publicKey: input.publicKey,
      keyId: `sandbox:${id} by:${input.requestedBy} purpose:sandbox`,
      principals: ["sandbox"],
      ttlSeconds: input.ttlSeconds,
    });
  } catch (err) {
    throw new SandboxError("invalid_request", (err as Error).message);
  }
  // Last, so a request the CA refuses fails at once; and after the reload above, which briefly
  // closes sshd's listener.
  await waitForSshd(agent, id, sshdWait);
  return {
    user: "root",
    host: row.ip ?? "",
    port: 22,
    certificate: issued.certificate,
    validBefore: issued.validBefore,
  };
}
