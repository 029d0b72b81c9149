import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { SshCertificateAuthority } from "../ssh/certificates.js";
import { SourceError } from "./errors.js";
import { checkCommand, checkReadablePath, READONLY_SHELL_PATH, readonlyShellScript } from "./policy/index.js";
import { redactBase64, redactSecrets } from "./redact.js";
import type { SourceHost, SourceHostConfig } from "./source-host.js";
import { SshError, SshRunner, type SshTarget } from "./ssh-runner.js";

const run = promisify(execFile);

/** The user fluid's read-only sessions log in as, and the certificate principal sshd maps to it. */
export const READONLY_USER = "fluid-readonly";
/** Largest file read_source_file returns (base64 output is capped to match). */
export const MAX_SOURCE_FILE_BYTES = 1024 * 1024;
const CERT_TTL_SECONDS = 300;

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
  constructor(
    private readonly deps: { ca: SshCertificateAuthority; knownHostsFile: string; connectTimeoutSeconds?: number },
  ) {}

  async run(host: SourceHost, vm: string, command: string, timeoutSeconds: number): Promise<CommandOutput> {
    const decision = checkCommand(command);
    if (!decision.allowed) throw new PolicyRefusal(decision.reason);
    const result = await this.asReadonly(host, vm, command, {
      timeoutMs: timeoutSeconds * 1000,
      maxOutputBytes: 4 * 1024 * 1024,
    });
    return { ...result, stdout: redactSecrets(result.stdout), stderr: redactSecrets(result.stderr) };
  }

  /**
   * The file's bytes, base64-encoded (how the stream carries them), read through the restricted
   * shell; secrets in a text file are redacted like command output.
   */
  async readFile(host: SourceHost, vm: string, path: string): Promise<string> {
    const decision = checkReadablePath(path);
    if (!decision.readable) throw new PolicyRefusal(decision.reason);
    const command = `base64 -w 0 -- '${decision.path.replaceAll("'", "'\\''")}'`;
    const result = await this.asReadonly(host, vm, command, {
      timeoutMs: 60_000,
      maxOutputBytes: Math.ceil((MAX_SOURCE_FILE_BYTES * 4) / 3) + 16,
    }).catch((err: unknown) => {
      if (err instanceof SshError && err.kind === "output_too_large") {
        throw new SourceError("invalid_argument", `${path} is larger than ${MAX_SOURCE_FILE_BYTES} bytes`);
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
   * a user with passwordless sudo).
   */
  async prepare(host: SourceHost, vm: string, login: { user: string; privateKey: string }): Promise<PrepareSteps> {
    const ip = await this.address(host, vm);
    const script = prepareScript(this.deps.ca.publicKeyLine("fluid-ca"), readonlyShellScript());
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
    };
  }

  private async asReadonly(
    host: SourceHost,
    vm: string,
    command: string,
    options: { timeoutMs: number; maxOutputBytes: number },
  ): Promise<CommandOutput> {
    const ip = await this.address(host, vm);
    const login = await this.certificateLogin(vm);
    try {
      const runner = this.runner(host.config, ip, login);
      // sshd's ForceCommand runs the restricted shell, which parses the line from SSH_ORIGINAL_COMMAND
      // itself (layer 2), so the line goes as it is.
      const result = await runner.run([command], { ...options, check: false, rawLine: true });
      return { exitCode: result.code ?? -1, stdout: result.stdout, stderr: result.stderr };
    } finally {
      await rm(login.dir, { recursive: true, force: true });
    }
  }

  /** A fresh Ed25519 key and a certificate for it valid five minutes, principal fluid-readonly. */
  private async certificateLogin(vm: string) {
    const dir = await mkdtemp(join(tmpdir(), "fluid-ro-"));
    const keyFile = join(dir, "key");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `fluid-readonly@${vm}`, "-f", keyFile]);
    const publicKey = (await readFile(`${keyFile}.pub`, "utf8")).trim();
    const issued = this.deps.ca.issue({
      publicKey,
      keyId: `fluid-readonly:${vm}`,
      principals: [READONLY_USER],
      ttlSeconds: CERT_TTL_SECONDS,
    });
    return { dir, user: READONLY_USER, privateKey: await readFile(keyFile, "utf8"), certificate: issued.certificate };
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
    });
  }

  private async address(host: SourceHost, vm: string): Promise<string> {
    const { vms } = await host.listVMs();
    const found = vms.find((v) => v.name === vm);
    if (!found) throw new SourceError("not_found", `no VM named ${vm} on source host ${host.id}`);
    const [ip] = found.ipAddresses;
    if (!found.running || !ip) {
      throw new SourceError("invalid_state", `${vm} is ${found.state} and has no address fluid can reach`);
    }
    return ip;
  }
}

