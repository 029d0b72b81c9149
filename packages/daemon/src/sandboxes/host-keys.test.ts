import { describe, expect, it } from "vitest";
import { generateHostKeys } from "./host-keys.js";

describe("generateHostKeys", () => {
  it("makes an RSA, ECDSA and Ed25519 key pair for /etc/ssh, new each time", async () => {
    const first = await generateHostKeys("web-fork-1");
    expect(first.map((f) => f.path)).toEqual([
      "/etc/ssh/ssh_host_rsa_key",
      "/etc/ssh/ssh_host_rsa_key.pub",
      "/etc/ssh/ssh_host_ecdsa_key",
      "/etc/ssh/ssh_host_ecdsa_key.pub",
      "/etc/ssh/ssh_host_ed25519_key",
      "/etc/ssh/ssh_host_ed25519_key.pub",
    ]);
    for (const file of first) {
      const text = file.data.toString("utf8");
      if (file.path.endsWith(".pub"))
        expect(text).toMatch(/^(ssh-rsa|ecdsa-sha2-nistp256|ssh-ed25519) \S+ root@web-fork-1\n$/);
      else expect(text).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    }
    const second = await generateHostKeys("web-fork-1");
    for (const [n, file] of second.entries()) expect(file.data.equals(first[n]?.data ?? Buffer.alloc(0))).toBe(false);
  });
});
