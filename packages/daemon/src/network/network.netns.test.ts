import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, runChecked } from "../system/run.js";
import { ensureBridge, removeBridge } from "./bridge.js";
import { applyFirewall, removeFirewall } from "./firewall.js";
import { readIpForwarding } from "./forwarding.js";
import { MemoryLeaseStore } from "./leases.js";
import { findLink } from "./links.js";
import { type Attachment, NetworkManager } from "./manager.js";
import { tapName } from "./names.js";
import { peerTableName } from "./peer-firewall.js";
import { createTap, deleteTap, ensureTap, listTaps } from "./tap.js";

// Everything here happens in network namespaces these tests create and delete; the host's own
// interfaces, routes and ruleset are never touched.

const isRoot = process.getuid?.() === 0;
const suffix = randomBytes(3).toString("hex");
const created: string[] = [];
const listeners: ChildProcess[] = [];

async function addNamespace(role: string): Promise<string> {
  const name = `fltest-${suffix}-${role}`;
  await runChecked(["ip", "netns", "add", name]);
  created.push(name);
  await ns(name, "ip", "link", "set", "lo", "up");
  return name;
}

function ns(name: string, ...argv: string[]): ReturnType<typeof runChecked> {
  return runChecked(["ip", "netns", "exec", name, ...argv]);
}

async function removeNamespaces(): Promise<void> {
  for (const child of listeners.splice(0)) child.kill("SIGKILL");
  for (const name of created.splice(0)) await run(["ip", "netns", "del", name]);
}

/** A TCP server that answers every connection with the peer address it saw, then closes. */
async function listen(name: string, host: string, port: number): Promise<void> {
  const script = `require("node:net").createServer((s) => s.end(s.remoteAddress)).listen(${port}, "${host}", () => console.log("listening"));`;
  const child = spawn("ip", ["netns", "exec", name, process.execPath, "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  listeners.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`listener in ${name} exited with ${code}`)));
  });
}

/**
 * Connects from a namespace. "ok <address the server saw>", "timeout" when a firewall dropped the
 * packets, or "error <code>" (a refusal would mean the packets got through).
 */
async function probe(name: string, host: string, port: number, localAddress?: string): Promise<string> {
  const script = `
    const [host, port, localAddress] = process.argv.slice(1);
    const socket = require("node:net").connect({ host, port: Number(port), localAddress: localAddress || undefined });
    let data = "";
    socket.setTimeout(1000, () => { console.log("timeout"); process.exit(0); });
    socket.on("data", (chunk) => { data += chunk; });
    socket.on("end", () => { console.log("ok " + data); process.exit(0); });
    socket.on("error", (error) => { console.log("error " + error.code); process.exit(0); });`;
  const { stdout } = await ns(name, process.execPath, "-e", script, host, String(port), localAddress ?? "");
  return stdout.trim();
}

/**
 * Stands in for a VM: replaces the sandbox's TAP with a veth of the same name whose far end (eth0
 * in its own namespace) carries the lease's MAC and IP, exactly what the guest NIC would have.
 */
async function plugStandIn(host: string, attachment: Attachment): Promise<string> {
  const tap = attachment.tap!;
  const guest = await addNamespace(`s${created.length}`);
  await ns(host, "ip", "link", "del", "dev", tap);
  await ns(host, "ip", "link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", guest);
  await ns(host, "ip", "link", "set", "dev", tap, "master", "fluid0");
  await ns(host, "ip", "link", "set", "dev", tap, "up");
  await ns(guest, "ip", "link", "set", "dev", "eth0", "address", attachment.mac);
  await ns(guest, "ip", "addr", "add", `${attachment.ip}/${attachment.prefix}`, "dev", "eth0");
  await ns(guest, "ip", "link", "set", "dev", "eth0", "up");
  await ns(guest, "ip", "route", "add", "default", "via", attachment.gateway!);
  return guest;
}