/**
 * The preparation as one POSIX sh script (sent as `sh -c`, no file on the VM but what it installs).
 * Each step prints `step NAME` when done, so a failure reports how far it got.
 */
export function prepareScript(caLine: string, shell: string): string {
  if (!/^ssh-ed25519 [A-Za-z0-9+/=]+ [\w.@-]+$/.test(caLine)) throw new Error("unexpected CA key line");
  const delimiter = `FLUID_SHELL_${Date.now().toString(36)}_EOF`;
  if (shell.includes(delimiter)) throw new Error("shell script contains its heredoc delimiter");
  return `set -eu
umask 022
cat > ${READONLY_SHELL_PATH}.new <<'${delimiter}'
${shell}
${delimiter}
chmod 0755 ${READONLY_SHELL_PATH}.new
mv -f ${READONLY_SHELL_PATH}.new ${READONLY_SHELL_PATH}
echo step shell
if ! id ${READONLY_USER} >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir / --shell ${READONLY_SHELL_PATH} ${READONLY_USER}
fi
usermod --home / --shell ${READONLY_SHELL_PATH} ${READONLY_USER}
echo step user
printf '%s\\n' '${caLine}' > /etc/ssh/fluid_ca.pub
chmod 0644 /etc/ssh/fluid_ca.pub
echo step ca
mkdir -p /etc/ssh/fluid_principals
printf '%s\\n' '${READONLY_USER}' > /etc/ssh/fluid_principals/${READONLY_USER}
chmod 0644 /etc/ssh/fluid_principals/${READONLY_USER}
echo step principals
mkdir -p /etc/ssh/sshd_config.d
cat > /etc/ssh/sshd_config.d/fluid-readonly.conf <<'FLUID_SSHD_EOF'
# Managed by fluid: read-only access for ${READONLY_USER}, by certificate only.
TrustedUserCAKeys /etc/ssh/fluid_ca.pub
Match User ${READONLY_USER}
  AuthorizedPrincipalsFile /etc/ssh/fluid_principals/%u
  AuthorizedKeysFile none
  AuthenticationMethods publickey
  ForceCommand ${READONLY_SHELL_PATH}
  PermitTTY no
  AllowTcpForwarding no
  AllowStreamLocalForwarding no
  AllowAgentForwarding no
  X11Forwarding no
  PermitTunnel no
FLUID_SSHD_EOF
if ! grep -Eq '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\\.d/\\*\\.conf' /etc/ssh/sshd_config; then
  sed -i '1i Include /etc/ssh/sshd_config.d/fluid-readonly.conf' /etc/ssh/sshd_config
fi
echo step sshd_config
sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
"$sshd_bin" -t
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet ssh 2>/dev/null; then systemctl reload ssh
elif command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet sshd 2>/dev/null; then systemctl reload sshd
else
  pid=$(cat /run/sshd.pid 2>/dev/null || cat /var/run/sshd.pid 2>/dev/null || cat /fluid/sshd.pid 2>/dev/null || true)
  # sshd re-executes itself on SIGHUP and is briefly not listening; give it that moment.
  [ -n "$pid" ] && kill -HUP "$pid" && sleep 1
fi
echo step sshd_reload
`;
}
