import { isAbsolute } from "node:path";
import { SshError } from "./ssh-error.js";

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

/** The target's and the jump host's names in a session's ssh_config. */
export const HOST_ALIAS = "fluid-source";
export const JUMP_ALIAS = "fluid-jump";
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
export function configPath(path: string): string {
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
  options: { knownHostsFile: string; connectTimeoutSeconds: number; masterIdleSeconds: number },
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
