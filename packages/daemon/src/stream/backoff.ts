/**
 * Exponential backoff with full jitter: the nth retry waits a random time up to min(cap, base·2ⁿ),
 * so a fleet of daemons reconnecting after a control-plane restart does not arrive in lockstep.
 * The attempt count resets once a connection has stayed up for `stableMs`.
 */
export class Backoff {
  private attempt = 0;
  private connectedAt: number | undefined;

  constructor(
    private readonly options: { baseMs: number; capMs: number; stableMs: number },
    private readonly random: () => number = Math.random,
  ) {}

  connected(now = Date.now()): void {
    this.connectedAt = now;
  }

  /** The wait before the next attempt, after a connection ended or failed. */
  next(now = Date.now()): number {
    if (this.connectedAt !== undefined && now - this.connectedAt >= this.options.stableMs) this.attempt = 0;
    this.connectedAt = undefined;
    const ceiling = Math.min(this.options.capMs, this.options.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(this.random() * ceiling);
  }
}
