import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { checkCommand, checkReadablePath, readonlyShellScript } from "../policy/index.js";
import { SourceError } from "../remote/source-error.js";
import type { SshCertificateAuthority } from "../remote/ssh-certificates.js";
import type { SshTarget } from "../remote/ssh-config.js";
import { SshError, type SshErrorKind } from "../remote/ssh-error.js";
import { SshRunner } from "../remote/ssh-runner.js";
import { PooledConnection } from "./pooled-connection.js";
import { prepareScript, READONLY_USER } from "./readonly-prepare.js";
import { redactBase64, redactSecrets } from "./redact.js";
import type { SourceHost, SourceHostConfig } from "./source-host.js";

const run = promisify(execFile);

/** Largest file read_source_file returns (base64 output is capped to match). */
export const MAX_SOURCE_FILE_BYTES = 1024 * 1024;
const CERT_TTL_SECONDS = 300;
/** How long a VM's looked-up address is used without asking its host again. */
const ADDRESS_TTL_MS = 60_000;
/** A read-only connection left this long without a command is closed. */
const CONNECTION_IDLE_MS = 30_000;
/** SSH failures after which a kept connection is not trusted for the next command. */
const connectionLost = new Set<SshErrorKind>(["unreachable", "auth_failed", "host_key_changed"]);

const addressKey = (host: SourceHost, vm: string) => `${host.id}\0${vm}`;

/**
 * The certificate's key id: purpose, VM and who asked, e.g. `fluid-readonly:web-1:user:<id>/key:<id>`.
 * An actor with characters a log line should not carry is left out rather than passed on.
 */
export function keyIdFor(vm: string, actor: string | undefined, purpose = READONLY_USER): string {
  const who = actor && /^[A-Za-z0-9@._:/-]{1,200}$/.test(actor) ? actor : "unknown";
  return `${purpose}:${vm}:${who}`;
}

export interface CommandOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface PrepareSteps {
  ipAddress: string;
  shellInstalled: boolean;
  userCreated: boolean;
  caKeyInstalled: boolean;
  principalsCreated: boolean;
  sshdConfigured: boolean;
  sshdRestarted: boolean;
  /** Root accepts fluid-apply certificates now (only when preparing with apply). */
  applyAccessInstalled: boolean;
}

/** A refusal by the read-only policy (layer 1, here); the VM's restricted shell is layer 2. */
export class PolicyRefusal extends Error {
  override name = "PolicyRefusal";
}

/**
 * Read-only access to a source VM: logs in as `fluid-readonly` with a short-lived certificate from
 * this daemon's SSH CA, through the VM's libvirt host (ProxyJump with the host's key). Every command
 * is checked here against the policy before it leaves, and again by the VM's restricted shell; what
 * comes back is redacted (redact.ts).
 */
export class VmAccess {
  private readonly addresses = new Map<string, { ip: string; until: number }>();

  private readonly connections = new Map<string, PooledConnection>();

  constructor(
    private readonly deps: {
      ca: SshCertificateAuthority;
      knownHostsFile: string;
      connectTimeoutSeconds?: number;
      /** The OpenSSH client (tests point this at a fake). */
      sshBinary?: string;
      /** A read-only connection left unused this long is closed. */
      idleMs?: number;
    },
  ) {}

