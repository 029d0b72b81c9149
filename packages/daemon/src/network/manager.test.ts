import { describe, expect, it } from "vitest";
import { MemoryLeaseStore } from "./leases.js";
import { macFromSandboxId } from "./mac.js";
import { NetworkManager } from "./manager.js";
import { tapNetdevArgs, userNetdevArgs } from "./qemu-args.js";

describe("QEMU network arguments", () => {
  it("attach a virtio-mmio NIC to fluid's TAP without QEMU's ifup scripts", () => {
    expect(tapNetdevArgs("fl-aaaaaaaaaaaa", "52:54:00:5b:00:02")).toEqual([
      "-netdev",
      "tap,id=net0,ifname=fl-aaaaaaaaaaaa,script=no,downscript=no",
      "-device",
      "virtio-net-device,netdev=net0,mac=52:54:00:5b:00:02",
    ]);
  });

  it("restrict slirp when a user-mode sandbox has no egress", () => {
    expect(userNetdevArgs("52:54:00:01:02:03", false)).toEqual([
      "-netdev",
      "user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,restrict=on",
      "-device",
      "virtio-net-device,netdev=net0,mac=52:54:00:01:02:03",
    ]);
    expect(userNetdevArgs("52:54:00:01:02:03", true)[1]).toBe(
      "user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3",
    );
  });

  it("refuse values that would add QEMU options", () => {
    expect(() => tapNetdevArgs("fl-a,script=/tmp/x", "52:54:00:5b:00:02")).toThrow(/device name/);
    expect(() => userNetdevArgs("52:54:00:01:02:03,romfile=x", true)).toThrow(/MAC/);
  });
});

describe("NetworkManager in user mode", () => {
  async function userManager(): Promise<{ manager: NetworkManager; leases: MemoryLeaseStore }> {
    const leases = new MemoryLeaseStore();
    return { manager: await NetworkManager.start({ leases, mode: "user" }), leases };
  }

  it("reports the mode and why", async () => {
    const { manager } = await userManager();
    expect(manager.mode).toBe("user");
    expect(manager.modeReason).toBe("user-mode networking requested");
  });

  it("restricts sandboxes without egress and leaves those with egress unrestricted", async () => {
    const { manager, leases } = await userManager();
    const closed = await manager.attach("a", { egress: false });
    expect(closed).toEqual({
      mode: "user",
      mac: macFromSandboxId("a"),
      ip: "10.0.2.15",
      gateway: "10.0.2.2",
      prefix: 24,
      qemuArgs: userNetdevArgs(macFromSandboxId("a"), false),
    });
    expect(closed.qemuArgs[1]).toMatch(/,restrict=on$/);
    expect((await manager.attach("b", { egress: true })).qemuArgs[1]).not.toMatch(/restrict/);
    expect(leases.all()).toEqual([]);
  });

  it("refuses what slirp cannot enforce: allowlists and changing egress of a running VM", async () => {
    const { manager } = await userManager();
    await expect(manager.attach("a", { egress: ["192.0.2.0/24"] })).rejects.toThrow(
      /allowlists need bridge networking/,
    );
    await manager.attach("b", { egress: false });
    await expect(manager.setEgress("b", true)).rejects.toThrow(/restart it to change egress/);
  });

  it("refuses a network shared between forks, which slirp cannot provide", async () => {
    const { manager } = await userManager();
    await expect(manager.attach("a", { egress: false, peerGroup: "forks-of:p" })).rejects.toThrow(
      /a network shared between forks needs bridge networking/,
    );
  });

  it("rejects a malformed allowlist before doing anything", async () => {
    const { manager } = await userManager();
    await expect(manager.attach("a", { egress: ["10.0.0.1/8"] })).rejects.toThrow(/egress allowlist: .*host bits/);
  });

  it("rekey moves an attachment to a new id, keeping the MAC and QEMU arguments its VM runs with", async () => {
    const { manager } = await userManager();
    const entry = await manager.attach("pool-1", { egress: false });
    await manager.attach("other", { egress: false });
    expect(await manager.rekey("pool-1", "claimed", { egress: false })).toEqual(entry);
    await expect(manager.rekey("pool-1", "again", { egress: false })).rejects.toThrow(
      /pool-1 has no network attachment/,
    );
    await expect(manager.rekey("claimed", "other", { egress: false })).rejects.toThrow(/other already has/);
    await manager.detach("claimed");
    await expect(manager.rekey("claimed", "x", { egress: false })).rejects.toThrow(/no network attachment/);
  });

  it("rekey refuses to change egress in user mode (slirp fixes it when the VM starts)", async () => {
    const { manager } = await userManager();
    await manager.attach("pool-1", { egress: false });
    await expect(manager.rekey("pool-1", "claimed", { egress: true })).rejects.toThrow(/fixed when the VM starts/);
  });

  it("detaches idempotently, drops stale leases as orphans, and refuses work after shutdown", async () => {
    const leases = new MemoryLeaseStore([{ sandboxId: "gone", ip: "10.91.0.2", mac: "52:54:00:5b:00:02" }]);
    const manager = await NetworkManager.start({ leases, mode: "user" });
    await manager.attach("a", { egress: false });
    await manager.detach("a");
    await manager.detach("a");
    await manager.cleanupOrphans(["a"]);
    expect(leases.all()).toEqual([]);
    await manager.shutdown();
    await expect(manager.attach("a", { egress: false })).rejects.toThrow(/shut down/);
  });
});
