import type { EgressRule, Ports } from "./egress.js";
import { formatCidr, formatIpv4, parseCidr, parseIpv4 } from "./ipv4.js";
import { assertIfname } from "./links.js";
import { assertMac } from "./mac.js";
import { TAP_PREFIX } from "./names.js";
import { type NetnsOption, runNet, runNetChecked } from "./netns.js";
import { renderPeerTable, resetPeerTable } from "./peer-firewall.js";

/** Both tables (`inet fluid` and `bridge fluid`) belong to fluid alone and are always replaced whole. */
const TABLE = "fluid";
const NAMES_SET = "egress_names";
const NAMES_PORTS_SET = "egress_names_ports";

/** A sandbox's port on the bridge and the only addresses it may send from. */
export interface FirewallPort {
  tap: string;
  ip: string;
  mac: string;
}

/** One address a sandbox may reach because the resolver answered it for an allowlisted name. */
export interface ResolvedElement {
  source: string;
  address: string;
  ports: Ports;
  timeoutSeconds: number;
}

export interface FirewallConfig {
  bridge: string;
  subnet: string;
  ports: readonly FirewallPort[];
  /** Keyed by sandbox IP. Sandboxes without an entry have no egress. */
  egress: ReadonlyMap<string, EgressRule>;
  /** The address of fluid's egress resolver on the bridge, which sandboxes may query on UDP port 53. */
  resolver?: string;
  /** Addresses the resolver answered for allowlisted names, each open until its timeout. */
  resolved?: readonly ResolvedElement[];
  /** Records in the table that fluid turned net.ipv4.ip_forward on (see forwardingMarked). */
  markForwarding?: boolean;
  /** TAPs whose sandboxes may reach each other (see peer-firewall.ts); all others reach none. */
  peerGroups?: readonly (readonly string[])[];
}

/**
 * The record lives in the table rather than in the daemon, so a restarted daemon still knows the
 * setting was its own to undo; and like ip_forward itself, it is gone after a reboot.
 */
const FORWARDING_MARK = "fluid enabled net.ipv4.ip_forward";

/**
 * Link-local space holds cloud metadata services (169.254.169.254), which hand out the host's
 * credentials. No sandbox may reach it, whatever its egress says.
 */
const ALWAYS_BLOCKED = "169.254.0.0/16";

/**
 * The complete ruleset, as one `nft -f` transaction: each table is created if missing, deleted and
 * defined again, so the kernel switches from the old rules to the new ones atomically and never runs
 * without them. All values are validated and re-rendered here, so nothing from a request reaches
 * the nft parser verbatim.
 */
