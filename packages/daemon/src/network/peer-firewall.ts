import { assertIfname } from "./links.js";
import { TAP_PREFIX } from "./names.js";

/**
 * Sandbox-to-sandbox isolation lives in a table of its own per bridge, not in the shared `fluid`
 * tables: those are replaced whole by whichever daemon on the host writes last and deleted by one
 * that tears its network down, and a sandbox of a shared peer group (a non-isolated bridge port)
 * would lose its protection meanwhile. The bridge name is hex-encoded since nft identifiers cannot
 * hold every character a device name may.
 */
export function peerTableName(bridge: string): string {
  assertIfname(bridge);
  return `fluid_peers_${Buffer.from(bridge).toString("hex")}`;
}

/**
 * Drops every frame between a sandbox TAP of this bridge and another sandbox TAP unless both are in
 * one peer group. The bridge device itself (the gateway) and other non-sandbox ports are not
 * matched, so each sandbox still reaches the host side. The forward hook sees every frame the bridge
 * passes from one port to another, flooded copies included. Declared, deleted and defined again so
 * it replaces the previous one atomically within the same transaction as the other tables.
 */
export function renderPeerTable(
  bridge: string,
  taps: readonly string[],
  groups: readonly (readonly string[])[],
): string {
  const table = peerTableName(bridge);
  for (const tap of taps) assertIfname(tap);
  return `${resetPeerTable(bridge)}table bridge ${table} {
	# The sandbox TAPs on this bridge.
	set taps {
		type ifname
${elements(taps.map((tap) => JSON.stringify(tap)))}	}

	# (TAP, TAP) pairs, both directions: members of one peer group (forks sharing a network).
	set peers {
		type ifname . ifname
${elements(peerPairs(groups))}	}

	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname @taps oifname "${TAP_PREFIX}*" iifname . oifname != @peers counter drop
		oifname @taps iifname "${TAP_PREFIX}*" iifname . oifname != @peers counter drop
	}
}
`;
}

/** Declaring an existing table is a no-op, so the delete that follows never fails. */
export function resetPeerTable(bridge: string): string {
  const table = peerTableName(bridge);
  return `table bridge ${table} {}\ndelete table bridge ${table}\n`;
}

/** Every ordered pair of distinct members of each group, as nft set elements. */
function peerPairs(groups: readonly (readonly string[])[]): string[] {
  const pairs: string[] = [];
  for (const group of groups) {
    for (const tap of group) assertIfname(tap);
    for (const from of group) {
      for (const to of group) if (from !== to) pairs.push(`${JSON.stringify(from)} . ${JSON.stringify(to)}`);
    }
  }
  return pairs;
}

function elements(values: readonly string[]): string {
  // nft rejects an empty element list, so an empty set simply has none.
  return values.length === 0 ? "" : `\t\telements = {\n${values.map((value) => `\t\t\t${value},\n`).join("")}\t\t}\n`;
}
