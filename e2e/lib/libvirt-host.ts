import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, openSync, readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort } from "./processes.js";

/**
 * A libvirt source host on this machine for tests, touching nothing of the system's own libvirt and
 * needing only libvirt-daemon (not libvirt-daemon-system, which would pull in systemd): libvirtd runs
 * directly (no systemd) in a private mount namespace that libvirt-namespace.sh sets up, with its own
 * /run, its own /etc/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt (from temp
 * dirs) and the libvirt-qemu account it insists on. An sshd with its own config, host key and
 * authorized key listens on a loopback port inside the same namespace, so `virsh` over SSH talks to
 * this libvirtd. Needs root.
 */

const programs: Record<string, string> = {
  libvirtd: "/usr/sbin/libvirtd",
  virsh: "/usr/bin/virsh",
  sshd: "/usr/sbin/sshd",
  unshare: "/usr/bin/unshare",
  nsenter: "/usr/bin/nsenter",
  debugfs: "/usr/sbin/debugfs",
  "qemu-system-x86_64": "/usr/bin/qemu-system-x86_64",
  "ssh-keygen": "/usr/bin/ssh-keygen",
  "dpkg-deb": "/usr/bin/dpkg-deb",
};

/** What this machine lacks for a test libvirt host (empty when it can run). */
export function missingForLibvirtHost(): string[] {
  const missing = Object.entries(programs)
    .filter(([, path]) => !existsSync(path))
    .map(([name]) => name);
  if (process.getuid?.() !== 0) missing.unshift("root");
  return missing;
}

/** libvirtd's qemu.conf: run QEMU as root without confinement, cgroups, namespaces or virtlogd. */
const qemuConf = `user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = []
cgroup_controllers = []
stdio_handler = "file"
`;

export interface LibvirtHost {
  dir: string;
  libvirtdPid: number;
  sshPort: number;
  /** Private key (OpenSSH) that root@127.0.0.1:sshPort accepts. */
  userKey: string;
  /** sshd's public host key (`ssh-ed25519 AAAA… sshd`). */
  hostKey: string;
  /** Runs virsh against this libvirtd (in its namespace) and returns stdout. */
  virsh(...args: string[]): string;
  /** Destroys and undefines every domain, stops sshd and libvirtd. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms`);
    await sleep(100);
  }
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface LibvirtHostOptions {
  /**
   * A command (argv) the namespace is started from, which must end by exec'ing its arguments so
   * libvirtd keeps its pid: tests change what the machine looks like with it.
   */
  within?: string[];
}

export async function startLibvirtHost(dir: string, options: LibvirtHostOptions = {}): Promise<LibvirtHost> {
  const lv = join(dir, "libvirt");
  for (const sub of ["etc", "lib", "cache", "log"]) await mkdir(join(lv, sub), { recursive: true });
  await writeFile(join(lv, "etc", "qemu.conf"), qemuConf);
  await writeFile(join(lv, "etc", "libvirtd.conf"), 'unix_sock_rw_perms = "0700"\nlog_outputs = "3:stderr"\n');

  const logPath = join(dir, "libvirtd.log");
  const libvirtdLog = openSync(logPath, "a");
  const [program = "", ...args] = [
    ...(options.within ?? []),
    "/usr/bin/unshare",
    "--mount",
    "--propagation",
    "private",
    "--",
    "/bin/sh",
    join(import.meta.dirname, "libvirt-namespace.sh"),
    lv,
  ];
  const libvirtd = spawn(program, args, { stdio: ["ignore", libvirtdLog, libvirtdLog] });
  const pid = libvirtd.pid;
  if (!pid) throw new Error("could not start libvirtd");
  const inNamespace = (argv: string[]) =>
    execFileSync("/usr/bin/nsenter", [`--mount=/proc/${pid}/ns/mnt`, "--", ...argv], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    });
  const virsh = (...args: string[]) => inNamespace(["/usr/bin/virsh", ...args]);
  let sshd: ChildProcess | undefined;

  const host: LibvirtHost = {
    dir,
    libvirtdPid: pid,
    sshPort: 0,
    userKey: "",
    hostKey: "",
    virsh,
    async stop() {
      if (libvirtd.exitCode === null) {
        let names: string[] = [];
        try {
          names = virsh("list", "--all", "--name").split("\n").filter(Boolean);
        } catch {
          // libvirtd already unusable
        }
        for (const name of names) {
          const pidfile = `/proc/${pid}/root/run/libvirt/qemu/${name}.pid`;
          const qemuPid = Number((await readFile(pidfile, "utf8").catch(() => "")).trim());
          try {
            virsh("destroy", name);
          } catch {
            // not running
          }
          try {
            virsh("undefine", name);
          } catch {
            // transient
          }
          if (qemuPid > 1 && existsSync(`/proc/${qemuPid}`)) {
            const cmdline = await readFile(`/proc/${qemuPid}/cmdline`, "utf8").catch(() => "");
            if (cmdline.includes(`guest=${name}`)) process.kill(qemuPid, "SIGKILL");
          }
        }
      }
      if (sshd) await stopChild(sshd);
      await stopChild(libvirtd);
    },
  };

  try {
    await waitFor(
      () => {
        // The log goes with `dir` when the caller cleans up, so the reason travels in the error.
        if (libvirtd.exitCode !== null)
          throw new Error(`libvirtd exited (${libvirtd.exitCode}):\n${readFileSync(logPath, "utf8").slice(-2000)}`);
        try {
          virsh("list", "--all");
          return true;
        } catch {
          return false;
        }
      },
      30_000,
      "libvirtd",
    );

    const sshDir = join(dir, "sshd");
    await mkdir(sshDir, { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "sshd", "-f", join(sshDir, "host_key")]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "fluid", "-f", join(sshDir, "user_key")]);
    await writeFile(join(sshDir, "authorized_keys"), await readFile(join(sshDir, "user_key.pub")), { mode: 0o600 });
    host.sshPort = await freePort();
    host.userKey = await readFile(join(sshDir, "user_key"), "utf8");
    host.hostKey = (await readFile(join(sshDir, "host_key.pub"), "utf8")).trim();
    await writeFile(
      join(sshDir, "sshd_config"),
      [
        `ListenAddress 127.0.0.1:${host.sshPort}`,
        `HostKey ${join(sshDir, "host_key")}`,
        `AuthorizedKeysFile ${join(sshDir, "authorized_keys")}`,
        "PidFile none",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "LogLevel INFO",
        "",
      ].join("\n"),
    );
    const sshdLog = openSync(join(dir, "sshd.log"), "a");
    sshd = spawn(
      "/usr/bin/nsenter",
      [`--mount=/proc/${pid}/ns/mnt`, "--", "/usr/sbin/sshd", "-D", "-e", "-f", join(sshDir, "sshd_config")],
      { stdio: ["ignore", sshdLog, sshdLog] },
    );
    await waitFor(() => portOpen(host.sshPort), 15_000, "sshd");
    return host;
  } catch (err) {
    await host.stop();
    throw err;
  }
}
