import type { OpenSession } from "../remote/ssh-runner.js";

/** A read-only connection is not used for new commands after this long (inside its certificate's five minutes). */
const CONNECTION_MAX_AGE_MS = 4 * 60_000;

/**
 * One kept read-only connection: counted while commands use it, retired (closed once unused) when
 * it is too old, idle or failed.
 */
export class PooledConnection {
  readonly opened: Promise<OpenSession>;
  onIdle: (() => void) | undefined;
  private readonly born = Date.now();
  private users = 1;
  private idle: NodeJS.Timeout | undefined;
  private retiring = false;

  constructor(
    readonly key: string,
    private readonly idleMs: number,
    open: () => Promise<OpenSession>,
  ) {
    this.opened = open();
  }

  expired(): boolean {
    return this.retiring || Date.now() - this.born > CONNECTION_MAX_AGE_MS;
  }

  acquire(): void {
    this.users++;
    clearTimeout(this.idle);
  }

  release(): void {
    this.users--;
    if (this.users > 0) return;
    if (this.retiring) {
      void this.shut();
      return;
    }
    this.idle = setTimeout(() => this.onIdle?.(), this.idleMs);
    this.idle.unref();
  }

  /** Closes now if nothing uses it, else when the last command ends. */
  async retire(): Promise<void> {
    this.retiring = true;
    clearTimeout(this.idle);
    if (this.users === 0) await this.shut();
  }

  private async shut(): Promise<void> {
    const opened = await this.opened.catch(() => undefined);
    await opened?.close();
  }
}
