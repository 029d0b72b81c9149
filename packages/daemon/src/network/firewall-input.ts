import type { EgressRule } from "./egress.js";
import type { FirewallPort } from "./firewall.js";
import type { Lease } from "./leases.js";
import { tapName } from "./names.js";

/** What the network manager knows of one attached sandbox that the firewall cares about. */
export interface PortState {
  lease?: Lease;
  egress: EgressRule | undefined;
  peerGroup?: string | undefined;
}

/** The per-sandbox part of the firewall's configuration; user-mode sandboxes (no lease) have none. */
export function firewallInput(attached: ReadonlyMap<string, PortState>): {
  ports: FirewallPort[];
  egress: Map<string, EgressRule>;
  peerGroups: string[][];
  /** Each sandbox's address, by sandbox id (what the egress resolver's answers are keyed by). */
  sources: Map<string, string>;
} {
  const ports: FirewallPort[] = [];
  const egress = new Map<string, EgressRule>();
  const groups = new Map<string, string[]>();
  const sources = new Map<string, string>();
  for (const [sandboxId, { lease, egress: rule, peerGroup }] of attached) {
    if (!lease) continue;
    const tap = tapName(sandboxId);
    ports.push({ tap, ip: lease.ip, mac: lease.mac });
    sources.set(sandboxId, lease.ip);
    if (rule) egress.set(lease.ip, rule);
    if (peerGroup !== undefined) groups.set(peerGroup, [...(groups.get(peerGroup) ?? []), tap]);
  }
  return { ports, egress, peerGroups: [...groups.values()], sources };
}
