import type { Backoff } from "./backoff.js";
import { type Endpoint, endpointKey, expandServers, type Resolver, type ServerAddress } from "./server-list.js";

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects once `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const done = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", done);
        resolve();
      }, ms);
      signal.addEventListener("abort", done, { once: true });
    }),
};

export interface RotationOptions {
  servers: ServerAddress[];
  resolve: Resolver;
  backoff: Backoff;
  clock: Clock;
  onUnresolved: (server: ServerAddress, err: unknown) => void;
  /** Told before each wait between rounds. */
  onWait?: (ms: number) => void;
}

/**
 * Which control-plane address to dial next. Names are resolved afresh at the start of each round; a
 * round tries every address once, starting after the one used last, without waiting in between (each
 * attempt is bounded by the connect timeout), so one dead replica delays reaching a live one by at most
 * that timeout. Between rounds, and after losing an established stream, it waits the jittered backoff,
 * so nothing is retried in a hot loop and a fleet does not move to the next replica in lockstep.
 */
export class ServerRotation {
  private round: Endpoint[] = [];
  private last: Endpoint | undefined;
  private started = false;
  private wasRegistered = false;

  constructor(private readonly o: RotationOptions) {}

  /** Waits as the rotation says, then gives the address to dial; rejects once `signal` aborts. */
  async next(signal: AbortSignal): Promise<Endpoint> {
    for (;;) {
      if (this.round.length === 0 || this.wasRegistered) {
        if (this.started) {
          const wait = this.o.backoff.next(this.o.clock.now());
          this.o.onWait?.(wait);
          await this.o.clock.sleep(wait, signal);
        }
        this.started = true;
        this.wasRegistered = false;
        this.round = startAfter(await expandServers(this.o.servers, this.o.resolve, this.o.onUnresolved), this.last);
        if (signal.aborted) throw signal.reason;
      }
      const endpoint = this.round.shift();
      if (endpoint) {
        this.last = endpoint;
        return endpoint;
      }
    }
  }

  /** The address given last was registered with: its loss starts a new round after it. */
  registered(): void {
    this.o.backoff.connected(this.o.clock.now());
    this.wasRegistered = true;
  }
}

function startAfter(endpoints: Endpoint[], last: Endpoint | undefined): Endpoint[] {
  const at = last ? endpoints.findIndex((e) => endpointKey(e) === endpointKey(last)) : -1;
  return [...endpoints.slice(at + 1), ...endpoints.slice(0, at + 1)];
}
