import pg from "pg";
import type { Logger } from "../log/logger.js";

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;

/**
 * The replica's one dedicated LISTEN connection (a pooled connection cannot hold a LISTEN). It
 * reconnects with backoff when PostgreSQL drops it; `onConnected` runs after each (re)connect so
 * the caller can sweep for what was notified while it was away.
 */
export class NotificationListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryMs = FIRST_RETRY_MS;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      url: string;
      /** Shown as the connection's application_name in pg_stat_activity. */
      name: string;
      log: Logger;
      channels: Record<string, (payload: string) => void>;
      onConnected: () => void;
    },
  ) {}

  /** Resolves once listening; the first connection failing is an error (startup should not pretend). */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.url,
      connectionTimeoutMillis: 10_000,
      application_name: this.options.name,
    });
    client.on("notification", (message) => {
      const handler = this.options.channels[message.channel];
      if (handler && message.payload) handler(message.payload);
    });
    client.on("error", (err) => {
      this.options.log.warn({ err }, "replica LISTEN connection failed; reconnecting");
      this.lost(client);
    });
    client.on("end", () => this.lost(client));
    try {
      await client.connect();
      for (const channel of Object.keys(this.options.channels)) {
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      }
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = FIRST_RETRY_MS;
    this.options.onConnected();
  }

  private lost(client: pg.Client): void {
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.connect().catch((err: unknown) => {
        this.options.log.warn({ err, retryMs: this.retryMs }, "replica LISTEN reconnect failed");
        this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
        this.scheduleRetry();
      });
    }, this.retryMs);
    this.retryTimer.unref();
  }
}
