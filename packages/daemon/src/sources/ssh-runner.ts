import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { HostErrorCode } from "@fluid/proto";
import { remoteCommand } from "./shell-quote.js";

/**
 * How a command on a source host failed:
 * - `unreachable`: no SSH connection (refused, timed out, name not resolved, connection dropped);
 * - `auth_failed`: the host refused the key (or certificate);
 * - `host_key_changed`: the host presented a different key than the one pinned for it;
 * - `command_failed`: connected, but the remote command exited non-zero;
 * - `timeout`: the command ran past its time limit (or a copy stalled) and was killed;
 * - `output_too_large`: the command printed more than its cap and was killed;
 * - `invalid_target`: the connection settings themselves are unusable (nothing was run).
 */
export type SshErrorKind =
  | "unreachable"
  | "auth_failed"
  | "host_key_changed"
  | "command_failed"
  | "timeout"
  | "output_too_large"
  | "invalid_target";

export class SshError extends Error {
  readonly kind: SshErrorKind;
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(kind: SshErrorKind, message: string, details: { exitCode?: number | null; stderr?: string } = {}) {
    super(message);
    this.name = "SshError";
    this.kind = kind;
    this.exitCode = details.exitCode ?? null;
    this.stderr = details.stderr ?? "";
  }

  /** The shared code the control plane sees: only a target fluid refuses to use is the request's fault. */
  get code(): HostErrorCode {
    return this.kind === "invalid_target" ? "invalid_request" : "host_error";
  }
}

/**
 * A hop the connection goes through first (OpenSSH ProxyJump). It uses its own key when it has one
 * (a source VM is reached with a fluid certificate, through its libvirt host's key), else the target's.
 */
export interface SshJumpHost {
  host: string;
  port?: number | undefined;
  user: string;
  privateKey?: string | undefined;
  /** See SshTarget.hostKeys. */
  hostKeys?: string[] | undefined;
}

export interface SshTarget {
  host: string;
  port?: number | undefined;
  user: string;
  /** OpenSSH private key text. Only ever on disk (0600, private temp dir) while a session is open. */
  privateKey: string;
  /** Optional OpenSSH certificate for the key (`…-cert-v01@openssh.com …`). */
  certificate?: string | undefined;
  proxyJump?: SshJumpHost | undefined;
  /**
   * Public keys (`<type> <base64>`, see parseHostKeys) the host must present: when given, only these
   * are accepted and the pin file is neither read nor written for this host (no trust on first use).
   */
  hostKeys?: string[] | undefined;
}

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

export interface RunOptions {
  timeoutMs?: number;
  /** Cap on stdout (and separately stderr); exceeding it kills the command (`output_too_large`). */
  maxOutputBytes?: number;
  /** When false, a non-zero exit is returned instead of thrown. Connection failures always throw. */
  check?: boolean;
  /**
   * Send `argv[0]` as the command line itself, unquoted: for a login whose forced command parses the
   * line (fluid's restricted shell reads SSH_ORIGINAL_COMMAND), never for a login with a real shell.
   */
  rawLine?: boolean;
}

export interface RemoteResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface StreamOptions {
  /** Kill the copy when no data arrived for this long. */
  idleTimeoutMs?: number;
  /** Called with the running byte count as data arrives. */
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
}

/** What the source-host code needs from a connection; SshSession implements it (tests fake it). */
export interface RemoteRunner {
  run(argv: readonly string[], options?: RunOptions): Promise<RemoteResult>;
  /** Runs a command and writes its stdout to a local file (created 0600); resolves to the byte count. */
  streamToFile(argv: readonly string[], file: string, options?: StreamOptions): Promise<number>;
}

const HOST_ALIAS = "fluid-source";
const JUMP_ALIAS = "fluid-jump";
const hostnamePattern =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const ipv6Pattern = /^[0-9A-Fa-f:.]+$/;
const userPattern = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const certificatePattern = /^[a-z0-9-]+-cert-v01@openssh\.com [A-Za-z0-9+/=]+( [^\r\n]*)?$/;

function invalid(message: string): SshError {
  return new SshError("invalid_target", message);
}

