import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { AppError } from "../http/errors.js";

const VERSION = "v1";
const PLAIN = "plain";

/**
 * Seals secrets at rest with AES-256-GCM. The context (record type and id) is authenticated as
 * associated data, so a sealed value copied into another row or column fails to open. Without a
 * key the box refuses to seal, unless the server runs with --insecure-dev, where values are stored
 * visibly marked as plaintext.
 */
export class SecretBox {
  private readonly key: Buffer | undefined;
  private readonly allowPlaintext: boolean;

  constructor(key: Buffer | undefined, options: { allowPlaintext: boolean }) {
    if (key && key.length !== 32) throw new Error("encryption key must be 32 bytes");
    this.key = key;
    this.allowPlaintext = options.allowPlaintext;
  }

  get canSeal(): boolean {
    return this.key !== undefined || this.allowPlaintext;
  }

  seal(plaintext: string, context: string): string {
    if (!this.key) {
      if (!this.allowPlaintext) {
        throw new AppError(
          "invalid_state",
          "the server has no FLUID_ENCRYPTION_KEY, so it refuses to store credentials; set one (or run with --insecure-dev)",
        );
      }
      return `${PLAIN}:${Buffer.from(plaintext, "utf8").toString("base64")}`;
    }
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [VERSION, iv.toString("base64"), cipher.getAuthTag().toString("base64"), ciphertext.toString("base64")].join(
      ":",
    );
  }

  open(sealed: string, context: string): string {
    const [version, ...parts] = sealed.split(":");
    if (version === PLAIN) return Buffer.from(parts[0] ?? "", "base64").toString("utf8");
    if (version !== VERSION || parts.length !== 3 || !this.key) {
      throw new Error("sealed value cannot be opened with this server's key");
    }
    const [iv, tag, ciphertext] = parts.map((p) => Buffer.from(p, "base64"));
    const decipher = createDecipheriv("aes-256-gcm", this.key, iv as Buffer);
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(tag as Buffer);
    return Buffer.concat([decipher.update(ciphertext as Buffer), decipher.final()]).toString("utf8");
  }
}
