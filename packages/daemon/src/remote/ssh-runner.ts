import { spawn } from "node:child_process";
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  configPath,
  HOST_ALIAS,
  JUMP_ALIAS,
  type SessionFiles,
  type SshTarget,
  sshConfig,
  validateTarget,
} from "./ssh-config.js";
import { classifySshFailure, lastLines, SshError } from "./ssh-error.js";
import { type RemoteResult, type RunOptions, SshSession } from "./ssh-session.js";

export interface SshRunnerOptions {
  /**
   * Where host keys are pinned (one OpenSSH known_hosts file, typically
   * `<state dir>/sources/known_hosts`). Policy: a host's key is accepted and written here the first
   * time fluid connects (OpenSSH `StrictHostKeyChecking=accept-new`); afterwards only that key is
   * accepted, and a different one fails with `host_key_changed` until an operator removes the old
   * entry (`ssh-keygen -R '[host]:port' -f <file>`). The system and user known_hosts files and
   * ~/.ssh/config are never consulted.
   */
  knownHostsFile: string;
  connectTimeoutSeconds?: number;
  /** The OpenSSH client; tests point this at a fake. */
  sshBinary?: string;
  /** Parent of the per-session temp directory (key, certificate, ssh config, control socket). */
  tempDir?: string;
  /** The connection master exits by itself after this long without clients (covers a daemon crash). */
  masterIdleSeconds?: number;
}

/** A connection opened by SshRunner.open(). */
export interface OpenSession {
  session: SshSession;
  /**
   * The session's ssh_config, in which host `hostAlias` is the target reached over this open
   * connection: for a program that runs ssh itself (ansible-playbook) while the session is open.
   */
  configFile: string;
  hostAlias: string;
  /** Stops the connection and removes its key files; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Runs commands on one source host through OpenSSH's `ssh`, always with an argument vector (never
 * a local shell); the remote command line is built by `remoteCommand` (each element single-quoted).
 * The private key is written to a 0600 file in a private temp directory only while a session is
 * open, and removed with the directory when it closes.
 */
export class SshRunner {
  private readonly options: Required<Omit<SshRunnerOptions, "tempDir">> & { tempDir: string };

  constructor(
    readonly target: SshTarget,
    options: SshRunnerOptions,
  ) {
    validateTarget(target);
    configPath(options.knownHostsFile);
    this.options = {
      connectTimeoutSeconds: 10,
      sshBinary: "ssh",
      tempDir: tmpdir(),
      masterIdleSeconds: 60,
      ...options,
    };
  }

  /** `user@host:port` (and the jump host), for messages; never includes key material. */
  get where(): string {
    const { user, host, port, proxyJump } = this.target;
    const jump = proxyJump ? ` via ${proxyJump.user}@${proxyJump.host}:${proxyJump.port ?? 22}` : "";
    return `${user}@${host}:${port ?? 22}${jump}`;
  }

  /**
   * Opens a connection, runs `fn` with it and closes it again (master stopped, key file removed),
   * whether `fn` succeeds or not.
   */
  async session<T>(fn: (session: SshSession) => Promise<T>): Promise<T> {
    const opened = await this.open();
    try {
      return await fn(opened.session);
    } finally {
      await opened.close();
    }
  }

  /**
   * Opens a connection that stays up until `close()` (or until its master has been idle for
   * `masterIdleSeconds`, which covers a daemon that died without closing it). Commands run over it
   * share the one authenticated connection.
   */
  async open(): Promise<OpenSession> {
    const dir = await mkdtemp(join(this.options.tempDir, "fluid-ssh-"));
    const files: SessionFiles = {
      key: join(dir, "key"),
      certificate: join(dir, "key-cert.pub"),
      controlPath: join(dir, "cm"),
      jumpKey: join(dir, "jump-key"),
      givenHostKeys: join(dir, "given_known_hosts"),
    };
    const config = join(dir, "ssh_config");
    try {
      await mkdir(dirname(this.options.knownHostsFile), { recursive: true, mode: 0o700 });
      const key = this.target.privateKey.endsWith("\n") ? this.target.privateKey : `${this.target.privateKey}\n`;
      await writeFile(files.key, key, { mode: 0o600 });
      if (this.target.certificate) await writeFile(files.certificate, `${this.target.certificate.trim()}\n`);
      const jumpKey = this.target.proxyJump?.privateKey;
      if (jumpKey && files.jumpKey) {
        await writeFile(files.jumpKey, jumpKey.endsWith("\n") ? jumpKey : `${jumpKey}\n`, { mode: 0o600 });
      }
      const given = [
        ...(this.target.hostKeys ?? []).map((key) => `${HOST_ALIAS} ${key}`),
        ...(this.target.proxyJump?.hostKeys ?? []).map((key) => `${JUMP_ALIAS} ${key}`),
      ];
      if (given.length > 0 && files.givenHostKeys) await writeFile(files.givenHostKeys, `${given.join("\n")}\n`);
      await writeFile(config, sshConfig(this.target, files, this.options), { mode: 0o600 });
      await this.startMaster(config, join(dir, "master.log"));
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    let closing: Promise<void> | undefined;
    return {
      session: new SshSession(this.options.sshBinary, config, this.where),
      configFile: config,
      hostAlias: HOST_ALIAS,
      close: () => {
        closing ??= this.stopMaster(config).finally(() => rm(dir, { recursive: true, force: true }));
        return closing;
      },
    };
  }

  /** One command in a session of its own. */
  run(argv: readonly string[], options?: RunOptions): Promise<RemoteResult> {
    return this.session((session) => session.run(argv, options));
  }

  /**
   * `ssh -M -N` authenticates, then forks the master into the background (ControlPersist) and
   * exits: its exit status is the connection result. The master's stderr goes to a file so that no
   * pipe of ours is held open by the background process.
   */
  private async startMaster(config: string, logFile: string): Promise<void> {
    const log = await open(logFile, "w", 0o600);
    let code: number | null;
    const timeoutMs = (this.options.connectTimeoutSeconds * (this.target.proxyJump ? 2 : 1) + 10) * 1000;
    let timedOut = false;
    try {
      code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(this.options.sshBinary, ["-F", config, "-M", "-N", HOST_ALIAS], {
          stdio: ["ignore", "ignore", log.fd],
        });
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, timeoutMs);
        child.on("error", (error) => {
          clearTimeout(timer);
          reject(new SshError("unreachable", `cannot run ${this.options.sshBinary}: ${error.message}`));
        });
        child.on("exit", (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });
    } finally {
      await log.close();
    }
    const stderr = await readFile(logFile, "utf8").catch(() => "");
    if (timedOut) throw new SshError("unreachable", `ssh to ${this.where}: no connection within ${timeoutMs} ms`);
    if (code === 0) return;
    const kind = classifySshFailure(stderr) ?? "unreachable";
    throw new SshError(kind, `ssh to ${this.where}: ${lastLines(stderr) || `exit ${code}`}`, {
      exitCode: code,
      stderr,
    });
  }

  private async stopMaster(config: string): Promise<void> {
    await new Promise<void>((resolve) => {
      const child = spawn(this.options.sshBinary, ["-F", config, "-O", "exit", HOST_ALIAS], { stdio: "ignore" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.on("error", () => resolve());
      child.on("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
