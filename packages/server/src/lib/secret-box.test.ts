import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SecretBox } from "./secret-box.js";

describe("SecretBox", () => {
  const key = randomBytes(32);

  it("round-trips a secret and never stores it readably", () => {
    const box = new SecretBox(key, { allowPlaintext: false });
    const sealed = box.seal("-----BEGIN OPENSSH PRIVATE KEY-----abc", "source_hosts.ssh_private_key:1");
    expect(sealed).toMatch(/^v1:/);
    expect(sealed).not.toContain("OPENSSH");
    expect(box.open(sealed, "source_hosts.ssh_private_key:1")).toBe("-----BEGIN OPENSSH PRIVATE KEY-----abc");
  });

  it("uses a fresh IV each time", () => {
    const box = new SecretBox(key, { allowPlaintext: false });
    expect(box.seal("same", "ctx")).not.toBe(box.seal("same", "ctx"));
  });

  it("refuses to open a value moved to another record (context is authenticated)", () => {
    const box = new SecretBox(key, { allowPlaintext: false });
    const sealed = box.seal("secret", "source_hosts.proxmox_secret:1");
    expect(() => box.open(sealed, "source_hosts.proxmox_secret:2")).toThrow();
  });

  it("refuses to open with another key", () => {
    const sealed = new SecretBox(key, { allowPlaintext: false }).seal("secret", "ctx");
    expect(() => new SecretBox(randomBytes(32), { allowPlaintext: false }).open(sealed, "ctx")).toThrow();
  });

  it("encryption-key-required-when-secrets-stored: without a key it refuses to seal", () => {
    const box = new SecretBox(undefined, { allowPlaintext: false });
    expect(box.canSeal).toBe(false);
    expect(() => box.seal("secret", "ctx")).toThrow(/FLUID_ENCRYPTION_KEY/);
  });

  it("--insecure-dev stores visibly marked plaintext instead", () => {
    const box = new SecretBox(undefined, { allowPlaintext: true });
    const sealed = box.seal("secret", "ctx");
    expect(sealed.startsWith("plain:")).toBe(true);
    expect(box.open(sealed, "ctx")).toBe("secret");
  });
});