  /** Closes the read-only connections kept open between commands. */
  async close(): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(all.map((c) => c.retire()));
  }

  /** `actor` names who asks (the control plane's "user:<id>…"); it goes into the certificate's key id. */
  async run(
    host: SourceHost,
    vm: string,
    command: string,
    timeoutSeconds: number,
    actor?: string,
  ): Promise<CommandOutput> {
    const decision = checkCommand(command);
    if (!decision.allowed) throw new PolicyRefusal(decision.reason);
    const result = await this.asReadonly(host, vm, command, actor, {
      timeoutMs: timeoutSeconds * 1000,
      maxOutputBytes: 4 * 1024 * 1024,
    });
    return { ...result, stdout: redactSecrets(result.stdout), stderr: redactSecrets(result.stderr) };
  }

  /**
   * The file's bytes, base64-encoded (how the stream carries them), read through the restricted
   * shell; secrets in a text file are redacted like command output.
   */
  async readFile(host: SourceHost, vm: string, path: string, actor?: string): Promise<string> {
    const decision = checkReadablePath(path);
    if (!decision.readable) throw new PolicyRefusal(decision.reason);
    const command = `base64 -w 0 -- '${decision.path.replaceAll("'", "'\\''")}'`;
    const result = await this.asReadonly(host, vm, command, actor, {
      timeoutMs: 60_000,
      maxOutputBytes: Math.ceil((MAX_SOURCE_FILE_BYTES * 4) / 3) + 16,
    }).catch((err: unknown) => {
      if (err instanceof SshError && err.kind === "output_too_large") {
        throw new SourceError("invalid_request", `${path} is larger than ${MAX_SOURCE_FILE_BYTES} bytes`);
      }
      throw err;
    });
    if (result.exitCode !== 0) {
      throw new SourceError("not_found", `cannot read ${path} on ${vm}: ${result.stderr.trim().slice(0, 300)}`);
    }
    return redactBase64(result.stdout.trim());
  }

  /**
   * Sets the VM up for read-only access, idempotently: the restricted shell, the read-only user, this
   * daemon's CA key, the principals file and an sshd drop-in that forces the shell and forbids
   * forwarding; sshd is checked (`sshd -t`) before it is reloaded. Logs in as `login.user` (root, or
   * a user with passwordless sudo). With `enableApply` it also installs the apply access
   * (apply-principal.ts); without, it removes that access if an earlier preparation installed it.
   */
  async prepare(
    host: SourceHost,
    vm: string,
    login: { user: string; privateKey: string },
    enableApply = false,
  ): Promise<PrepareSteps> {
    const ip = await this.address(host, vm);
    const script = prepareScript(this.deps.ca.publicKeyLine("fluid-ca"), readonlyShellScript(), enableApply);
    // One line on the wire: the script travels base64-encoded (a plain word) and is decoded there.
    const unpack = `printf '%s' ${Buffer.from(script).toString("base64")} | base64 -d | sh`;
    const argv = login.user === "root" ? ["sh", "-c", unpack] : ["sudo", "-n", "sh", "-c", unpack];
    const runner = this.runner(host.config, ip, { user: login.user, privateKey: login.privateKey });
    const result = await runner.run(argv, { timeoutMs: 120_000, maxOutputBytes: 256 * 1024, check: false });
    const done = new Set(
      result.stdout
        .split("\n")
        .filter((l) => l.startsWith("step "))
        .map((l) => l.slice(5)),
    );
    if (result.code !== 0) {
      throw new SourceError(
        "host_error",
        `preparing ${vm} failed after ${[...done].join(", ") || "no step"}: ${result.stderr.trim().slice(-500)}`,
      );
    }
    return {
      ipAddress: ip,
      shellInstalled: done.has("shell"),
      userCreated: done.has("user"),
      caKeyInstalled: done.has("ca"),
      principalsCreated: done.has("principals"),
      sshdConfigured: done.has("sshd_config"),
      sshdRestarted: done.has("sshd_reload"),
      applyAccessInstalled: done.has("apply_access"),
    };
  }

  private async asReadonly(
    host: SourceHost,
    vm: string,
    command: string,
    actor: string | undefined,
    options: { timeoutMs: number; maxOutputBytes: number },
  ): Promise<CommandOutput> {
    const ip = await this.address(host, vm);
    const connection = await this.connection(host, vm, ip, keyIdFor(vm, actor));
    try {
      const opened = await connection.opened;
      // sshd's ForceCommand runs the restricted shell, which parses the line from SSH_ORIGINAL_COMMAND
      // itself (layer 2), so the line goes as it is.
      const result = await opened.session.run([command], { ...options, check: false, rawLine: true });
      return { exitCode: result.code ?? -1, stdout: result.stdout, stderr: result.stderr };
    } catch (err) {
      if (err instanceof SshError && connectionLost.has(err.kind)) {
        // The VM may have moved or restarted: look it up and connect afresh next time.
        this.addresses.delete(addressKey(host, vm));
        this.forget(connection);
      }
      throw err;
    } finally {
      connection.release();
    }
  }

  /**
   * A read-only connection to the VM, shared by the commands that come while it is open: an agent
   * asks many questions in a row, and each new connection costs two SSH handshakes (the libvirt host,
   * then the VM) and a certificate. It is used for at most CONNECTION_MAX_AGE_MS, inside its
   * certificate's lifetime, and closed once idle.
   */
  private async connection(host: SourceHost, vm: string, ip: string, keyId: string): Promise<PooledConnection> {
    // Per asker too: the VM's sshd logs the key id of the certificate a connection logged in with.
    const key = createHash("sha256")
      .update(JSON.stringify([host.id, vm, ip, keyId, host.config.ssh]))
      .digest("hex");
    const existing = this.connections.get(key);
    if (existing && !existing.expired()) {
      existing.acquire();
      return existing;
    }
    if (existing) this.forget(existing);
    const connection = new PooledConnection(key, this.deps.idleMs ?? CONNECTION_IDLE_MS, async () => {
      const login = await this.certificateLogin(vm, keyId);
      try {
        return await this.runner(host.config, ip, login).open();
      } finally {
        // The session keeps its own copy of the key; this one is not needed again.
        await rm(login.dir, { recursive: true, force: true });
      }
    });
    connection.onIdle = () => this.forget(connection);
    this.connections.set(key, connection);
    connection.opened.catch(() => this.forget(connection));
    return connection;
  }

  private forget(connection: PooledConnection): void {
    if (this.connections.get(connection.key) === connection) this.connections.delete(connection.key);
    void connection.retire();
  }

  /** A fresh Ed25519 key and a certificate for it valid five minutes, principal fluid-readonly. */
  private async certificateLogin(vm: string, keyId: string) {
    const dir = await mkdtemp(join(tmpdir(), "fluid-ro-"));
    const keyFile = join(dir, "key");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `fluid-readonly@${vm}`, "-f", keyFile]);
    const publicKey = (await readFile(`${keyFile}.pub`, "utf8")).trim();
    const issued = this.deps.ca.issue({
      publicKey,
      keyId,
      principals: [READONLY_USER],
      ttlSeconds: CERT_TTL_SECONDS,
    });
    return { dir, user: READONLY_USER, privateKey: await readFile(keyFile, "utf8"), certificate: issued.certificate };
  }

  /**
   * A connection to the VM through its libvirt host as `login` (apply-access.ts logs in as root with
   * a one-time certificate); nothing connects until it is used.
   */
  async vmRunner(
    host: SourceHost,
    vm: string,
    login: { user: string; privateKey: string; certificate?: string },
  ): Promise<SshRunner> {
    return this.runner(host.config, await this.address(host, vm), login);
  }

  private runner(
    source: SourceHostConfig,
    ip: string,
    login: { user: string; privateKey: string; certificate?: string },
  ): SshRunner {
    const target: SshTarget = {
      host: ip,
      user: login.user,
      privateKey: login.privateKey,
      certificate: login.certificate,
      proxyJump: {
        host: source.ssh.host,
        port: source.ssh.port,
        user: source.ssh.user,
        privateKey: source.ssh.privateKey,
        hostKeys: source.ssh.hostKeys,
      },
    };
    return new SshRunner(target, {
      knownHostsFile: this.deps.knownHostsFile,
      connectTimeoutSeconds: this.deps.connectTimeoutSeconds ?? 15,
      ...(this.deps.sshBinary ? { sshBinary: this.deps.sshBinary } : {}),
    });
  }

  /**
   * The VM's address, looked up on its host (that one domain) and remembered for ADDRESS_TTL_MS:
   * an agent inspecting a VM asks many questions in a row. A failed connection forgets it.
   */
  private async address(host: SourceHost, vm: string): Promise<string> {
    const key = addressKey(host, vm);
    const known = this.addresses.get(key);
    if (known && known.until > Date.now()) return known.ip;
    this.addresses.delete(key);
    const found = await host.vm(vm).catch((err: unknown) => {
      if (err instanceof SourceError && err.kind === "not_found") {
        throw new SourceError("not_found", `no VM named ${vm} on source host ${host.id}`);
      }
      throw err;
    });
    const [ip] = found.ipAddresses;
    if (!found.running || !ip) {
      throw new SourceError("invalid_state", `${vm} is ${found.state} and has no address fluid can reach`);
    }
    this.addresses.set(key, { ip, until: Date.now() + ADDRESS_TTL_MS });
    return ip;
  }
}
