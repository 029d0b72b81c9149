import type { FastifyReply } from "fastify";

/**
 * A reply written as newline-delimited JSON, one event per line. The status line goes out with the
 * first event, so a failure before then is an ordinary error reply; a client that goes away only
 * stops the writing.
 */
export class NdjsonReply<Event> {
  private started = false;

  constructor(private readonly reply: FastifyReply) {}

  /** Whether the reply has begun (after which failures can only be events, not a status code). */
  get begun(): boolean {
    return this.started;
  }

  get gone(): boolean {
    return this.reply.raw.destroyed || this.reply.raw.writableEnded;
  }

  write(event: Event): void {
    const raw = this.reply.raw;
    if (!this.started) {
      this.started = true;
      this.reply.hijack();
      raw.on("error", () => undefined);
      // Headers hooks set on the reply (CORS) are not sent by a hijacked reply unless passed on here.
      const set = Object.entries(this.reply.getHeaders()).filter(([, value]) => value !== undefined);
      raw.writeHead(200, {
        ...(Object.fromEntries(set) as Record<string, string | number | string[]>),
        "content-type": "application/x-ndjson",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      });
      raw.flushHeaders();
    }
    if (!this.gone) raw.write(`${JSON.stringify(event)}\n`);
  }

  end(): void {
    this.reply.raw.end();
  }
}
