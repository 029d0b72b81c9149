/** A sandbox's egress as requested, and the firewall rule it becomes. */
import { SandboxError } from "../errors.js";
import { formatCidr, parseCidr } from "./ipv4.js";

/**
 * false: no egress; true: anywhere; a list: only these entries (bridge mode only). An entry is a
 * target with optional ports, `TARGET[:PORT[,PORT…]]`: the target is an IPv4 address or CIDR block
 * (`10.0.0.0/8`), a DNS name (`deb.debian.org`) or a wildcard (`*.example.com`: every name below
 * example.com, not example.com itself). Ports apply to TCP and UDP; without them every port is open.
 */
export type EgressPolicy = boolean | readonly string[];

/**
 * A new sandbox's egress: anywhere when allowEgress, else its allowlist (checked and canonical, or
 * invalid_request), else nowhere.
 */
export function egressOf(input: { allowEgress: boolean; egressAllow?: readonly string[] | undefined }): EgressPolicy {
  if (input.allowEgress) return true;
  return input.egressAllow && input.egressAllow.length > 0 ? canonicalAllowlist(input.egressAllow) : false;
}

/** The allowlist column of a sandbox row: the list as JSON, or null for all-or-nothing egress. */
export function storedAllowlist(policy: EgressPolicy): string | null {
  return Array.isArray(policy) ? JSON.stringify(policy) : null;
}

/** Ports an entry opens; undefined means all of them. */
export type Ports = readonly number[] | undefined;

export interface AllowedBlock {
  cidr: string;
  ports: Ports;
}

export interface AllowedName {
  /** Lowercase, no trailing dot; may start with `*.`. */
  pattern: string;
  ports: Ports;
}

export interface Allowlist {
  blocks: readonly AllowedBlock[];
  names: readonly AllowedName[];
}

/** Where a sandbox may open connections outside its subnet: anywhere, or only what its allowlist names. */
export type EgressRule = "any" | Allowlist;

export const MAX_EGRESS_ENTRIES = 64;
export const MAX_PORTS_PER_ENTRY = 16;

const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Validates an allowlist up front, so a typo fails the request before any device is created. */
export function toEgressRule(egress: EgressPolicy): EgressRule | undefined {
  if (egress === true) return "any";
  if (egress === false || egress.length === 0) return undefined;
  if (egress.length > MAX_EGRESS_ENTRIES)
    throw new Error(`egress allowlist: at most ${MAX_EGRESS_ENTRIES} entries, got ${egress.length}`);
  const blocks = new Map<string, AllowedBlock>();
  const names = new Map<string, AllowedName>();
  for (const text of egress) {
    try {
      const entry = parseEgressEntry(text);
      if ("cidr" in entry) blocks.set(key(entry.cidr, entry.ports), entry);
      else names.set(key(entry.pattern, entry.ports), entry);
    } catch (error) {
      throw new Error(`egress allowlist: ${(error as Error).message}`);
    }
  }
  return { blocks: [...blocks.values()], names: [...names.values()] };
}

/** One entry of an allowlist, in canonical form (the form formatEgressEntry writes back). */
export function parseEgressEntry(text: string): AllowedBlock | AllowedName {
  if (typeof text !== "string") throw new Error("an entry must be a string");
  const trimmed = text.trim();
  const colon = trimmed.indexOf(":");
  const target = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const ports = colon < 0 ? undefined : parsePorts(trimmed.slice(colon + 1), text);
  if (/^[\d./]+$/.test(target)) return { cidr: formatCidr(parseCidr(target)), ports };
  return { pattern: parseNamePattern(target), ports };
}

/** Entries in canonical form; an invalid one fails as an invalid request naming it. */
export function canonicalAllowlist(entries: readonly string[]): string[] {
  if (entries.length > MAX_EGRESS_ENTRIES)
    throw new SandboxError("invalid_request", `egress allowlist: at most ${MAX_EGRESS_ENTRIES} entries`);
  return entries.map((entry) => {
    try {
      return formatEgressEntry(parseEgressEntry(entry));
    } catch (error) {
      throw new SandboxError("invalid_request", `egress allowlist: ${(error as Error).message}`);
    }
  });
}

export function formatEgressEntry(entry: AllowedBlock | AllowedName): string {
  const target = "cidr" in entry ? entry.cidr : entry.pattern;
  return entry.ports ? `${target}:${entry.ports.join(",")}` : target;
}

/** A DNS name or `*.`-wildcard, lowercased and without a trailing dot. */
export function parseNamePattern(text: string): string {
  const lower = text.toLowerCase().replace(/\.$/, "");
  const wildcard = lower.startsWith("*.");
  const name = wildcard ? lower.slice(2) : lower;
  const labels = name.split(".");
  if (name.length === 0 || name.length > 253 || !labels.every((part) => label.test(part)))
    throw new Error(`not a DNS name or *.wildcard: ${JSON.stringify(text)}`);
  if (labels.length < 2) throw new Error(`${JSON.stringify(text)} needs at least two labels (like example.com)`);
  if (/^\d+$/.test(labels[labels.length - 1] ?? ""))
    throw new Error(`not a DNS name or *.wildcard: ${JSON.stringify(text)}`);
  return wildcard ? `*.${name}` : name;
}

/** Whether a queried name (any case, trailing dot or not) falls under a pattern. */
export function nameMatches(pattern: string, queried: string): boolean {
  const name = queried.toLowerCase().replace(/\.$/, "");
  if (!pattern.startsWith("*.")) return name === pattern;
  return name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
}

/** The name entries a query falls under (several may, each with its own ports). */
export function matchingNames(allowlist: Allowlist, queried: string): AllowedName[] {
  return allowlist.names.filter((entry) => nameMatches(entry.pattern, queried));
}

function parsePorts(text: string, entry: string): number[] {
  const parts = text.split(",");
  if (parts.length > MAX_PORTS_PER_ENTRY)
    throw new Error(`${JSON.stringify(entry)}: at most ${MAX_PORTS_PER_ENTRY} ports per entry`);
  const ports = parts.map((part) => {
    const port = /^[1-9]\d{0,4}$/.test(part) ? Number(part) : Number.NaN;
    if (!(port >= 1 && port <= 65535))
      throw new Error(`${JSON.stringify(entry)}: invalid port ${JSON.stringify(part)}`);
    return port;
  });
  return [...new Set(ports)].sort((a, b) => a - b);
}

function key(target: string, ports: Ports): string {
  return `${target}:${ports?.join(",") ?? ""}`;
}