function checkHost(host: string, what: string): string {
  if (hostnamePattern.test(host) || (host.includes(":") && ipv6Pattern.test(host))) return host;
  throw invalid(`${what} must be a host name or an IP address, got ${JSON.stringify(host)}`);
}

function checkUser(user: string, what: string): string {
  if (userPattern.test(user)) return user;
  throw invalid(`${what} must be a plain user name, got ${JSON.stringify(user)}`);
}

function checkPort(port: number | undefined, what: string): number {
  const value = port ?? 22;
  if (Number.isInteger(value) && value >= 1 && value <= 65535) return value;
  throw invalid(`${what} must be a TCP port (1-65535), got ${String(port)}`);
}

/** Checks every field that ends up in the generated ssh_config; throws `invalid_target`. */
export function validateTarget(target: SshTarget): void {
  checkHost(target.host, "host");
  checkUser(target.user, "user");
  checkPort(target.port, "port");
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(target.privateKey)) {
    throw invalid("privateKey must be a PEM/OpenSSH private key");
  }
  if (target.certificate !== undefined && !certificatePattern.test(target.certificate.trim())) {
    throw invalid("certificate must be one OpenSSH certificate line");
  }
  if (target.proxyJump) {
    checkHost(target.proxyJump.host, "proxyJump.host");
    checkUser(target.proxyJump.user, "proxyJump.user");
    checkPort(target.proxyJump.port, "proxyJump.port");
  }
  for (const key of [...(target.hostKeys ?? []), ...(target.proxyJump?.hostKeys ?? [])]) {
    if (parseHostKeys(key).length !== 1) throw invalid("each host key must be one key");
  }
}

/**
 * A path as an ssh_config argument: quoted, with `%` doubled because IdentityFile, CertificateFile,
 * ControlPath and UserKnownHostsFile expand %-tokens.
 */
