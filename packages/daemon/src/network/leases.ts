/** One sandbox's address on the bridge. */
export interface Lease {
  sandboxId: string;
  ip: string;
  mac: string;
}

/**
 * Where leases persist. The daemon backs it with its SQLite `ip_leases` table (synchronous, so an
 * allocation cannot interleave with another one); tests use MemoryLeaseStore.
 */
export interface LeaseStore {
  all(): Lease[];
  insert(lease: Lease): void;
  remove(sandboxId: string): void;
}

export class MemoryLeaseStore implements LeaseStore {
  private readonly leases = new Map<string, Lease>();

  constructor(initial: Lease[] = []) {
    for (const lease of initial) this.insert(lease);
  }

  all(): Lease[] {
    return [...this.leases.values()].map((lease) => ({ ...lease }));
  }

  /** Enforces the same uniqueness as the SQLite table, so tests catch what production would reject. */
  insert(lease: Lease): void {
    for (const existing of this.leases.values()) {
      const clash =
        existing.sandboxId === lease.sandboxId
          ? "sandbox"
          : existing.ip === lease.ip
            ? "ip"
            : existing.mac === lease.mac
              ? "mac"
              : undefined;
      if (clash) throw new Error(`lease store: duplicate ${clash} in ${JSON.stringify(lease)}`);
    }
    this.leases.set(lease.sandboxId, { ...lease });
  }

  remove(sandboxId: string): void {
    this.leases.delete(sandboxId);
  }
}