export function renderRuleset(config: FirewallConfig): string {
  assertIfname(config.bridge);
  const bridge = JSON.stringify(config.bridge);
  const subnet = formatCidr(parseCidr(config.subnet));
  const anywhere: string[] = [];
  const allowlisted: string[] = [];
  const allowlistedPorts: string[] = [];
  for (const [ip, rule] of config.egress) {
    const source = formatIpv4(parseIpv4(ip));
    if (rule === "any") {
      anywhere.push(source);
      continue;
    }
    for (const { cidr, ports } of rule.blocks) {
      const pair = `${source} . ${formatCidr(parseCidr(cidr))}`;
      if (ports) allowlistedPorts.push(...ports.map((port) => `${pair} . ${checkedPort(port)}`));
      else allowlisted.push(pair);
    }
  }
  const resolved = resolvedElements(config.resolved ?? []);
  const resolver = config.resolver === undefined ? undefined : formatIpv4(parseIpv4(config.resolver));
  const ports = config.ports.map((port) => {
    assertIfname(port.tap);
    assertMac(port.mac);
    return `${JSON.stringify(port.tap)} . ${port.mac} . ${formatIpv4(parseIpv4(port.ip))}`;
  });
  return `${resetTables()}
table inet ${TABLE} {
${config.markForwarding ? `\tcomment "${FORWARDING_MARK}"\n\n` : ""}	# Sandboxes that may connect anywhere outside their subnet.
	set egress {
		type ipv4_addr
${elements(anywhere)}	}

	# (sandbox, destination block) pairs for sandboxes limited to an allowlist.
	set egress_allow {
		type ipv4_addr . ipv4_addr
		flags interval
${elements(allowlisted)}	}

	# (sandbox, destination block, port) for allowlist entries limited to ports, TCP and UDP alike.
	set egress_allow_ports {
		type ipv4_addr . ipv4_addr . inet_service
		flags interval
${elements(allowlistedPorts)}	}

	# Addresses fluid's resolver answered for allowlisted names, until their DNS TTL (bounded) runs
	# out. The resolver adds to these sets as sandboxes look names up.
	set ${NAMES_SET} {
		type ipv4_addr . ipv4_addr
		flags timeout
${elements(resolved.any)}	}

	set ${NAMES_PORTS_SET} {
		type ipv4_addr . ipv4_addr . inet_service
		flags timeout
${elements(resolved.ports)}	}

	# Policies stay "accept": other software's forwarded and local traffic shares these hooks. A drop
	# here is final whatever other tables (Docker, ufw) accept, so the drops below always hold.
	chain forward {
		type filter hook forward priority filter; policy accept;
		# Sandbox to sandbox on the same bridge (this hook sees it when br_netfilter is loaded).
		iifname ${bridge} oifname ${bridge} accept
		iifname ${bridge} ip daddr ${ALWAYS_BLOCKED} counter drop
		iifname ${bridge} ip saddr @egress accept
		iifname ${bridge} ip saddr . ip daddr @egress_allow accept
		iifname ${bridge} meta l4proto { tcp, udp } ip saddr . ip daddr . th dport @egress_allow_ports accept
		iifname ${bridge} ip saddr . ip daddr @${NAMES_SET} accept
		iifname ${bridge} meta l4proto { tcp, udp } ip saddr . ip daddr . th dport @${NAMES_PORTS_SET} accept
		# Everything else from a sandbox, IPv6 included, goes nowhere.
		iifname ${bridge} counter drop
		# Nothing outside may open connections to sandboxes; replies to their own connections pass.
		oifname ${bridge} ct state established,related accept
		oifname ${bridge} counter drop
	}

	# Sandboxes get nothing from the host itself: addresses are static (passed to the guest at boot,
	# so no DHCP), the exec channel is virtio-serial, and SSH runs from the host to the guest, whose
	# replies are "established". Names are looked up through fluid's egress resolver, which
	# answers only what a sandbox's allowlist names. Hence only replies and DNS queries are let in.
	chain input {
		type filter hook input priority filter; policy accept;
		iifname ${bridge} ct state established,related accept
${resolver ? `\t\tiifname ${bridge} ip daddr ${resolver} udp dport 53 accept\n` : ""}		iifname ${bridge} counter drop
	}

	# Only egress the forward chain accepted gets this far, so every sandbox packet leaving the
	# bridge is rewritten to the host's address on the way out. Matching the input interface
	# leaves the host's own traffic from the gateway address (to itself, say) alone.
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		iifname ${bridge} ip saddr ${subnet} oifname != ${bridge} masquerade
	}
}

# Anti-spoofing at layer 2: a sandbox may send only from its own MAC and IP, through its own TAP.
# Without this, a sandbox without egress could borrow a neighbour's IP (and its egress) or poison
# the bridge's MAC table to receive a neighbour's traffic. Frames of any other type (IPv6, VLAN
# tags) are dropped too. Hooked at prerouting, before the bridge learns the source MAC.
table bridge ${TABLE} {
	set ports {
		type ifname . ether_addr . ipv4_addr
${elements(ports)}	}

	chain prerouting {
		type filter hook prerouting priority filter; policy accept;
		iifname != "${TAP_PREFIX}*" accept
		ether type ip iifname . ether saddr . ip saddr @ports accept
		ether type arp iifname . ether saddr . arp saddr ip @ports iifname . arp saddr ether . arp saddr ip @ports accept
		counter drop
	}
}
${renderPeerTable(
  config.bridge,
  config.ports.map((port) => port.tap),
  config.peerGroups ?? [],
)}`;
}

