import { describe, expect, it } from "vitest";
import { type EgressRule, toEgressRule } from "./egress.js";
import { type FirewallConfig, renderResolvedUpdate, renderRuleset } from "./firewall.js";
import { renderPeerTable } from "./peer-firewall.js";

const base: FirewallConfig = {
  bridge: "fluid0",
  subnet: "10.91.0.0/24",
  ports: [
    { tap: "fl-aaaaaaaaaaaa", ip: "10.91.0.2", mac: "52:54:00:5b:00:02" },
    { tap: "fl-bbbbbbbbbbbb", ip: "10.91.0.3", mac: "52:54:00:5b:00:03" },
    { tap: "fl-cccccccccccc", ip: "10.91.0.4", mac: "52:54:00:5b:00:04" },
  ],
  egress: new Map(),
};

/** The text of one `set NAME { … }` or `chain NAME { … }` block. */
function block(ruleset: string, header: string): string {
  const start = ruleset.indexOf(`${header} {`);
  expect(start, header).toBeGreaterThanOrEqual(0);
  return ruleset.slice(start, ruleset.indexOf("\n\t}", start));
}

describe("renderRuleset", () => {
  it("replaces both fluid tables atomically: declare, delete, define, in one transaction", () => {
    const ruleset = renderRuleset(base);
    const order = [
      "table inet fluid {}\ndelete table inet fluid\n",
      "table bridge fluid {}\ndelete table bridge fluid\n",
      "table inet fluid {\n",
      "table bridge fluid {\n",
    ].map((text) => ruleset.indexOf(text));
    expect(order.every((position) => position >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(ruleset).not.toMatch(/flush ruleset/);
  });

  it("drops everything from the bridge except sandbox-to-sandbox and granted egress", () => {
    const forward = block(renderRuleset(base), "chain forward");
    const rules = forward
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith("#"));
    expect(rules).toEqual([
      "chain forward {",
      "type filter hook forward priority filter; policy accept;",
      'iifname "fluid0" oifname "fluid0" accept',
      'iifname "fluid0" ip daddr 169.254.0.0/16 counter drop',
      'iifname "fluid0" ip saddr @egress accept',
      'iifname "fluid0" ip saddr . ip daddr @egress_allow accept',
      'iifname "fluid0" meta l4proto { tcp, udp } ip saddr . ip daddr . th dport @egress_allow_ports accept',
      'iifname "fluid0" ip saddr . ip daddr @egress_names accept',
      'iifname "fluid0" meta l4proto { tcp, udp } ip saddr . ip daddr . th dport @egress_names_ports accept',
      'iifname "fluid0" counter drop',
      'oifname "fluid0" ct state established,related accept',
      'oifname "fluid0" counter drop',
    ]);
  });

  it("lets sandboxes reach the host only with replies", () => {
    const input = block(renderRuleset(base), "chain input");
    expect(input).toContain('iifname "fluid0" ct state established,related accept\n\t\tiifname "fluid0" counter drop');
  });

  it("masquerades the subnet on its way out of the host", () => {
    expect(block(renderRuleset(base), "chain postrouting")).toContain(
      'iifname "fluid0" ip saddr 10.91.0.0/24 oifname != "fluid0" masquerade',
    );
  });

  it("leaves the egress sets empty by default (nft rejects an empty element list)", () => {
    const ruleset = renderRuleset(base);
    expect(block(ruleset, "set egress")).not.toContain("elements");
    expect(block(ruleset, "set egress_allow")).not.toContain("elements");
  });

  it("puts 'any' sandboxes in the egress set and allowlists in the pair set", () => {
    const ruleset = renderRuleset({
      ...base,
      egress: new Map<string, EgressRule>([
        ["10.91.0.2", "any"],
        ["10.91.0.3", toEgressRule(["1.1.1.1", "192.0.2.0/24"]) as EgressRule],
      ]),
    });
    expect(block(ruleset, "set egress")).toContain("elements = {\n\t\t\t10.91.0.2,\n\t\t}");
    expect(block(ruleset, "set egress_allow")).toContain(
      "elements = {\n\t\t\t10.91.0.3 . 1.1.1.1/32,\n\t\t\t10.91.0.3 . 192.0.2.0/24,\n\t\t}",
    );
    expect(block(ruleset, "set egress")).not.toContain("10.91.0.4");
    expect(block(ruleset, "set egress_allow")).not.toContain("10.91.0.4");
  });

  it("binds every TAP to its MAC and IP at layer 2 and drops everything else from fluid ports", () => {
    const ruleset = renderRuleset(base);
    expect(block(ruleset, "set ports")).toContain(
      '"fl-aaaaaaaaaaaa" . 52:54:00:5b:00:02 . 10.91.0.2,\n\t\t\t"fl-bbbbbbbbbbbb" . 52:54:00:5b:00:03 . 10.91.0.3,',
    );
    const prerouting = block(ruleset, "chain prerouting");
    expect(prerouting).toContain('iifname != "fl-*" accept');
    expect(prerouting).toContain("ether type ip iifname . ether saddr . ip saddr @ports accept");
    expect(prerouting).toContain(
      "ether type arp iifname . ether saddr . arp saddr ip @ports iifname . arp saddr ether . arp saddr ip @ports accept",
    );
    expect(prerouting.trimEnd().endsWith("counter drop")).toBe(true);
  });

  it("records in the table, when asked, that fluid turned ip_forward on", () => {
    expect(renderRuleset(base)).not.toContain("comment");
    expect(renderRuleset({ ...base, markForwarding: true })).toContain(
      'table inet fluid {\n\tcomment "fluid enabled net.ipv4.ip_forward"\n',
    );
  });

  it("refuses anything that could smuggle syntax into nft", () => {
    expect(() => renderRuleset({ ...base, bridge: 'fluid0" ; flush ruleset ; "' })).toThrow(
      /invalid network device name/,
    );
    expect(() => renderRuleset({ ...base, subnet: "10.91.0.0/24 } flush ruleset" })).toThrow(/CIDR/);
    const smuggled: EgressRule = { blocks: [{ cidr: "0.0.0.0/0, 1.2.3.4", ports: undefined }], names: [] };
    expect(() => renderRuleset({ ...base, egress: new Map([["10.91.0.2", smuggled]]) })).toThrow();
    const badPort: EgressRule = { blocks: [{ cidr: "10.0.0.0/8", ports: [443.5] }], names: [] };
    expect(() => renderRuleset({ ...base, egress: new Map([["10.91.0.2", badPort]]) })).toThrow(/port/);
    expect(() => renderRuleset({ ...base, egress: new Map([["10.91.0.2 }", "any"]]) })).toThrow(/IPv4 address/);
    expect(() =>
      renderRuleset({ ...base, ports: [{ tap: "fl-x", ip: "10.91.0.2", mac: "52:54:00:5b:00:02 }" }] }),
    ).toThrow(/MAC/);
  });

  it("ends with the bridge's own sandbox-to-sandbox table, covering every port and peer group", () => {
    const ruleset = renderRuleset({ ...base, peerGroups: [["fl-aaaaaaaaaaaa", "fl-bbbbbbbbbbbb"]] });
    expect(
      ruleset.endsWith(
        renderPeerTable(
          "fluid0",
          base.ports.map((port) => port.tap),
          [["fl-aaaaaaaaaaaa", "fl-bbbbbbbbbbbb"]],
        ),
      ),
    ).toBe(true);
  });

  it("puts allowlist entries with ports in the (sandbox, block, port) set", () => {
    const rule = toEgressRule(["10.0.0.0/8:443,80", "192.0.2.1"]) as EgressRule;
    const ruleset = renderRuleset({ ...base, egress: new Map([["10.91.0.3", rule]]) });
    expect(block(ruleset, "set egress_allow_ports")).toContain(
      "elements = {\n\t\t\t10.91.0.3 . 10.0.0.0/8 . 80,\n\t\t\t10.91.0.3 . 10.0.0.0/8 . 443,\n\t\t}",
    );
    expect(block(ruleset, "set egress_allow")).toContain("10.91.0.3 . 192.0.2.1/32");
  });

  it("lets sandboxes query the resolver on UDP port 53 of the gateway, and nothing else on the host", () => {
    const input = block(renderRuleset({ ...base, resolver: "10.91.0.1" }), "chain input");
    expect(input).toContain(
      'iifname "fluid0" ct state established,related accept\n\t\tiifname "fluid0" ip daddr 10.91.0.1 udp dport 53 accept\n\t\tiifname "fluid0" counter drop',
    );
  });

  it("carries resolved addresses into the name sets with the time they have left", () => {
    const ruleset = renderRuleset({
      ...base,
      resolved: [
        { source: "10.91.0.2", address: "198.51.100.7", ports: undefined, timeoutSeconds: 299.2 },
        { source: "10.91.0.2", address: "198.51.100.8", ports: [443], timeoutSeconds: 60 },
      ],
    });
    expect(block(ruleset, "set egress_names")).toContain("flags timeout");
    expect(block(ruleset, "set egress_names")).toContain("10.91.0.2 . 198.51.100.7 timeout 300s,");
    expect(block(ruleset, "set egress_names_ports")).toContain("10.91.0.2 . 198.51.100.8 . 443 timeout 60s,");
  });

  it("renews a resolved address in one transaction: add, delete, add with the new timeout", () => {
    expect(
      renderResolvedUpdate([{ source: "10.91.0.2", address: "198.51.100.7", ports: [443], timeoutSeconds: 300 }]),
    ).toBe(
      "add element inet fluid egress_names_ports { 10.91.0.2 . 198.51.100.7 . 443 }\n" +
        "delete element inet fluid egress_names_ports { 10.91.0.2 . 198.51.100.7 . 443 }\n" +
        "add element inet fluid egress_names_ports { 10.91.0.2 . 198.51.100.7 . 443 timeout 300s }\n",
    );
    expect(() =>
      renderResolvedUpdate([{ source: "10.91.0.2", address: "1.2.3.4 }", ports: undefined, timeoutSeconds: 1 }]),
    ).toThrow(/IPv4 address/);
  });
});
