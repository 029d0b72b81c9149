import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { repoRoot } from "./lib/global-setup.js";

const isRoot = process.getuid?.() === 0;

/**
 * The second channel: OpenSSH's own `ssh` logs in with a short-lived certificate from the host's
 * CA. Needs the debian-12 image (sshd), built here on first use (cached afterwards), and root for
 * bridge networking so the host can reach the guest.
 */
describe.skipIf(!isRoot)("SSH into a sandbox with a CA-signed certificate (needs root and the debian-12 image)", () => {
  let daemon: TestDaemonProcess;
  let keys: string;
  let sandbox: { id: string; ip_address: string };

  beforeAll(async () => {
    const build = spawnSync(
      process.execPath,
      [
        join(repoRoot, "packages/daemon/bin/fluid-daemon.js"),
        "image",
        "build",
        "debian-12",
        "--image-dir",
        inject("imageDir"),
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    if (build.status !== 0) throw new Error("building the debian-12 image failed");
    keys = await mkdtemp(join(tmpdir(), "fluid-e2e-ssh-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", join(keys, "id")]);
    daemon = await startDaemon({ network: "bridge", bridge: "fle2essh0", subnet: "10.93.88.0/24" });
    const created = await daemon.api.create({ image: "debian-12", memory_mb: 512 });
    expect(created.status).toBe(201);
    sandbox = created.body;
  });

  afterAll(async () => {
    await daemon?.dispose();
    if (keys) await rm(keys, { recursive: true, force: true });
  });

  const ssh = (command: string) =>
    spawnSync(
      "ssh",
      [
        "-i",
        join(keys, "id"),
        "-o",
        `CertificateFile=${join(keys, "id-cert.pub")}`,
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=20",
        "-o",
        "LogLevel=ERROR",
        `root@${sandbox.ip_address}`,
        command,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );

  it("logs in with a certificate the daemon issued", async () => {
    const access = await daemon.api.call("POST", `/v1/sandboxes/${sandbox.id}/ssh`, {
      public_key: await readFile(join(keys, "id.pub"), "utf8"),
      ttl_seconds: 300,
    });
    expect(access.status).toBe(200);
    expect(access.body).toMatchObject({ user: "root", host: sandbox.ip_address, port: 22 });
    await writeFile(join(keys, "id-cert.pub"), access.body.certificate);
    // No retries: the daemon answers only once sshd listens, though under systemd it starts after
    // the agent (RUNNING) and makes its host keys on first boot.
    const result = ssh("hostname; id -un");
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`${(await daemon.api.call("GET", `/v1/sandboxes/${sandbox.id}`)).body.name}\nroot\n`);
  });

  it("refuses the same key once its certificate is gone", async () => {
    await rm(join(keys, "id-cert.pub"));
    const result = ssh("true");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("Permission denied");
  });

  it("refuses a certificate issued for another key", async () => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(keys, "other")]);
    const access = await daemon.api.call("POST", `/v1/sandboxes/${sandbox.id}/ssh`, {
      public_key: await readFile(join(keys, "other.pub"), "utf8"),
    });
    await writeFile(join(keys, "id-cert.pub"), access.body.certificate);
    const result = ssh("true");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("Permission denied");
  });
});
