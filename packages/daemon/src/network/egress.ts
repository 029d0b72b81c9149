/** A sandbox's egress as requested, and the firewall rule it becomes. */
import type { EgressRule } from "./firewall.js";
import { formatCidr, parseCidr } from "./ipv4.js";

/** false: no egress; true: anywhere; a list: only these IPv4 CIDR blocks (bridge mode only). */
export type EgressPolicy = boolean | readonly string[];

/** Validates an allowlist up front, so a typo fails the request before any device is created. */
export function toEgressRule(egress: EgressPolicy): EgressRule | undefined {
  if (egress === true) return "any";
  if (egress === false || egress.length === 0) return undefined;
  return [
    ...new Set(
      egress.map((block) => {
        try {
          return formatCidr(parseCidr(block));
        } catch (error) {
          throw new Error(`egress allowlist: ${(error as Error).message}`);
        }
      }),
    ),
  ];
}