export async function applyFirewall(config: FirewallConfig, opts: NetnsOption = {}): Promise<void> {
  await nft(renderRuleset(config), opts);
}

/** Idempotent: deletes fluid's tables if they exist, with the bridge's own when it is named. */
export async function removeFirewall(opts: NetnsOption & { bridge?: string } = {}): Promise<void> {
  await nft(`${resetTables()}${opts.bridge === undefined ? "" : resetPeerTable(opts.bridge)}`, opts);
}

/** Whether the installed ruleset records that fluid turned ip_forward on. */
export async function forwardingMarked(opts: NetnsOption = {}): Promise<boolean> {
  // -t (terse) leaves out set elements, which can be many.
  const result = await runNet(["nft", "-t", "list", "table", "inet", TABLE], opts);
  return result.code === 0 && result.stdout.includes(`comment "${FORWARDING_MARK}"`);
}

/**
 * Adds (or renews) resolved addresses in one transaction. `add` alone keeps an existing element's
 * old timeout, so each element is added, deleted and added again with the new one.
 */
export function renderResolvedUpdate(update: readonly ResolvedElement[]): string {
  const { any, ports } = resolvedElements(update);
  const lines: string[] = [];
  for (const [set, values] of [
    [NAMES_SET, any],
    [NAMES_PORTS_SET, ports],
  ] as const) {
    for (const value of values) {
      const bare = value.replace(/ timeout \d+s$/, "");
      lines.push(
        `add element inet ${TABLE} ${set} { ${bare} }`,
        `delete element inet ${TABLE} ${set} { ${bare} }`,
        `add element inet ${TABLE} ${set} { ${value} }`,
      );
    }
  }
  return lines.map((line) => `${line}\n`).join("");
}

export async function addResolved(update: readonly ResolvedElement[], opts: NetnsOption = {}): Promise<void> {
  if (update.length > 0) await nft(renderResolvedUpdate(update), opts);
}

function resolvedElements(resolved: readonly ResolvedElement[]): { any: string[]; ports: string[] } {
  const any: string[] = [];
  const ports: string[] = [];
  for (const element of resolved) {
    const pair = `${formatIpv4(parseIpv4(element.source))} . ${formatIpv4(parseIpv4(element.address))}`;
    const seconds = Math.max(1, Math.ceil(element.timeoutSeconds));
    if (!Number.isFinite(seconds)) throw new Error(`invalid timeout ${element.timeoutSeconds}`);
    if (element.ports) ports.push(...element.ports.map((port) => `${pair} . ${checkedPort(port)} timeout ${seconds}s`));
    else any.push(`${pair} timeout ${seconds}s`);
  }
  return { any, ports };
}

function checkedPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port ${port}`);
  return port;
}

/** Declaring an existing table is a no-op, so the delete that follows never fails. */
function resetTables(): string {
  return ["inet", "bridge"].map((family) => `table ${family} ${TABLE} {}\ndelete table ${family} ${TABLE}\n`).join("");
}

function elements(values: readonly string[]): string {
  // nft rejects an empty element list, so an empty set simply has none.
  return values.length === 0 ? "" : `\t\telements = {\n${values.map((value) => `\t\t\t${value},\n`).join("")}\t\t}\n`;
}

async function nft(ruleset: string, opts: NetnsOption): Promise<void> {
  try {
    await runNetChecked(["nft", "-f", "-"], opts, { input: ruleset });
  } catch (error) {
    const missing =
      (error as NodeJS.ErrnoException).code === "ENOENT" || /exec of "nft" failed/.test((error as Error).message);
    if (missing) throw new Error("nft is not installed (apt-get install nftables)", { cause: error });
    throw error;
  }
}
