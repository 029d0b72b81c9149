import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";

/** OpenSSH wire encoding (RFC 4251): uint32 lengths, big-endian integers. */
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const sshString = (value: Buffer | string) => {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  return Buffer.concat([u32(bytes.length), bytes]);
};

const ED25519 = "ssh-ed25519";
const CERT_TYPE = "ssh-ed25519-cert-v01@openssh.com";
const USER_CERT = 1;

/** The raw 32-byte Ed25519 public key of a KeyObject. */
function rawEd25519(key: KeyObject): Buffer {
  const jwk = (key.type === "private" ? createPublicKey(key) : key).export({ format: "jwk" }) as {
    crv?: string;
    x?: string;
  };
  if (jwk.crv !== "Ed25519" || !jwk.x) throw new Error("expected an Ed25519 key");
  return Buffer.from(jwk.x, "base64url");
}

/** `ssh-ed25519 AAAA… comment` for a public key. */
export function authorizedKeyLine(key: KeyObject, comment = ""): string {
  const blob = Buffer.concat([sshString(ED25519), sshString(rawEd25519(key))]);
  return `${ED25519} ${blob.toString("base64")}${comment ? ` ${comment}` : ""}`;
}

/** Parses an OpenSSH public key line; only Ed25519 keys are accepted for certificates. */
export function parsePublicKeyLine(line: string): Buffer {
  const [type, data] = line.trim().split(/\s+/);
  if (type !== ED25519 || !data) throw new Error("the public key must be an ssh-ed25519 key in OpenSSH format");
  const blob = Buffer.from(data, "base64");
  let offset = 0;
  const read = () => {
    if (offset + 4 > blob.length) throw new Error("truncated public key");
    const length = blob.readUInt32BE(offset);
    const value = blob.subarray(offset + 4, offset + 4 + length);
    if (value.length !== length) throw new Error("truncated public key");
    offset += 4 + length;
    return value;
  };
  if (read().toString() !== ED25519) throw new Error("public key type does not match its contents");
  const raw = read();
  if (raw.length !== 32 || offset !== blob.length) throw new Error("malformed ssh-ed25519 public key");
  return raw;
}

export interface UserCertificateRequest {
  /** The user's public key line (ssh-ed25519 …). */
  publicKey: string;
  /** Names who the certificate is for (user, sandbox, purpose); shows up in sshd's log. */
  keyId: string;
  principals: string[];
  ttlSeconds: number;
  /** Clock skew allowance: the certificate is valid from this many seconds ago. */
  backdateSeconds?: number;
}

export interface IssuedCertificate {
  /** The certificate line to save as `<key>-cert.pub`. */
  certificate: string;
  serial: bigint;
  validAfter: Date;
  validBefore: Date;
}

/**
 * An SSH certificate authority on an Ed25519 key, signing short-lived user certificates with only
 * the `permit-pty` extension: no agent, port or X11 forwarding, no user rc.
 */
export class SshCertificateAuthority {
  readonly privateKey: KeyObject;

  constructor(privateKey: KeyObject) {
    rawEd25519(privateKey);
    this.privateKey = privateKey;
  }

  static generate(): SshCertificateAuthority {
    return new SshCertificateAuthority(generateKeyPairSync("ed25519").privateKey);
  }

  static fromPem(pem: string): SshCertificateAuthority {
    return new SshCertificateAuthority(createPrivateKey(pem));
  }

  toPem(): string {
    return this.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  }

  /** The line sshd's TrustedUserCAKeys file holds. */
  publicKeyLine(comment = "fluid-ca"): string {
    return authorizedKeyLine(this.privateKey, comment);
  }

  issue(request: UserCertificateRequest): IssuedCertificate {
    if (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds < 60 || request.ttlSeconds > 3600) {
      throw new Error("certificate lifetime must be between 60 and 3600 seconds");
    }
    if (request.principals.length === 0 || request.principals.some((p) => !/^[A-Za-z0-9._-]{1,64}$/.test(p))) {
      throw new Error("principals must be 1-64 letters, digits, '.', '_' or '-'");
    }
    if (!/^[\x20-\x7e]{1,200}$/.test(request.keyId))
      throw new Error("key id must be printable ASCII, at most 200 characters");
    const userKey = parsePublicKeyLine(request.publicKey);
    const now = Math.floor(Date.now() / 1000);
    const validAfter = now - (request.backdateSeconds ?? 60);
    const validBefore = now + request.ttlSeconds;
    const serial = randomBytes(8).readBigUInt64BE();
    const extensions = Buffer.concat([sshString("permit-pty"), sshString("")]);
    const caBlob = Buffer.concat([sshString(ED25519), sshString(rawEd25519(this.privateKey))]);
    const body = Buffer.concat([
      sshString(CERT_TYPE),
      sshString(randomBytes(32)),
      sshString(userKey),
      u64(serial),
      u32(USER_CERT),
      sshString(request.keyId),
      sshString(Buffer.concat(request.principals.map((p) => sshString(p)))),
      u64(BigInt(validAfter)),
      u64(BigInt(validBefore)),
      sshString(Buffer.alloc(0)),
      sshString(extensions),
      sshString(Buffer.alloc(0)),
      sshString(caBlob),
    ]);
    const signature = Buffer.concat([sshString(ED25519), sshString(sign(null, body, this.privateKey))]);
    const certificate = Buffer.concat([body, sshString(signature)]);
    return {
      certificate: `${CERT_TYPE} ${certificate.toString("base64")} ${request.keyId}\n`,
      serial,
      validAfter: new Date(validAfter * 1000),
      validBefore: new Date(validBefore * 1000),
    };
  }
}
