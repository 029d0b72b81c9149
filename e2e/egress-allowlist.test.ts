import { execFileSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import type { Socket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { startTestZone } from "./lib/dns-zone.js";
import { type OutsideNetwork, startOutsideNetwork } from "./lib/outside-network.js";

const nft = (...args: string[]) => execFileSync("nft", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const isRoot = process.getuid?.() === 0;

/**
 * Egress allowlists on the daemon's bridge. "Outside" is a network namespace this test creates,
 * reached from the host through a veth pair, with listeners on three of its addresses. A test DNS
 * zone on the host's loopback is the upstream of the daemon's egress resolver.
 */
describe.skipIf(!isRoot)("sandbox egress allowlists (needs root for bridges and namespaces)", () => {
  const suffix = randomBytes(3).toString("hex");
  const octet = randomInt(100, 250);
  const outsideNet = `10.96.${octet}`;
  const outside = `fle2ea-${suffix}`;
  const hostVeth = `fle2ea${suffix}`;
  const bridge = `fle2eA${suffix}`;
  const listed = `${outsideNet}.2`;
  const named = `${outsideNet}.3`;
  const unlisted = `${outsideNet}.4`;
  let outsideNetwork: OutsideNetwork | undefined;
  let zone: Socket;
  let daemon: TestDaemonProcess;
  let sandbox: string;

  beforeAll(async () => {
    outsideNetwork = startOutsideNetwork({
      namespace: outside,
      veth: hostVeth,
      hostAddress: `${outsideNet}.1/24`,
      addresses: [listed, named, unlisted].map((address) => `${address}/24`),
      listener:
        "for (const port of [8088, 8089]) require('net').createServer((s) => s.end('pong ' + s.localAddress + ':' + port + '\\n')).listen(port, '0.0.0.0')",
    });
    zone = await startTestZone({ "good.fluid-e2e.test": named, "bad.fluid-e2e.test": unlisted });
    daemon = await startDaemon({
      network: "bridge",
      bridge,
      subnet: `10.95.${octet}.0/24`,
      extraArgs: ["--egress-dns-upstream", `127.0.0.1:${zone.address().port}`],
    });
    // The allowlist is given at create (the later tests change it on the running sandbox).
    const created = await daemon.api.create({
      name: "allowlisted",
      egress_allow: [`${listed}/32:8088`, "good.fluid-e2e.test"],
    });
    expect(created.status).toBe(201);
    expect(created.body.egress_allow).toEqual([`${listed}/32:8088`, "good.fluid-e2e.test"]);
    sandbox = created.body.id;
  });

  afterAll(async () => {
    await daemon?.dispose();
    zone?.close();
    outsideNetwork?.close();
  });

  const run = async (command: string) =>
    (await daemon.api.run(sandbox, command, { timeout_seconds: 30 })).body.stdout as string;
  const probe = (address: string, port = 8088) => run(`timeout 5 nc ${address} ${port} </dev/null; echo exit=$?`);

  it("reaches the listener its allowlist names by CIDR and port, and not another port there", async () => {
    expect(await probe(listed)).toContain(`pong ${listed}:8088`);
    expect(await probe(listed, 8089)).not.toContain("pong");
  });

  it("reaches an allowlisted name's address only once the daemon's resolver has answered it", async () => {
    expect(await probe(named)).not.toContain("pong");
    expect(await run("nslookup good.fluid-e2e.test 2>&1")).toContain(named);
    expect(await probe(named)).toContain(`pong ${named}:8088`);
  });

  it("gets no answer for a name outside the allowlist, and its address stays closed", async () => {
    expect(await run("nslookup bad.fluid-e2e.test 2>&1; echo exit=$?")).not.toContain(unlisted);
    expect(await probe(unlisted)).not.toContain("pong");
  });

  it("loses everything, resolved addresses included, when egress is set to none", async () => {
    await daemon.api.call("POST", `/v1/sandboxes/${sandbox}/egress`, { allowed: false });
    expect(await probe(listed)).not.toContain("pong");
    expect(await probe(named)).not.toContain("pong");
  });

  it("rejects an invalid allowlist entry with a 400 naming it", async () => {
    const bad = await daemon.api.call("POST", `/v1/sandboxes/${sandbox}/egress`, { allow: ["10.0.0.1/8:443"] });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("host bits set");
  });

  it("after destroy the sandbox's elements leave the firewall sets", async () => {
    await daemon.api.call("POST", `/v1/sandboxes/${sandbox}/egress`, { allow: ["good.fluid-e2e.test"] });
    await run("nslookup good.fluid-e2e.test >/dev/null 2>&1");
    const address = (await daemon.api.call("GET", `/v1/sandboxes/${sandbox}`)).body.ip_address as string;
    expect(nft("list", "set", "inet", "fluid", "egress_names")).toContain(`${address} . ${named}`);
    await daemon.api.call("DELETE", `/v1/sandboxes/${sandbox}`);
    expect(nft("list", "set", "inet", "fluid", "egress_names")).not.toContain(`${address} . ${named}`);
  });
});
