import { describe, expect, it } from "vitest";
import { peerTableName, renderPeerTable } from "./peer-firewall.js";

const taps = ["fl-aaaaaaaaaaaa", "fl-bbbbbbbbbbbb", "fl-cccccccccccc"];

/** The text of one `set NAME { … }` or `chain NAME { … }` block. */
function block(ruleset: string, header: string): string {
  const start = ruleset.indexOf(`${header} {`);
  expect(start, header).toBeGreaterThanOrEqual(0);
  return ruleset.slice(start, ruleset.indexOf("\n\t}", start));
}

describe("renderPeerTable", () => {
  it("names one table per bridge, hex-encoding the bridge name", () => {
    expect(peerTableName("fluid0")).toBe("fluid_peers_666c75696430");
    expect(peerTableName("br-a.b")).not.toBe(peerTableName("br_a.b"));
    expect(() => peerTableName('x" }')).toThrow(/invalid network device name/);
  });

  it("replaces the table atomically: declare, delete, define", () => {
    const table = renderPeerTable("fluid0", taps, []);
    expect(
      table.startsWith(
        "table bridge fluid_peers_666c75696430 {}\ndelete table bridge fluid_peers_666c75696430\ntable bridge fluid_peers_666c75696430 {\n",
      ),
    ).toBe(true);
  });

  it("drops every frame from or to one of the bridge's sandbox TAPs and another sandbox TAP, unless both are peers", () => {
    const table = renderPeerTable("fluid0", taps, [[taps[0]!, taps[1]!], [taps[2]!]]);
    const chain = block(table, "chain forward")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith("#"));
    expect(chain).toEqual([
      "chain forward {",
      "type filter hook forward priority filter; policy accept;",
      'iifname @taps oifname "fl-*" iifname . oifname != @peers counter drop',
      'oifname @taps iifname "fl-*" iifname . oifname != @peers counter drop',
    ]);
    expect(block(table, "set taps")).toContain('"fl-cccccccccccc",');
    const peers = block(table, "set peers");
    expect(peers).toContain('"fl-aaaaaaaaaaaa" . "fl-bbbbbbbbbbbb",');
    expect(peers).toContain('"fl-bbbbbbbbbbbb" . "fl-aaaaaaaaaaaa",');
    expect(peers.match(/" \. "/g)).toHaveLength(2);
  });

  it("renders empty sets without elements, and refuses a bad device name among the TAPs or in a group", () => {
    const table = renderPeerTable("fluid0", [], []);
    expect(block(table, "set taps")).not.toContain("elements");
    expect(block(table, "set peers")).not.toContain("elements");
    expect(() => renderPeerTable("fluid0", ['x" accept'], [])).toThrow(/invalid network device name/);
    expect(() => renderPeerTable("fluid0", taps, [["fl-a", 'x" accept']])).toThrow(/invalid network device name/);
  });
});
