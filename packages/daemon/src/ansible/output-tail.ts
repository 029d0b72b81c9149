/**
 * Keeps the last `limit` bytes of a stream: the end of a long ansible run (its failures and recap)
 * is what a reviewer needs, and a run must not hold unbounded output in memory.
 */
export class OutputTail {
  private chunks: Buffer[] = [];
  private held = 0;
  private dropped = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.held += chunk.length;
    while (this.held > this.limit) {
      const first = this.chunks[0] as Buffer;
      const excess = this.held - this.limit;
      this.dropped = true;
      if (first.length <= excess) {
        this.chunks.shift();
        this.held -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.held -= excess;
      }
    }
  }

  get truncated(): boolean {
    return this.dropped;
  }

  /** The kept bytes as text; a character the cut split in two is dropped rather than mangled. */
  text(): string {
    let bytes = Buffer.concat(this.chunks);
    if (this.dropped) {
      let skip = 0;
      while (skip < bytes.length && skip < 3 && ((bytes[skip] as number) & 0xc0) === 0x80) skip++;
      bytes = bytes.subarray(skip);
    }
    return bytes.toString("utf8");
  }
}
