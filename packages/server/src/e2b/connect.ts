import type { FastifyReply } from "fastify";
import { invalid } from "../http/errors.js";
import { connectError } from "./errors.js";

/**
 * The Connect protocol's JSON flavour as the E2B SDK speaks it (its transport never uses binary):
 * unary calls are a plain JSON body both ways; server-streaming calls send one enveloped message and
 * read enveloped messages back, ending with an end-of-stream envelope that carries any error.
 * An envelope is a flags byte, a big-endian 32-bit length, then the JSON.
 */
const END_STREAM = 0x02;
const COMPRESSED = 0x01;

export function envelope(flags: number, message: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(message), "utf8");
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

/** The one message a server-streaming request carries. */
export function readEnvelopedRequest(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length < 5)
    throw invalid("a Connect streaming request needs one enveloped message");
  const flags = body.readUInt8(0);
  if (flags & COMPRESSED) throw invalid("compressed Connect messages are not accepted");
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) throw invalid("the Connect envelope is shorter than its length");
  try {
    return JSON.parse(body.subarray(5, 5 + length).toString("utf8"));
  } catch {
    throw invalid("the Connect message is not valid JSON");
  }
}

/**
 * Writes a server-streaming reply. The HTTP status is always 200 (Connect puts streaming errors in
 * the end-of-stream message); a client that goes away only stops the writing.
 */
export class ConnectStream {
  private begun = false;

  constructor(private readonly reply: FastifyReply) {}

  get closed(): boolean {
    const raw = this.reply.raw;
    return raw.destroyed || raw.writableEnded;
  }

  send(message: unknown): void {
    this.begin();
    if (!this.closed) this.reply.raw.write(envelope(0, message));
  }

  end(err?: unknown): void {
    this.begin();
    if (this.closed) return;
    this.reply.raw.end(envelope(END_STREAM, err === undefined ? {} : { error: connectError(err) }));
  }

  private begin(): void {
    if (this.begun) return;
    this.begun = true;
    this.reply.hijack();
    const raw = this.reply.raw;
    raw.on("error", () => undefined);
    raw.writeHead(200, { "content-type": "application/connect+json", "cache-control": "no-store" });
    raw.flushHeaders();
  }
}
