import { blockSize, type Cidr, cidrContains, formatCidr, formatIpv4, parseCidr, parseIpv4 } from "./ipv4.js";
import type { Lease, LeaseStore } from "./leases.js";
import { macFromIp, randomMac } from "./mac.js";

export const DEFAULT_SUBNET = "10.91.0.0/24";

/** /30 is the smallest subnet with a usable sandbox address; beyond /16 a single bridge makes no sense. */
const MIN_PREFIX = 16;
const MAX_PREFIX = 30;

/**
 * Hands out sandbox addresses inside one subnet: the first host address is the bridge's (the
 * sandboxes' gateway), the rest go to sandboxes lowest-free first. The network and broadcast
 * addresses are never used.
 */
export class Ipam {
  readonly subnet: string;
  readonly prefix: number;
  readonly gateway: string;
  private readonly block: Cidr;

  constructor(
    private readonly store: LeaseStore,
    subnet: string = DEFAULT_SUBNET,
  ) {
    this.block = parseCidr(subnet);
    if (this.block.prefix < MIN_PREFIX || this.block.prefix > MAX_PREFIX) {
      throw new Error(`sandbox subnet ${subnet}: prefix must be between /${MIN_PREFIX} and /${MAX_PREFIX}`);
    }
    this.subnet = formatCidr(this.block);
    this.prefix = this.block.prefix;
    this.gateway = formatIpv4(this.block.network + 1);
  }

  /** Sandbox addresses in the subnet (excludes network, gateway and broadcast). */
  get capacity(): number {
    return blockSize(this.prefix) - 3;
  }

  lookup(sandboxId: string): Lease | undefined {
    return this.store.all().find((lease) => lease.sandboxId === sandboxId);
  }

  leases(): Lease[] {
    return this.store.all();
  }

  /**
   * The sandbox's lease, allocating one if it has none. A lease left over from a different subnet
   * (the daemon's configuration changed) cannot be routed on this bridge, so it is replaced.
   */
  allocate(sandboxId: string): Lease {
    const leases = this.store.all();
    const existing = leases.find((lease) => lease.sandboxId === sandboxId);
    if (existing) {
      if (cidrContains(this.block, parseIpv4(existing.ip))) return existing;
      this.store.remove(sandboxId);
    }
    const usedIps = new Set(leases.filter((lease) => lease.sandboxId !== sandboxId).map((lease) => lease.ip));
    const usedMacs = new Set(leases.filter((lease) => lease.sandboxId !== sandboxId).map((lease) => lease.mac));
    const first = this.block.network + 2;
    const last = this.block.network + blockSize(this.prefix) - 2;
    for (let candidate = first; candidate <= last; candidate++) {
      const ip = formatIpv4(candidate);
      if (usedIps.has(ip)) continue;
      const lease = { sandboxId, ip, mac: this.freeMac(candidate, usedMacs) };
      this.store.insert(lease);
      return lease;
    }
    throw new Error(
      `no free address in ${this.subnet} for sandbox ${sandboxId}: all ${this.capacity} sandbox addresses are leased`,
    );
  }

  /** Gives a sandbox's lease (same address and MAC) to a new sandbox id. */
  transfer(from: string, to: string): void {
    const lease = this.lookup(from);
    if (!lease) throw new Error(`sandbox ${from} has no lease`);
    if (this.lookup(to)) throw new Error(`sandbox ${to} already has a lease`);
    this.store.remove(from);
    this.store.insert({ ...lease, sandboxId: to });
  }

  /** Idempotent: releasing a sandbox without a lease does nothing. */
  release(sandboxId: string): void {
    this.store.remove(sandboxId);
  }

  /** The MAC derived from the IP, unless a lease from another subnet already holds it. */
  private freeMac(ip: number, used: ReadonlySet<string>): string {
    const derived = macFromIp(ip);
    if (!used.has(derived)) return derived;
    for (let attempt = 0; attempt < 64; attempt++) {
      const mac = randomMac();
      if (!used.has(mac)) return mac;
    }
    throw new Error("could not find an unused MAC address after 64 random attempts");
  }
}