describe.skipIf(!isRoot)("bridge and TAP devices (in a private network namespace; skipped when not root)", () => {
  let netns: string;
  const opts = (): { netns: string } => ({ netns });

  beforeAll(async () => {
    netns = await addNamespace("dev");
  });
  afterAll(removeNamespaces);

  it("creates the bridge once and tolerates it existing", async () => {
    const config = { name: "fluid0", gateway: "10.91.0.1", prefix: 24, netns };
    expect(await ensureBridge(config)).toEqual({ created: true });
    expect(await ensureBridge(config)).toEqual({ created: false });
    expect(await findLink("fluid0", opts())).toMatchObject({ kind: "bridge", up: true, mac: "52:54:00:5b:00:01" });
    const { stdout } = await ns(netns, "ip", "-j", "addr", "show", "dev", "fluid0");
    expect(stdout).toContain('"local":"10.91.0.1","prefixlen":24');
  });

  it("refuses to take over a device of another kind", async () => {
    await ns(netns, "ip", "link", "add", "notabridge", "type", "veth", "peer", "name", "notabridge1");
    await expect(ensureBridge({ name: "notabridge", gateway: "10.9.0.1", prefix: 24, netns })).rejects.toThrow(
      "notabridge exists but is a veth device, not a bridge",
    );
  });

  it("NetworkManager falls back to user mode, saying why, when it cannot have its bridge", async () => {
    const leases = new MemoryLeaseStore();
    const manager = await NetworkManager.start({ leases, netns, bridge: "notabridge" });
    expect(manager.mode).toBe("user");
    expect(manager.modeReason).toBe(
      "bridge networking unavailable: notabridge exists but is a veth device, not a bridge",
    );
    await expect(NetworkManager.start({ leases, netns, bridge: "notabridge", mode: "bridge" })).rejects.toThrow(
      /not a bridge/,
    );
  });

  it("creates a TAP on the bridge, lists it, and deletes it idempotently", async () => {
    const tap = tapName("sandbox-1");
    await createTap(tap, "fluid0", opts());
    expect(await findLink(tap, opts())).toMatchObject({ kind: "tun", master: "fluid0", up: true });
    await runChecked(["ip", "netns", "exec", netns, "ip", "tuntap", "add", "dev", "fl-notours", "mode", "tap"]);
    expect((await listTaps(opts())).map((link) => link.name)).toEqual([tap]);
    expect(await deleteTap(tap, opts())).toBe(true);
    expect(await deleteTap(tap, opts())).toBe(false);
    expect(await findLink(tap, opts())).toBeUndefined();
  });

  it("keeps the bridge's MAC when ports with lower MACs come and go (guests cache the gateway's)", async () => {
    const tap = tapName("sandbox-low-mac");
    await createTap(tap, "fluid0", opts());
    await ns(netns, "ip", "link", "set", "dev", tap, "address", "02:00:00:00:00:01");
    expect((await findLink("fluid0", opts()))?.mac).toBe("52:54:00:5b:00:01");
    await deleteTap(tap, opts());
    expect((await findLink("fluid0", opts()))?.mac).toBe("52:54:00:5b:00:01");
  });

  it("rolls a TAP back when it cannot join the bridge", async () => {
    const tap = tapName("sandbox-2");
    await expect(createTap(tap, "nosuchbridge", opts())).rejects.toThrow(/ip failed/);
    expect(await findLink(tap, opts())).toBeUndefined();
  });

  it("adopts an existing TAP, putting it back on the bridge", async () => {
    const tap = tapName("sandbox-3");
    await ns(netns, "ip", "tuntap", "add", "dev", tap, "mode", "tap");
    expect(await ensureTap(tap, "fluid0", opts())).toEqual({ created: false });
    expect(await findLink(tap, opts())).toMatchObject({ master: "fluid0", up: true });
  });

  it("applies and removes the firewall idempotently", async () => {
    const config = { bridge: "fluid0", subnet: "10.91.0.0/24", ports: [], egress: new Map() };
    await applyFirewall(config, opts());
    await applyFirewall(config, opts());
    const { stdout } = await ns(netns, "nft", "list", "tables");
    expect(stdout).toContain("table inet fluid");
    expect(stdout).toContain("table bridge fluid");
    expect(stdout).toContain(`table bridge ${peerTableName("fluid0")}`);
    await removeFirewall({ ...opts(), bridge: "fluid0" });
    await removeFirewall({ ...opts(), bridge: "fluid0" });
    expect((await ns(netns, "nft", "list", "tables")).stdout).toBe("");
  });

  it("removes the bridge idempotently", async () => {
    await removeBridge("fluid0", opts());
    await removeBridge("fluid0", opts());
    expect(await findLink("fluid0", opts())).toBeUndefined();
  });
});

