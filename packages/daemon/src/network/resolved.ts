import type { AddressRecord } from "./dns-message.js";
import type { AllowedName, Ports } from "./egress.js";
import type { ResolvedElement } from "./firewall.js";
import { openSeconds } from "./resolver.js";

interface Opened {
  address: string;
  ports: Ports;
  expiresAt: number;
}

/**
 * The addresses the egress resolver opened, per sandbox, kept by the daemon so that a full
 * firewall update (which replaces the sets) puts them back with the time they have left.
 */
export class ResolvedAddresses {
  private readonly bySandbox = new Map<string, Map<string, Opened>>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records the answer and returns the elements to add for it. */
  open(
    sandboxId: string,
    source: string,
    entries: readonly AllowedName[],
    records: readonly AddressRecord[],
  ): ResolvedElement[] {
    const opened = this.bySandbox.get(sandboxId) ?? new Map<string, Opened>();
    this.bySandbox.set(sandboxId, opened);
    const elements: ResolvedElement[] = [];
    for (const { address, ttl } of records) {
      for (const { ports } of entries) {
        const timeoutSeconds = openSeconds(ttl);
        opened.set(`${address}:${ports?.join(",") ?? ""}`, {
          address,
          ports,
          expiresAt: this.now() + timeoutSeconds * 1000,
        });
        elements.push({ source, address, ports, timeoutSeconds });
      }
    }
    return elements;
  }

  forget(sandboxId: string): void {
    this.bySandbox.delete(sandboxId);
  }

  /** What is still open, for the sandboxes at these addresses (keyed by sandbox id). */
  elements(sources: ReadonlyMap<string, string>): ResolvedElement[] {
    const now = this.now();
    const elements: ResolvedElement[] = [];
    for (const [sandboxId, opened] of this.bySandbox) {
      const source = sources.get(sandboxId);
      if (!source) continue;
      for (const [key, { address, ports, expiresAt }] of opened) {
        if (expiresAt <= now) opened.delete(key);
        else elements.push({ source, address, ports, timeoutSeconds: (expiresAt - now) / 1000 });
      }
    }
    return elements;
  }
}
