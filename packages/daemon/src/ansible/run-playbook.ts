import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SandboxError } from "../errors.js";
import { run, runChecked } from "../system/run.js";
import { inventoryFor, knownHostsFor, playbookArgv, playbookEnv, type RunFiles, runFiles } from "./invocation.js";
import { runInProcessGroup } from "./process-group.js";
import { type PlaybookRecap, parseRecap } from "./recap.js";

/** The end of ansible-playbook's output a run reports. */
export const MAX_PLAYBOOK_LOG_BYTES = 64 * 1024;
export const MAX_PLAYBOOK_BYTES = 1024 * 1024;
export const DEFAULT_PLAYBOOK_TIMEOUT_SECONDS = 900;
export const MAX_PLAYBOOK_TIMEOUT_SECONDS = 3600;
/** How long a sandbox that has just booted may take to create its host keys and start sshd. */
const SSHD_START_MS = 180_000;

/** What a playbook run needs from the sandbox manager. */
export interface PlaybookTarget {
  sshAccess(
    id: string,
    input: { publicKey: string; ttlSeconds: number; requestedBy: string },
  ): Promise<{ user: string; host: string; certificate: string }>;
  readFile(id: string, path: string, maxBytes: number): Promise<{ data: Buffer }>;
}

export interface PlaybookRunOptions {
  playbookYaml: string;
  check: boolean;
  timeoutSeconds: number;
}

export interface PlaybookRunResult {
  exitCode: number;
  /** Absent when ansible-playbook stopped before its recap (syntax error, timeout). */
  recap: PlaybookRecap | undefined;
  log: string;
  logTruncated: boolean;
  durationMs: number;
  timedOut: boolean;
}

/**
 * Runs ansible-playbook from this host against a sandbox over SSH: a fresh key pair gets a
 * certificate from the host's CA lasting the run, the sandbox's host key is pinned, and every file
 * of the run lives in a private directory removed afterwards whatever happens.
 */
export async function runPlaybook(
  target: PlaybookTarget,
  sandboxId: string,
  options: PlaybookRunOptions,
): Promise<PlaybookRunResult> {
  checkOptions(options);
  const files = runFiles(await mkdtemp(join(tmpdir(), "fluid-ansible-")));
  try {
    await runChecked(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fluid-ansible", "-f", files.privateKey]);
    const publicKey = (await readFile(`${files.privateKey}.pub`, "utf8")).trim();
    const access = await target.sshAccess(sandboxId, {
      publicKey,
      // Long enough for every connection of the run; ssh re-authenticates when a control master dies.
      ttlSeconds: Math.min(MAX_PLAYBOOK_TIMEOUT_SECONDS, options.timeoutSeconds + 60),
      requestedBy: "ansible",
    });
    const hostKey = await sandboxHostKey(target, sandboxId);
    await writeFile(files.certificate, access.certificate, { mode: 0o600 });
    await writeFile(files.knownHosts, knownHostsFor(access.host, hostKey), { mode: 0o600 });
    await writeFile(files.inventory, inventoryFor(access.host), { mode: 0o600 });
    await writeFile(files.playbook, options.playbookYaml, { mode: 0o600 });
    await writeFile(files.config, "", { mode: 0o600 });
    await mkdir(files.localTemp, { recursive: true, mode: 0o700 });
    await mkdir(files.controlDir, { mode: 0o700 });
    const result = await runInProcessGroup(playbookArgv(files, { check: options.check }), {
      env: playbookEnv(files, process.env.PATH),
      cwd: files.dir,
      timeoutMs: options.timeoutSeconds * 1000,
      maxLogBytes: MAX_PLAYBOOK_LOG_BYTES,
    }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
      throw new SandboxError(
        "host_unavailable",
        "ansible-playbook is not installed on this sandbox host (ansible-core)",
      );
    });
    return { ...result, recap: result.timedOut ? undefined : parseRecap(result.log, access.host) };
  } finally {
    await closeControlMasters(files);
    await rm(files.dir, { recursive: true, force: true });
  }
}

function checkOptions(options: PlaybookRunOptions): void {
  if (!options.playbookYaml.trim()) throw new SandboxError("invalid_request", "the playbook is empty");
  if (Buffer.byteLength(options.playbookYaml) > MAX_PLAYBOOK_BYTES)
    throw new SandboxError("invalid_request", `playbooks are limited to ${MAX_PLAYBOOK_BYTES} bytes`);
  const timeout = options.timeoutSeconds;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_PLAYBOOK_TIMEOUT_SECONDS)
    throw new SandboxError("invalid_request", `timeout must be 1-${MAX_PLAYBOOK_TIMEOUT_SECONDS} seconds`);
}

/**
 * The sandbox's ed25519 host key, once its sshd is up: on first boot the guest creates its host keys
 * before starting sshd (which records its pid then), and that can take a minute under TCG.
 */
async function sandboxHostKey(target: PlaybookTarget, sandboxId: string): Promise<string> {
  const deadline = Date.now() + SSHD_START_MS;
  const read = (path: string, max: number) =>
    target.readFile(sandboxId, path, max).then(
      (file) => file.data.toString("utf8"),
      () => undefined,
    );
  while (!(await read("/run/sshd.pid", 32))) {
    if (Date.now() > deadline)
      throw new SandboxError("host_unavailable", "the sandbox's SSH server did not start in time");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  const key = await read("/etc/ssh/ssh_host_ed25519_key.pub", 4096);
  if (!key) throw new SandboxError("invalid_state", "the sandbox has no ed25519 SSH host key");
  return key;
}

/**
 * ControlPersist leaves an ssh master behind each run, detached from its process group: ask each
 * to exit rather than leave it holding a session into the sandbox for another minute.
 */
async function closeControlMasters(files: RunFiles): Promise<void> {
  for (const socket of await readdir(files.controlDir).catch(() => [] as string[])) {
    await run(["ssh", "-o", `ControlPath=${join(files.controlDir, socket)}`, "-O", "exit", "fluid-sandbox"], {
      timeoutMs: 10_000,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    }).catch(() => undefined);
  }
}