describe.skipIf(!isRoot)("NetworkManager isolation (in private network namespaces; skipped when not root)", () => {
  const OUTSIDE = "10.200.0.2";
  const HOST_UPLINK = "10.200.0.1";
  let host: string;
  let outside: string;
  let leases: MemoryLeaseStore;
  let manager: NetworkManager;
  let first: Attachment;
  let second: Attachment;
  let firstGuest: string;
  let secondGuest: string;

  beforeAll(async () => {
    host = await addNamespace("host");
    outside = await addNamespace("out");
    // The "internet": a namespace reachable from the host over a veth, with no route back to the
    // sandbox subnet, so only masqueraded traffic can get answers.
    await ns(host, "ip", "link", "add", "uplink", "type", "veth", "peer", "name", "eth0", "netns", outside);
    await ns(host, "ip", "addr", "add", `${HOST_UPLINK}/24`, "dev", "uplink");
    await ns(host, "ip", "link", "set", "dev", "uplink", "up");
    await ns(outside, "ip", "addr", "add", `${OUTSIDE}/24`, "dev", "eth0");
    await ns(outside, "ip", "link", "set", "dev", "eth0", "up");
    await listen(outside, OUTSIDE, 7000);
    await listen(host, "0.0.0.0", 7001);

    leases = new MemoryLeaseStore();
    manager = await NetworkManager.start({ leases, netns: host, mode: "bridge" });
  });

  afterAll(async () => {
    await manager?.shutdown({ teardown: true }).catch(() => undefined);
    await removeNamespaces();
  });

  it("starts in bridge mode with the bridge, gateway address and firewall in place", async () => {
    expect(manager.mode).toBe("bridge");
    expect(manager.modeReason).toBe("created bridge fluid0 (10.91.0.1/24)");
    expect(await findLink("fluid0", { netns: host })).toMatchObject({ kind: "bridge", up: true });
    expect((await ns(host, "nft", "list", "tables")).stdout).toContain("table inet fluid");
  });

  it("attaches a sandbox: lease, TAP on the bridge, QEMU arguments", async () => {
    first = await manager.attach("sandbox-a", { egress: false });
    expect(first).toEqual({
      mode: "bridge",
      mac: "52:54:00:5b:00:02",
      bridge: "fluid0",
      tap: tapName("sandbox-a"),
      ip: "10.91.0.2",
      gateway: "10.91.0.1",
      prefix: 24,
      qemuArgs: [
        "-netdev",
        `tap,id=net0,ifname=${tapName("sandbox-a")},script=no,downscript=no`,
        "-device",
        "virtio-net-device,netdev=net0,mac=52:54:00:5b:00:02",
      ],
    });
    expect(await findLink(first.tap!, { netns: host })).toMatchObject({ kind: "tun", master: "fluid0", up: true });
    expect(leases.all()).toEqual([{ sandboxId: "sandbox-a", ip: "10.91.0.2", mac: "52:54:00:5b:00:02" }]);
    second = await manager.attach("sandbox-b", { egress: false });
    expect(second.ip).toBe("10.91.0.3");
    const port = await ns(host, "ip", "-j", "-d", "link", "show", "dev", first.tap!);
    expect(port.stdout).toContain('"isolated":true');
    firstGuest = await plugStandIn(host, first);
    secondGuest = await plugStandIn(host, second);
  });

  it("blocks a sandbox from the outside by default, without turning on forwarding", async () => {
    expect(await probe(firstGuest, OUTSIDE, 7000)).toBe("timeout");
    expect(await readIpForwarding({ netns: host })).toBe(false);
  });

  it("lets it out, masqueraded, once egress is allowed", async () => {
    await manager.setEgress("sandbox-a", true);
    expect(await readIpForwarding({ netns: host })).toBe(true);
    expect(await probe(firstGuest, OUTSIDE, 7000)).toBe(`ok ${HOST_UPLINK}`);
    expect(await probe(secondGuest, OUTSIDE, 7000)).toBe("timeout");
  });

  it("blocks it again when egress is revoked, and turns forwarding back off", async () => {
    await manager.setEgress("sandbox-a", false);
    expect(await probe(firstGuest, OUTSIDE, 7000)).toBe("timeout");
    expect(await readIpForwarding({ netns: host })).toBe(false);
  });

  it("limits an allowlisted sandbox to its allowlist", async () => {
    await manager.setEgress("sandbox-a", ["10.201.0.0/16"]);
    expect(await probe(firstGuest, OUTSIDE, 7000)).toBe("timeout");
    await manager.setEgress("sandbox-a", ["10.200.0.0/24"]);
    expect(await probe(firstGuest, OUTSIDE, 7000)).toBe(`ok ${HOST_UPLINK}`);
    await manager.setEgress("sandbox-a", false);
  });

  it("keeps sandboxes off the host itself", async () => {
    expect(await probe(host, "10.91.0.1", 7001)).toBe("ok 10.91.0.1");
    expect(await probe(firstGuest, "10.91.0.1", 7001)).toBe("timeout");
    expect(await probe(firstGuest, HOST_UPLINK, 7001)).toBe("timeout");
  });

  it("keeps sandboxes on the bridge from reaching each other", async () => {
    await listen(secondGuest, "0.0.0.0", 7002);
    expect(await probe(firstGuest, second.ip!, 7002)).toBe("timeout");
    const { stdout } = await ns(host, "nft", "list", "chain", "bridge", peerTableName("fluid0"), "forward");
    expect(Number(/counter packets (\d+)/.exec(stdout)?.[1])).toBeGreaterThan(0);
  });

  it("lets the sandboxes of one peer group reach each other, and no other sandbox reach them", async () => {
    const fourth = await manager.attach("sandbox-d", { egress: false, peerGroup: "forks-of:p" });
    const fifth = await manager.attach("sandbox-e", { egress: false, peerGroup: "forks-of:p" });
    expect(fourth.peerGroup).toBe("forks-of:p");
    const port = await ns(host, "ip", "-j", "-d", "link", "show", "dev", fourth.tap!);
    expect(port.stdout).toContain('"isolated":false');
    const fourthGuest = await plugStandIn(host, fourth);
    const fifthGuest = await plugStandIn(host, fifth);
    await listen(fifthGuest, "0.0.0.0", 7003);
    expect(await probe(fourthGuest, fifth.ip!, 7003)).toBe(`ok ${fourth.ip}`);
    expect(await probe(firstGuest, fifth.ip!, 7003)).toBe("timeout");
    expect(await probe(fourthGuest, second.ip!, 7002)).toBe("timeout");
    await manager.detach("sandbox-d");
    await manager.detach("sandbox-e");
  });

  it("stops a sandbox from borrowing a neighbour's address (and its egress)", async () => {
    await manager.setEgress("sandbox-a", true);
    await ns(secondGuest, "ip", "addr", "add", `${first.ip}/32`, "dev", "eth0");
    expect(await probe(secondGuest, OUTSIDE, 7000, first.ip)).toBe("timeout");
    const { stdout } = await ns(host, "nft", "list", "chain", "bridge", "fluid", "prerouting");
    expect(Number(/counter packets (\d+)/.exec(stdout)?.[1])).toBeGreaterThan(0);
    expect(await probe(firstGuest, OUTSIDE, 7000)).toBe(`ok ${HOST_UPLINK}`);
    await ns(secondGuest, "ip", "addr", "del", `${first.ip}/32`, "dev", "eth0");
  });

  it("keeps running sandboxes' network and egress across a daemon restart", async () => {
    await manager.shutdown();
    manager = await NetworkManager.start({
      leases,
      netns: host,
      mode: "bridge",
      recovered: [{ sandboxId: "sandbox-a", egress: true }],
    });
    expect(manager.modeReason).toBe("using bridge fluid0 (10.91.0.1/24)");
    expect(await probe(firstGuest, OUTSIDE, 7000)).toBe(`ok ${HOST_UPLINK}`);
    expect(await probe(secondGuest, OUTSIDE, 7000)).toBe("timeout");
    expect(await probe(firstGuest, second.ip!, 7002)).toBe("timeout");
  });

  it("detach removes the TAP and the lease", async () => {
    await manager.detach("sandbox-b");
    expect(await findLink(second.tap!, { netns: host })).toBeUndefined();
    expect(leases.all().map((lease) => lease.sandboxId)).toEqual(["sandbox-a"]);
    await manager.detach("sandbox-b");
  });

  it("cleanupOrphans removes stray fluid TAPs and leases, and nothing live", async () => {
    const stray = tapName("crashed-sandbox");
    await ns(host, "ip", "tuntap", "add", "dev", stray, "mode", "tap");
    await ns(host, "ip", "link", "set", "dev", stray, "master", "fluid0");
    leases.insert({ sandboxId: "crashed-sandbox", ip: "10.91.0.9", mac: "52:54:00:5b:00:09" });
    await manager.cleanupOrphans(["sandbox-a"]);
    expect(await findLink(stray, { netns: host })).toBeUndefined();
    expect(leases.all().map((lease) => lease.sandboxId)).toEqual(["sandbox-a"]);
    expect(await findLink(first.tap!, { netns: host })).toBeDefined();
    expect(await probe(firstGuest, OUTSIDE, 7000)).toBe(`ok ${HOST_UPLINK}`);
  });

  it("rekey hands a live sandbox's network to a new id: TAP renamed, same lease, egress kept", async () => {
    const moved = await manager.rekey("sandbox-a", "sandbox-c", { egress: true });
    expect(moved).toMatchObject({ mode: "bridge", ip: first.ip, mac: first.mac, tap: tapName("sandbox-c") });
    expect(await findLink(first.tap!, { netns: host })).toBeUndefined();
    expect(await findLink(tapName("sandbox-c"), { netns: host })).toMatchObject({ master: "fluid0", up: true });
    expect(leases.all()).toEqual([{ sandboxId: "sandbox-c", ip: first.ip, mac: first.mac }]);
    expect(await probe(firstGuest, OUTSIDE, 7000)).toBe(`ok ${HOST_UPLINK}`);
  });

  it("teardown removes every device and table and restores ip_forward", async () => {
    await manager.shutdown({ teardown: true });
    expect(await findLink("fluid0", { netns: host })).toBeUndefined();
    expect(await findLink(first.tap!, { netns: host })).toBeUndefined();
    expect((await ns(host, "nft", "list", "tables")).stdout).toBe("");
    expect(await readIpForwarding({ netns: host })).toBe(false);
  });
});
