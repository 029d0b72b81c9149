import { existsSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChecked } from "../system/run.js";
import { diffRoots } from "./diff.js";
import type { Change } from "./diff-types.js";
import { withReadOnlyRoot, withRoot } from "./disk-view.js";

const IMAGE = "/var/lib/fluid/images/debian-12/rootfs.qcow2";
const ready = existsSync("/dev/fuse") && existsSync(IMAGE) && process.getuid?.() === 0;

/** Drops one package's stanza from dpkg's status, as `dpkg --purge` leaves it. */
function withoutPackage(status: string, name: string): string {
  return status
    .split(/\n(?=Package: )/)
    .filter((stanza) => !stanza.startsWith(`Package: ${name}\n`))
    .join("\n");
}

/** The kinds of change an agent makes, and the noise a booted clone leaves, on a writable overlay. */
async function changeSystem(root: string): Promise<void> {
  const at = (path: string) => join(root, path);
  await writeFile(at("etc/app.conf"), "listen 8080\n");
  await appendFile(at("etc/issue"), "Managed by fluid review test\n");
  await rm(at("etc/motd"));
  await appendFile(at("etc/passwd"), "deploy:x:1001:1001::/home/deploy:/bin/sh\n");
  await appendFile(at("etc/group"), "deploy:x:1001:\n");
  await mkdir(at("etc/systemd/system/sockets.target.wants"));
  await symlink("/lib/systemd/system/ssh.socket", at("etc/systemd/system/sockets.target.wants/ssh.socket"));
  await writeFile(at("etc/cron.d/backup"), "0 3 * * * root /usr/local/bin/backup\n");
  await writeFile(at("etc/sysctl.d/60-forward.conf"), "net.ipv4.ip_forward = 1\n");
  const status = await readFile(at("var/lib/dpkg/status"), "utf8");
  await writeFile(at("var/lib/dpkg/status"), withoutPackage(status, "openssh-sftp-server"));
  // Noise: history, logs, identity fluid resets, caches.
  await writeFile(at("root/.bash_history"), "vi /etc/app.conf\n");
  await appendFile(at("var/log/dpkg.log"), "2026-12-03 remove openssh-sftp-server\n");
  await writeFile(at("etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
  await writeFile(at("etc/hostname"), "review-test\n");
  await mkdir(at("usr/local/lib/app/__pycache__"), { recursive: true });
  await writeFile(at("usr/local/lib/app/__pycache__/m.cpython-311.pyc"), Buffer.from([0, 1, 2]));
}

describe.skipIf(!ready)("semantic diff of a debian-12 overlay (needs root, /dev/fuse and the debian-12 image)", () => {
  let scratch: string;
  let overlay: string;

  const diff = () =>
    withReadOnlyRoot(IMAGE, (base) => withReadOnlyRoot(overlay, (sandbox) => diffRoots(base, sandbox)));

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "fluid-review-test-"));
    overlay = join(scratch, "overlay.qcow2");
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-b", IMAGE, "-F", "qcow2", overlay]);
    await withRoot(overlay, changeSystem, { writable: true });
  });

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it("lists every change, none of the noise, with a hash stable across runs", async () => {
    const started = performance.now();
    const first = await diff();
    const seconds = (performance.now() - started) / 1000;
    const second = await diff();
    const key = (c: Change) => `${c.kind} ${c.action} ${c.path ?? c.name}`;
    expect(first.changes.map(key)).toEqual([
      "cron added /etc/cron.d/backup",
      "file added /etc/app.conf",
      "file added /etc/cron.d/backup",
      "file changed /etc/group",
      "file changed /etc/issue",
      "file removed /etc/motd",
      "file changed /etc/passwd",
      "file added /etc/sysctl.d/60-forward.conf",
      "file added /etc/systemd/system/sockets.target.wants",
      "file added /etc/systemd/system/sockets.target.wants/ssh.socket",
      // Only its noise (__pycache__) is inside: the directory itself is still a change.
      "file added /usr/local/lib/app",
      "group added deploy",
      "package removed openssh-sftp-server",
      "sysctl added net.ipv4.ip_forward",
      "unit added ssh.socket",
      "user added deploy",
    ]);
    expect(first.changes.find((c) => c.path === "/etc/issue")?.diff).toContain("+Managed by fluid review test");
    expect(second.hash).toBe(first.hash);
    console.log(`semantic diff of a debian-12 overlay: ${seconds.toFixed(2)} s, ${first.changes.length} changes`);
    expect(seconds).toBeLessThan(30);
  });
});