function configPath(path: string): string {
  if (!isAbsolute(path) || /["\r\n\0]/.test(path)) throw invalid(`unusable path for ssh: ${JSON.stringify(path)}`);
  return `"${path.replaceAll("%", "%%")}"`;
}

export interface SessionFiles {
  key: string;
  certificate: string;
  controlPath: string;
  /** The jump host's own key, when it has one. */
  jumpKey?: string | undefined;
  /** known_hosts for hosts whose keys were given (SshTarget.hostKeys), under their aliases. */
  givenHostKeys?: string | undefined;
}

const hostKeyTypes =
  /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;

/**
 * Host public keys from text in the forms people paste: `ssh-ed25519 AAAA… [comment]`, a known_hosts
 * or ssh-keyscan line (`[host]:port ssh-ed25519 AAAA…`), one per line; blank and # lines skipped.
 * Returns `<type> <base64>` for each; throws `invalid_target` naming the first line it cannot read.
 */
export function parseHostKeys(text: string): string[] {
  const keys: string[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    const at = fields.findIndex((field) => hostKeyTypes.test(field));
    const blob = at >= 0 ? fields[at + 1] : undefined;
    if (at < 0 || at > 1 || !blob || !/^[A-Za-z0-9+/]+={0,3}$/.test(blob)) {
      throw invalid(`host key line ${index + 1} is not "<type> <base64 key>" or a known_hosts line`);
    }
    keys.push(`${fields[at]} ${blob}`);
  }
  if (keys.length === 0) throw invalid("no host key given");
  return keys;
}

/** The ssh_config lines that make one Host block accept exactly its given keys. */
function givenKeyLines(alias: string, keys: string[] | undefined, files: SessionFiles): string[] {
  if (!keys?.length || !files.givenHostKeys) return [];
  return [
    `  HostKeyAlias ${alias}`,
    "  StrictHostKeyChecking yes",
    `  UserKnownHostsFile ${configPath(files.givenHostKeys)}`,
  ];
}

/** The ssh_config of one session: everything explicit, nothing read from the system or the user. */
export function sshConfig(
  target: SshTarget,
  files: SessionFiles,
  options: Required<Pick<SshRunnerOptions, "knownHostsFile" | "connectTimeoutSeconds" | "masterIdleSeconds">>,
): string {
  validateTarget(target);
  const lines: string[] = [];
  if (target.proxyJump) {
    lines.push(
      `Host ${JUMP_ALIAS}`,
      `  HostName ${target.proxyJump.host}`,
      `  Port ${checkPort(target.proxyJump.port, "proxyJump.port")}`,
      `  User ${target.proxyJump.user}`,
      ...(target.proxyJump.privateKey && files.jumpKey ? [`  IdentityFile ${configPath(files.jumpKey)}`] : []),
      ...givenKeyLines(JUMP_ALIAS, target.proxyJump.hostKeys, files),
    );
  }
  lines.push(
    `Host ${HOST_ALIAS}`,
    `  HostName ${target.host}`,
    `  Port ${checkPort(target.port, "port")}`,
    `  User ${target.user}`,
    ...(target.proxyJump ? [`  ProxyJump ${JUMP_ALIAS}`] : []),
    ...givenKeyLines(HOST_ALIAS, target.hostKeys, files),
    "Host *",
    `  IdentityFile ${configPath(files.key)}`,
    ...(target.certificate ? [`  CertificateFile ${configPath(files.certificate)}`] : []),
    "  IdentitiesOnly yes",
    "  IdentityAgent none",
    "  BatchMode yes",
    "  PasswordAuthentication no",
    "  KbdInteractiveAuthentication no",
    `  ConnectTimeout ${options.connectTimeoutSeconds}`,
    "  ServerAliveInterval 15",
    "  ServerAliveCountMax 4",
    "  StrictHostKeyChecking accept-new",
    `  UserKnownHostsFile ${configPath(options.knownHostsFile)}`,
    "  GlobalKnownHostsFile /dev/null",
    "  UpdateHostKeys no",
    "  HashKnownHosts no",
    "  CheckHostIP no",
    `  ControlPath ${configPath(files.controlPath)}`,
    `  ControlPersist ${options.masterIdleSeconds}`,
    "  ForwardAgent no",
    "  ForwardX11 no",
    "  ClearAllForwardings yes",
    "  RequestTTY no",
    "  LogLevel ERROR",
  );
  return `${lines.join("\n")}\n`;
}

/** The failure kind an `ssh` exit status 255 with this stderr stands for, if it is a connection failure. */
export function classifySshFailure(stderr: string): SshErrorKind | undefined {
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|host key .* has changed/i.test(stderr)) {
    return "host_key_changed";
  }
  if (/Permission denied \(|Too many authentication failures|Authentication failed|no mutual signature/i.test(stderr)) {
    return "auth_failed";
  }
  if (
    /Connection refused|Connection timed out|timed out during banner|Operation timed out|No route to host|Network is unreachable|Could not resolve hostname|Name or service not known|Temporary failure in name resolution|Connection closed by|Connection reset by|kex_exchange_identification|ssh_exchange_identification|Broken pipe|Control socket connect/i.test(
      stderr,
    )
  ) {
    return "unreachable";
  }
  return undefined;
}

function lastLines(text: string, count = 3): string {
  return text.trim().split("\n").filter(Boolean).slice(-count).join(" | ");
}

function failure(code: number | null, stderr: string, argv: readonly string[], where: string): SshError {
  const kind = code === 255 ? classifySshFailure(stderr) : undefined;
  const detail = lastLines(stderr) || `exit ${code}`;
  if (kind) return new SshError(kind, `ssh to ${where}: ${detail}`, { exitCode: code, stderr });
  return new SshError("command_failed", `${argv[0] ?? "command"} on ${where} failed (exit ${code}): ${detail}`, {
    exitCode: code,
    stderr,
  });
}

/** Collects a stream up to `cap` bytes; calls `onOverflow` once when more arrives. */
function collector(cap: number, onOverflow: () => void) {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let overflowed = false;
  return {
    push(chunk: Buffer) {
      if (bytes + chunk.length > cap) {
        chunks.push(chunk.subarray(0, Math.max(0, cap - bytes)));
        bytes = cap;
        if (!overflowed) {
          overflowed = true;
          onOverflow();
        }
        return;
      }
      chunks.push(chunk);
      bytes += chunk.length;
    },
    text: () => Buffer.concat(chunks).toString("utf8"),
    get overflowed() {
      return overflowed;
    },
  };
}

/**
 * An open connection to a source host: one authenticated OpenSSH master (ControlMaster) that every
 * command of the session reuses, so a listing of many VMs costs one handshake.
 */
export class SshSession implements RemoteRunner {
  constructor(
    private readonly ssh: string,
    private readonly config: string,
    private readonly where: string,
  ) {}

  private args(argv: readonly string[], rawLine = false): string[] {
    const command = rawLine && argv.length === 1 ? (argv[0] as string) : remoteCommand(argv);
    return ["-F", this.config, "-o", "ControlMaster=no", HOST_ALIAS, command];
  }

  run(argv: readonly string[], options: RunOptions = {}): Promise<RemoteResult> {
    const line = this.args(argv, options.rawLine);
    const cap = options.maxOutputBytes ?? 4 * 1024 * 1024;
    const timeoutMs = options.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const child = spawn(this.ssh, line, { stdio: ["ignore", "pipe", "pipe"] });
      let killedFor: "timeout" | "output_too_large" | undefined;
      const kill = (why: "timeout" | "output_too_large") => {
        killedFor ??= why;
        child.kill("SIGKILL");
      };
      const out = collector(cap, () => kill("output_too_large"));
      const err = collector(64 * 1024, () => undefined);
      child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
      child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
      const timer = setTimeout(() => kill("timeout"), timeoutMs);
      // Once killed, do not wait for a grandchild that may still hold the pipes open.
      child.on("exit", () => {
        if (!killedFor) return;
        child.stdout.destroy();
        child.stderr.destroy();
      });
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(new SshError("unreachable", `cannot run ${this.ssh}: ${error.message}`));
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        const stderr = err.text();
        if (killedFor === "timeout") {
          reject(new SshError("timeout", `${argv[0]} on ${this.where} took longer than ${timeoutMs} ms`, { stderr }));
        } else if (killedFor === "output_too_large") {
          reject(
            new SshError("output_too_large", `${argv[0]} on ${this.where} printed more than ${cap} bytes`, { stderr }),
          );
        } else if (code === 0 || (options.check === false && !(code === 255 && classifySshFailure(stderr)))) {
          resolve({ code, stdout: out.text(), stderr });
        } else {
          reject(failure(code, stderr, argv, this.where));
        }
      });
    });
  }

  async streamToFile(argv: readonly string[], file: string, options: StreamOptions = {}): Promise<number> {
    const idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
    const child = spawn(this.ssh, this.args(argv), { stdio: ["ignore", "pipe", "pipe"] });
    const err = collector(64 * 1024, () => undefined);
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code) => resolve(code));
    });
    let bytes = 0;
    let stalled = false;
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        stalled = true;
        child.kill("SIGKILL");
      }, idleTimeoutMs);
    };
    const abort = () => child.kill("SIGKILL");
    options.signal?.addEventListener("abort", abort, { once: true });
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        arm();
        options.onBytes?.(bytes);
        callback(null, chunk);
      },
    });
    arm();
    try {
      if (options.signal?.aborted) abort();
      const copied = pipeline(child.stdout, counter, createWriteStream(file, { mode: 0o600 }));
      const [code] = await Promise.all([
        exited,
        copied.catch((error: unknown) => {
          child.kill("SIGKILL");
          throw error;
        }),
      ]);
      const stderr = err.text();
      if (options.signal?.aborted) throw options.signal.reason ?? new Error("aborted");
      if (stalled) {
        throw new SshError("timeout", `${argv[0]} on ${this.where} sent nothing for ${idleTimeoutMs} ms`, { stderr });
      }
      if (code !== 0) throw failure(code, stderr, argv, this.where);
      return bytes;
    } finally {
      clearTimeout(idle);
      options.signal?.removeEventListener("abort", abort);
    }
  }
}

/**
 * Runs commands on one source host through OpenSSH's `ssh`, always with an argument vector (never
 * a local shell); the remote command line is built by `remoteCommand` (each element single-quoted).
 * The private key is written to a 0600 file in a private temp directory only while a session is
 * open, and removed with the directory when it closes.
 */
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
