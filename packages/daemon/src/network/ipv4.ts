/** IPv4 addresses as unsigned 32-bit numbers, and CIDR blocks in canonical form. */

export interface Cidr {
  network: number;
  prefix: number;
}

const octet = /^(0|[1-9]\d{0,2})$/;

export function parseIpv4(text: string): number {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((part) => octet.test(part) && Number(part) <= 255)) {
    throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  }
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join(".");
}

export function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

/**
 * Parses "a.b.c.d/n" (or a bare address, meaning /32). Host bits must be zero: "10.0.0.5/24" is
 * rejected rather than silently widened, because it is almost always a typo for something else.
 */
export function parseCidr(text: string): Cidr {
  const [address, prefixText, ...rest] = text.trim().split("/");
  if (rest.length > 0 || address === undefined) throw new Error(`not an IPv4 CIDR block: ${JSON.stringify(text)}`);
  if (prefixText !== undefined && !/^(0|[1-9]\d?)$/.test(prefixText)) {
    throw new Error(`not an IPv4 CIDR block: ${JSON.stringify(text)}`);
  }
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  if (prefix > 32) throw new Error(`not an IPv4 CIDR block: ${JSON.stringify(text)} (prefix above 32)`);
  const network = parseIpv4(address);
  if (network % blockSize(prefix) !== 0) {
    throw new Error(
      `${text} has host bits set; did you mean ${formatCidr({ network: network - (network % blockSize(prefix)), prefix })}?`,
    );
  }
  return { network, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return address >= cidr.network && address < cidr.network + blockSize(cidr.prefix);
}
