import { describe, expect, it } from "vitest";
import { FAKE_PRIVATE_KEY } from "../testing/fake-source-host.js";
import { parseHostKeys, type SshTarget, validateTarget } from "./ssh-config.js";
import { SshError } from "./ssh-error.js";

const target: SshTarget = { host: "kvm1.example.com", port: 2222, user: "fluid", privateKey: FAKE_PRIVATE_KEY };

describe("ssh connection settings", () => {
  it("parses host keys as people paste them, and names a line it cannot read", () => {
    const blob = "AAAAC3NzaC1lZDI1NTE5AAAAIOr7kPVbLOBR7yNX8bYnm4PgqLqvQ5m1y7vCzvZ8nE1x";
    expect(
      parseHostKeys(
        `# from ssh-keyscan\n[10.0.0.5]:2222 ssh-ed25519 ${blob}\nssh-ed25519 ${blob} root@kvm1\n\necdsa-sha2-nistp256 ${blob}\n`,
      ),
    ).toEqual([`ssh-ed25519 ${blob}`, `ssh-ed25519 ${blob}`, `ecdsa-sha2-nistp256 ${blob}`]);
    expect(() => parseHostKeys(`ssh-ed25519 ${blob}\nssh-ed25519 not*base64`)).toThrow(/line 2/);
    expect(() => parseHostKeys("a b ssh-ed25519 AAAA")).toThrow(/line 1/);
    expect(() => parseHostKeys("\n# nothing\n")).toThrow(/no host key/);
    expect(() => validateTarget({ ...target, hostKeys: [`ssh-ed25519 ${blob}\nssh-rsa ${blob}`] })).toThrow(SshError);
  });
});
