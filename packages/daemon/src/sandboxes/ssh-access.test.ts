import { afterEach, describe, expect, it } from "vitest";
import type { SshCertificateAuthority } from "../remote/ssh-certificates.js";
import { fakeSandboxHost } from "../testing/fake-sandbox-host.js";
import { sshAccess } from "./ssh-access.js";

const issued: unknown[] = [];
const ca = {
  publicKeyLine: () => "ssh-ed25519 AAAAfake host-ca",
  issue: (request: { ttlSeconds: number }) => {
    if (request.ttlSeconds > 3600) throw new Error("certificate lifetime must be between 60 and 3600 seconds");
    issued.push(request);
    return { certificate: "ssh-ed25519-cert-v01@openssh.com AAAA", validBefore: new Date(0) };
  },
} as unknown as SshCertificateAuthority;

const input = { publicKey: "ssh-ed25519 AAAAuser", ttlSeconds: 600, requestedBy: "ada" };
const LISTENING_SSHD = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1480 1 0 100 0 0 10 0
`;

describe("sshAccess", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>>;
  afterEach(() => host.close());

  it("configures the guest's sshd once to trust the host CA, then only issues certificates", async () => {
    host = await fakeSandboxHost({ sshd: true });
    host.ctx.options.sshCa = ca;
    await host.insert({ id: "s1" });
    host.guest.files.set("/run/sshd.pid", Buffer.from("321\n"));
    host.guest.files.set("/proc/net/tcp", Buffer.from(LISTENING_SSHD));
    host.guest.files.set("/etc/ssh/fluid_principals/root", Buffer.from("fluid-readonly\n"));
    const access = await sshAccess(host.ctx, "s1", input);
    expect(access).toEqual({
      user: "root",
      host: "10.0.0.2",
      port: 22,
      certificate: "ssh-ed25519-cert-v01@openssh.com AAAA",
      validBefore: new Date(0),
    });
    expect(host.guest.files.get("/etc/ssh/fluid_principals/root")?.toString()).toBe("fluid-readonly\nsandbox\n");
    expect(host.guest.files.get("/etc/ssh/fluid_ca.pub")?.toString()).toBe("ssh-ed25519 AAAAfake host-ca\n");
    expect(host.guest.calls).toContain("kill -HUP 321");
    const before = host.guest.calls.length;
    await sshAccess(host.ctx, "s1", input);
    expect(host.guest.calls.length).toBe(before);
    expect(issued).toMatchObject([
      { keyId: "sandbox:s1 by:ada purpose:sandbox", principals: ["sandbox"] },
      { principals: ["sandbox"] },
    ]);
  });

  it("refuses without a CA, for an image without sshd, and for a lifetime the CA refuses", async () => {
    host = await fakeSandboxHost({ sshd: false });
    await host.insert({ id: "s1" });
    await expect(sshAccess(host.ctx, "s1", input)).rejects.toMatchObject({ code: "host_unavailable" });
    host.ctx.options.sshCa = ca;
    await expect(sshAccess(host.ctx, "s1", input)).rejects.toMatchObject({ code: "invalid_state" });
    await host.close();
    host = await fakeSandboxHost({ sshd: true });
    host.ctx.options.sshCa = ca;
    await host.insert({ id: "s1" });
    await expect(sshAccess(host.ctx, "s1", { ...input, ttlSeconds: 7200 })).rejects.toMatchObject({
      code: "invalid_request",
    });
  });

  it("fails with invalid_state when the guest's sshd does not listen in time", async () => {
    host = await fakeSandboxHost({ sshd: true });
    host.ctx.options.sshCa = ca;
    await host.insert({ id: "s1" });
    await expect(sshAccess(host.ctx, "s1", input, { timeoutMs: 50, intervalMs: 10 })).rejects.toMatchObject({
      code: "invalid_state",
      message: expect.stringMatching(/sshd in sandbox s1 is not listening/),
    });
  });
});
