import { type Kysely, sql } from "kysely";
import { pendingMigrations } from "../db/migrate.js";
import type { DB } from "../db/schema.js";
import type { Logger } from "../log/logger.js";

export interface ReadinessOptions {
  /** Time between database probes. */
  probeEveryMs: number;
  /** A probe slower than this counts as a failure (a partitioned database hangs rather than refuses). */
  probeTimeoutMs: number;
  /** Consecutive failed probes before the replica is marked not ready. */
  failuresBeforeUnready: number;
}

export const defaultReadinessOptions: ReadinessOptions = {
  probeEveryMs: 2_000,
  probeTimeoutMs: 1_500,
  failuresBeforeUnready: 3,
};

const MIGRATIONS_CHECK_EVERY_MS = 30_000;

export type CheckName = "database" | "migrations" | "draining";

export interface ReadinessReport {
  ready: boolean;
  /** Every check with its outcome; `error` says what failed. */
  checks: Record<CheckName, { ok: boolean; error?: string }>;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Whether this replica should take work: its database answers (a `SELECT 1` probe, with the pool's
 * connection errors prompting an early probe), its schema is the one it was built for, and it is not
 * shutting down. After `failuresBeforeUnready` failed probes in a row it turns not ready and calls
 * `onUnready` (the server closes its host streams so daemons move to a replica that can serve them);
 * the first good probe makes it ready again, with no restart.
 */
export class Readiness {
  private failures = 0;
  private migrationsError: string | undefined;
  private draining = false;
  private unready = false;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private stopped = false;
  private migrationsCheckedAt = 0;

  constructor(
    private readonly deps: {
      db: Kysely<DB>;
      log: Logger;
      options?: Partial<ReadinessOptions>;
      onUnready?: (reason: string) => void;
    },
  ) {}

  private get options(): ReadinessOptions {
    return { ...defaultReadinessOptions, ...this.deps.options };
  }

  start(): void {
    this.schedule(this.options.probeEveryMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.probing;
  }

  /** The process is shutting down: no longer ready, whatever the database says. */
  drain(): void {
    this.draining = true;
  }

  /** A pooled connection failed on its own (the server went away): probe now rather than at the next tick. */
  connectionFailed(): void {
    if (this.stopped || this.probing) return;
    clearTimeout(this.timer);
    this.schedule(0);
  }

  /** True while the database answers; requests and host streams are refused otherwise. */
  get databaseReady(): boolean {
    return !this.unready;
  }

  report(): ReadinessReport {
    const checks: ReadinessReport["checks"] = {
      // The cause (addresses, server messages) goes to the log only: this report is unauthenticated.
      database: this.unready
        ? { ok: false, error: `unreachable (${this.failures} failed probes in a row)` }
        : { ok: true },
      migrations: this.migrationsError ? { ok: false, error: this.migrationsError } : { ok: true },
      draining: this.draining ? { ok: false, error: "the server is shutting down" } : { ok: true },
    };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }

  /** One probe; exposed so tests need not wait for the timer. */
  probe(): Promise<void> {
    this.probing ??= this.runProbe().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.probe().finally(() => this.schedule(this.options.probeEveryMs));
    }, ms);
    this.timer.unref();
  }

  private async runProbe(): Promise<void> {
    const { db, log } = this.deps;
    const { probeTimeoutMs, failuresBeforeUnready } = this.options;
    try {
      await withTimeout(sql`SELECT 1`.execute(db), probeTimeoutMs);
      // The schema changes only when someone migrates: a few catalogue queries every 30 s are enough.
      if (Date.now() - this.migrationsCheckedAt >= MIGRATIONS_CHECK_EVERY_MS) {
        const pending = await withTimeout(pendingMigrations(db), probeTimeoutMs);
        this.migrationsError = pending.length > 0 ? `pending migrations: ${pending.join(", ")}` : undefined;
        this.migrationsCheckedAt = Date.now();
      }
    } catch (err) {
      this.failures++;
      if (!this.unready && this.failures >= failuresBeforeUnready) {
        this.unready = true;
        log.error({ err, failures: this.failures }, "database unreachable; this replica is not ready");
        this.deps.onUnready?.((err as Error).message);
      }
      return;
    }
    if (this.unready) log.info({ failures: this.failures }, "database reachable again; this replica is ready");
    this.failures = 0;
    this.unready = false;
  }
}
