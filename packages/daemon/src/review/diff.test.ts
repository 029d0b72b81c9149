import { createHash } from "node:crypto";
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { diffRoots } from "./diff.js";
import type { Change } from "./diff-types.js";

const isRoot = process.getuid?.() === 0;

let scratch: string;
let base: string;
let sandbox: string;

async function put(root: string, path: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

/** The same small system in both roots, for each test to change one thing of. */
async function both(path: string, content: string): Promise<void> {
  await put(base, path, content);
  await put(sandbox, path, content);
}

const find = (changes: Change[], kind: string, key: string) =>
  changes.filter((c) => c.kind === kind && (c.path ?? c.name) === key);

beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), "fluid-diff-test-"));
  base = join(scratch, "base");
  sandbox = join(scratch, "sandbox");
  await both("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  await both("/etc/group", "root:x:0:\nwww-data:x:33:\n");
  await both("/etc/shadow", "root:$y$j9T$old:19000:0:99999:7:::\n");
  await both(
    "/var/lib/dpkg/status",
    "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10\n\n" +
      "Package: vim\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2:9.0.1378-2\n\n" +
      "Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n",
  );
  await both("/etc/app.conf", "listen 80\nworkers 2\n");
  await both("/root/.profile", "");
});

afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("semantic diff of two roots", () => {
  it("reports nothing for identical roots", async () => {
    expect((await diffRoots(base, sandbox)).changes).toEqual([]);
  });

  it("gives an edited text file a unified diff", async () => {
    await put(sandbox, "/etc/app.conf", "listen 8080\nworkers 2\n");
    const [change] = find((await diffRoots(base, sandbox)).changes, "file", "/etc/app.conf");
    expect(change).toMatchObject({
      action: "changed",
      diff: "@@ -1,2 +1,2 @@\n-listen 80\n+listen 8080\n workers 2\n",
    });
  });

  it("gives a binary file its size and sha256 but no text", async () => {
    await put(sandbox, "/usr/local/bin/tool", Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    const [change] = find((await diffRoots(base, sandbox)).changes, "file", "/usr/local/bin/tool");
    expect(change).toMatchObject({ action: "added", size: 7, binary: true });
    expect(change?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(change?.diff).toBeUndefined();
  });

  it.skipIf(!isRoot)("reports mode and owner changes with the previous values", async () => {
    await chmod(join(sandbox, "etc/app.conf"), 0o600);
    await chown(join(sandbox, "etc/app.conf"), 33, 33);
    const [change] = find((await diffRoots(base, sandbox)).changes, "file", "/etc/app.conf");
    expect(change).toMatchObject({ action: "changed", mode: "0600", uid: 33, gid: 33 });
    expect(change?.from).toMatchObject({ mode: "0644", uid: 0, gid: 0 });
  });

  it("gives a removed file the sha256 it had, so production can be checked against the capture", async () => {
    await both("/etc/old.conf", "gone\n");
    await rm(join(sandbox, "etc/old.conf"));
    const [change] = find((await diffRoots(base, sandbox)).changes, "file", "/etc/old.conf");
    expect(change).toEqual({
      kind: "file",
      action: "removed",
      path: "/etc/old.conf",
      type: "file",
      sha256: createHash("sha256").update("gone\n").digest("hex"),
    });
  });

  it("reports a removed directory once, not each file in it", async () => {
    await both("/opt/old/a", "a");
    await both("/opt/old/b", "b");
    await rm(join(sandbox, "opt/old"), { recursive: true });
    const files = (await diffRoots(base, sandbox)).changes.filter((c) => c.kind === "file");
    expect(files).toEqual([{ kind: "file", action: "removed", path: "/opt/old", type: "dir" }]);
  });

  it("leaves out noise unless the request turns the rule off", async () => {
    await put(sandbox, "/root/.bash_history", "ls\n");
    await put(sandbox, "/etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    expect((await diffRoots(base, sandbox)).changes).toEqual([]);
    const kept = await diffRoots(base, sandbox, { noise: { disable: ["shell-history"] } });
    expect(kept.changes.map((c) => c.path)).toEqual(["/root/.bash_history"]);
  });

  it("never shows the contents of a redacted file", async () => {
    await put(sandbox, "/etc/shadow", "root:$y$j9T$new:19000:0:99999:7:::\n");
    const diff = await diffRoots(base, sandbox);
    const [change] = find(diff.changes, "file", "/etc/shadow");
    expect(change).toMatchObject({ action: "changed", redacted: true });
    expect(JSON.stringify(diff)).not.toContain("$y$j9T");
  });

  it("reports a changed password without its hash", async () => {
    await put(sandbox, "/etc/shadow", "root:$y$j9T$new:19000:0:99999:7:::\n");
    const [change] = find((await diffRoots(base, sandbox)).changes, "user", "root");
    expect(change).toEqual({
      kind: "user",
      action: "changed",
      name: "root",
      uid: 0,
      gid: 0,
      gecos: "root",
      home: "/root",
      shell: "/bin/bash",
      password_changed: true,
    });
  });

  it("reports added users and changed group members", async () => {
    await put(sandbox, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndeploy:x:1001:1001::/home/deploy:/bin/sh\n");
    await put(sandbox, "/etc/group", "root:x:0:\nwww-data:x:33:deploy\n");
    const { changes } = await diffRoots(base, sandbox);
    expect(find(changes, "user", "deploy")[0]).toMatchObject({ action: "added", uid: 1001, password_set: false });
    expect(find(changes, "group", "www-data")[0]).toMatchObject({
      action: "changed",
      members: ["deploy"],
      from: { members: [] },
    });
  });

  it("reports installed, removed and upgraded packages from dpkg's status", async () => {
    await put(
      sandbox,
      "/var/lib/dpkg/status",
      "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-11\n\n" +
        "Package: nginx\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.22.1-9\n",
    );
    const packages = (await diffRoots(base, sandbox)).changes.filter((c) => c.kind === "package");
    expect(packages).toEqual([
      {
        kind: "package",
        action: "changed",
        name: "curl",
        arch: "amd64",
        version: "7.88.1-11",
        from: { version: "7.88.1-10" },
        direction: "upgraded",
      },
      { kind: "package", action: "added", name: "nginx", arch: "amd64", version: "1.22.1-9" },
      { kind: "package", action: "removed", name: "vim", arch: "amd64", version: "2:9.0.1378-2" },
    ]);
  });

  it("says a package went back to an older version, by Debian's ordering", async () => {
    await put(
      sandbox,
      "/var/lib/dpkg/status",
      "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10~bpo1\n\n" +
        "Package: vim\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2:9.0.1378-2\n",
    );
    const [change] = find((await diffRoots(base, sandbox)).changes, "package", "curl");
    expect(change).toMatchObject({ action: "changed", version: "7.88.1-10~bpo1", direction: "downgraded" });
  });

  it("reads unit enablement from .wants links and masks from links to /dev/null", async () => {
    await mkdir(join(sandbox, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
    await symlink(
      "/lib/systemd/system/nginx.service",
      join(sandbox, "etc/systemd/system/multi-user.target.wants/nginx.service"),
    );
    await symlink("/dev/null", join(sandbox, "etc/systemd/system/apt-daily.timer"));
    const units = (await diffRoots(base, sandbox)).changes.filter((c) => c.kind === "unit");
    expect(units).toEqual([
      { kind: "unit", action: "added", name: "apt-daily.timer", wanted_by: [], masked: true },
      { kind: "unit", action: "added", name: "nginx.service", wanted_by: ["multi-user.target"], masked: false },
    ]);
  });

  it("reports cron entries and sysctl settings as parsed values", async () => {
    await put(sandbox, "/etc/cron.d/backup", "# nightly\n0 3 * * * root /usr/local/bin/backup\n");
    await put(sandbox, "/etc/sysctl.d/60-net.conf", "# routing\nnet.ipv4.ip_forward = 1\n-net/core/somaxconn=1024\n");
    const { changes } = await diffRoots(base, sandbox);
    expect(find(changes, "cron", "/etc/cron.d/backup")[0]).toMatchObject({
      action: "added",
      lines: ["0 3 * * * root /usr/local/bin/backup"],
    });
    expect(changes.filter((c) => c.kind === "sysctl").map((c) => [c.name, c.value])).toEqual([
      ["net.core.somaxconn", "1024"],
      ["net.ipv4.ip_forward", "1"],
    ]);
  });

  it("resolves a guest's absolute symlinks inside the guest, never on the host", async () => {
    await put(sandbox, "/etc/os-release", "NAME=guest\n");
    await mkdir(join(sandbox, "etc/cron.d"), { recursive: true });
    await symlink("/etc/os-release", join(sandbox, "etc/cron.d/linked"));
    const [change] = find((await diffRoots(base, sandbox)).changes, "cron", "/etc/cron.d/linked");
    expect(change).toMatchObject({ action: "added", lines: ["NAME=guest"] });
  });

  it("hashes the canonical form: the same changes give the same hash", async () => {
    await put(sandbox, "/etc/app.conf", "listen 8080\nworkers 2\n");
    await put(sandbox, "/srv/site/index.html", "<h1>hi</h1>\n");
    const first = await diffRoots(base, sandbox);
    const second = await diffRoots(base, sandbox);
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(second.hash).toBe(first.hash);
    await put(sandbox, "/srv/site/index.html", "<h1>hello</h1>\n");
    expect((await diffRoots(base, sandbox)).hash).not.toBe(first.hash);
  });
});
