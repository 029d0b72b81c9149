import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/**
 * Two root filesystems in a temp dir, a base and a sandbox cloned from it, holding the same small
 * Debian-like system: accounts, dpkg's database with nginx (its config file and its enabled service
 * in its file list), for tests of what the review makes of a change to the sandbox.
 */
export interface SandboxRoots {
  base: string;
  sandbox: string;
  /** Writes a file into the sandbox (or `root`), creating its parents. */
  put(path: string, content: string | Buffer, options?: { mode?: number; uid?: number; gid?: number }): Promise<void>;
  link(path: string, target: string): Promise<void>;
  /** Makes a symlink in both roots. */
  linkBoth(path: string, target: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** Writes a file into both roots: the part of the system a test does not change. */
  both(path: string, content: string): Promise<void>;
  cleanup(): Promise<void>;
}

const STATUS = [
  ["dpkg", "1.21.22", "amd64"],
  ["curl", "7.88.1-10", "amd64"],
  ["nginx", "1.22.1-9", "amd64"],
  ["nginx-common", "1.22.1-9", "all"],
  ["vim", "2:9.0.1378-2", "amd64"],
];

/** Directories a Debian system has, so that tests adding files in them add nothing else. */
const DIRECTORIES = [
  "/etc/cron.d",
  "/etc/ssl/private",
  "/etc/sysctl.d",
  "/home",
  "/opt",
  "/root",
  "/srv",
  "/usr/lib/systemd/system",
  "/usr/local/bin",
  "/var/spool/cron/crontabs",
];

export function dpkgStatus(packages: string[][]): string {
  return packages
    .map(
      ([name, version, arch]) =>
        `Package: ${name}\nStatus: install ok installed\nArchitecture: ${arch}\nVersion: ${version}\n`,
    )
    .join("\n");
}

export async function sandboxRoots(): Promise<SandboxRoots> {
  const scratch = await mkdtemp(join(tmpdir(), "fluid-playbook-test-"));
  const base = join(scratch, "base");
  const sandbox = join(scratch, "sandbox");
  const write = async (root: string, path: string, content: string | Buffer) => {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  };
  const roots: SandboxRoots = {
    base,
    sandbox,
    async put(path, content, options = {}) {
      await write(sandbox, path, content);
      if (options.mode !== undefined) await chmod(join(sandbox, path), options.mode);
      if (options.uid !== undefined) await chown(join(sandbox, path), options.uid, options.gid ?? options.uid);
    },
    async link(path, target) {
      await mkdir(dirname(join(sandbox, path)), { recursive: true });
      await symlink(target, join(sandbox, path));
    },
    async linkBoth(path, target) {
      for (const root of [base, sandbox]) {
        await mkdir(dirname(join(root, path)), { recursive: true });
        await symlink(target, join(root, path));
      }
    },
    async remove(path) {
      await rm(join(sandbox, path), { recursive: true });
    },
    async both(path, content) {
      await write(base, path, content);
      await write(sandbox, path, content);
    },
    cleanup: () => rm(scratch, { recursive: true, force: true }),
  };
  await roots.both(
    "/etc/passwd",
    "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n",
  );
  await roots.both("/etc/group", "root:x:0:\nsudo:x:27:\nwww-data:x:33:\ncrontab:x:101:\n");
  await roots.both("/etc/shadow", "root:*:19000:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\n");
  await roots.both("/var/lib/dpkg/status", dpkgStatus(STATUS));
  await roots.both(
    "/var/lib/dpkg/info/nginx-common.list",
    "/.\n/etc\n/etc/nginx\n/etc/nginx/nginx.conf\n/lib/systemd/system/nginx.service\n",
  );
  await roots.both("/etc/nginx/nginx.conf", "worker_processes auto;\n");
  for (const root of [base, sandbox]) {
    for (const dir of DIRECTORIES) await mkdir(join(root, dir), { recursive: true });
  }
  await roots.linkBoth(
    "/etc/systemd/system/multi-user.target.wants/nginx.service",
    "/lib/systemd/system/nginx.service",
  );
  return roots;
}
