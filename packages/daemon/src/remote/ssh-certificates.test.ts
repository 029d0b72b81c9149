import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runChecked } from "../system/run.js";
import { authorizedKeyLine, parsePublicKeyLine, SshCertificateAuthority } from "./ssh-certificates.js";

describe("SSH certificate authority", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-ca-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const userKey = () => authorizedKeyLine(generateKeyPairSync("ed25519").publicKey, "alice@laptop");

  it("issues certificates OpenSSH reads back: key id, principals, validity, only permit-pty", async () => {
    const ca = SshCertificateAuthority.generate();
    const issued = ca.issue({
      publicKey: userKey(),
      keyId: "user:alice sandbox:s1 purpose:sandbox",
      principals: ["sandbox"],
      ttlSeconds: 300,
    });
    await writeFile(join(dir, "id-cert.pub"), issued.certificate);
    const { stdout } = await runChecked(["ssh-keygen", "-L", "-f", join(dir, "id-cert.pub")]);
    expect(stdout).toContain("Type: ssh-ed25519-cert-v01@openssh.com user certificate");
    expect(stdout).toContain('Key ID: "user:alice sandbox:s1 purpose:sandbox"');
    expect(stdout).toMatch(/Principals:\s+sandbox/);
    expect(stdout).toMatch(/Critical Options: \(none\)/);
    expect(stdout).toMatch(/Extensions:\s+permit-pty\s*$/);
    expect(stdout).toContain(`Serial: ${issued.serial}`);
    expect(issued.validBefore.getTime() - Date.now()).toBeLessThanOrEqual(300_000);
  });

  it("is signed by the CA whose public key sshd trusts", async () => {
    const ca = SshCertificateAuthority.generate();
    const issued = ca.issue({ publicKey: userKey(), keyId: "k", principals: ["root"], ttlSeconds: 60 });
    await writeFile(join(dir, "id-cert.pub"), issued.certificate);
    const { stdout } = await runChecked(["ssh-keygen", "-L", "-f", join(dir, "id-cert.pub")]);
    await writeFile(join(dir, "ca.pub"), `${ca.publicKeyLine()}\n`);
    const fingerprint = (await runChecked(["ssh-keygen", "-l", "-f", join(dir, "ca.pub")])).stdout.split(" ")[1];
    expect(stdout).toContain(`Signing CA: ED25519 ${fingerprint}`);
  });

  it("survives a round trip through PEM", () => {
    const ca = SshCertificateAuthority.generate();
    expect(SshCertificateAuthority.fromPem(ca.toPem()).publicKeyLine()).toBe(ca.publicKeyLine());
  });

  it("refuses long lifetimes, odd principals and non-Ed25519 keys", () => {
    const ca = SshCertificateAuthority.generate();
    expect(() => ca.issue({ publicKey: userKey(), keyId: "k", principals: ["root"], ttlSeconds: 86_400 })).toThrow(
      /lifetime/,
    );
    expect(() => ca.issue({ publicKey: userKey(), keyId: "k", principals: ["root,admin"], ttlSeconds: 300 })).toThrow(
      /principals/,
    );
    expect(() => parsePublicKeyLine("ssh-rsa AAAAB3NzaC1yc2E= x")).toThrow(/ssh-ed25519/);
    expect(() => parsePublicKeyLine("ssh-ed25519 AAAA")).toThrow(/truncated|malformed/);
  });
});
