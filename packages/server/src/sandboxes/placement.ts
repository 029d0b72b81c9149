/** A host as placement sees it: reported free resources plus what the control plane has committed. */
export interface PlacementHost {
  id: string;
  totalCpus: number;
  totalMemoryMb: number;
  availableMemoryMb: number;
  availableDiskMb: number;
  committedVcpus: number;
  committedMemoryMb: number;
}

export interface Demand {
  vcpus: number;
  memoryMb: number;
  diskMb: number;
}

export interface PlacementPolicy {
  /** vCPUs that may be placed per host CPU. */
  cpuOvercommit: number;
}

/** Memory a host can still take: bounded both by our own commitments and by what it reports free. */
export function freeMemoryMb(host: PlacementHost): number {
  return Math.min(host.totalMemoryMb - host.committedMemoryMb, host.availableMemoryMb);
}

export function freeVcpus(host: PlacementHost, policy: PlacementPolicy): number {
  return Math.floor(host.totalCpus * policy.cpuOvercommit) - host.committedVcpus;
}

export function fits(host: PlacementHost, demand: Demand, policy: PlacementPolicy): boolean {
  return (
    freeMemoryMb(host) >= demand.memoryMb &&
    freeVcpus(host, policy) >= demand.vcpus &&
    host.availableDiskMb >= demand.diskMb
  );
}

/**
 * Worst-fit scoring: the host with the most memory left after placement (CPU headroom as a
 * tiebreaker weight) wins, which spreads sandboxes across equivalent hosts instead of packing one.
 */
export function score(host: PlacementHost, demand: Demand, policy: PlacementPolicy): number {
  return freeMemoryMb(host) - demand.memoryMb + (freeVcpus(host, policy) - demand.vcpus) * 256;
}

/** Hosts that can take the demand, best first; ties break on host id so the order is deterministic. */
export function rankHosts(hosts: readonly PlacementHost[], demand: Demand, policy: PlacementPolicy): PlacementHost[] {
  return hosts
    .filter((host) => fits(host, demand, policy))
    .map((host) => ({ host, score: score(host, demand, policy) }))
    .sort((a, b) => b.score - a.score || (a.host.id < b.host.id ? -1 : a.host.id > b.host.id ? 1 : 0))
    .map((entry) => entry.host);
}

/** Explains an empty ranking in terms a user can act on. */
export function explainNoFit(hosts: readonly PlacementHost[], demand: Demand, policy: PlacementPolicy): string {
  const largestMemory = Math.max(...hosts.map(freeMemoryMb));
  const largestCpus = Math.max(...hosts.map((h) => freeVcpus(h, policy)));
  const largestDisk = Math.max(...hosts.map((h) => h.availableDiskMb));
  if (largestMemory < demand.memoryMb) {
    return `no host has ${demand.memoryMb} MB of memory free (most free: ${Math.max(0, largestMemory)} MB)`;
  }
  if (largestCpus < demand.vcpus)
    return `no host has ${demand.vcpus} vCPUs free (most free: ${Math.max(0, largestCpus)})`;
  if (largestDisk < demand.diskMb) return `no host has ${demand.diskMb} MB of disk free (most free: ${largestDisk} MB)`;
  return "no single host has enough memory, CPU and disk free at once";
}
