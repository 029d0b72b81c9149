import { afterEach, describe, expect, it } from "vitest";
import { exited, fakeAgent, fakeSandboxHost } from "../testing/fake-sandbox-host.js";
import { reidentify, setGuestClock, writeIdentity } from "./guest-setup.js";
import type { NetAttachment } from "./ports.js";

const bridged: NetAttachment = {
  mode: "bridge",
  mac: "52:54:00:12:34:56",
  ip: "10.0.0.5",
  gateway: "10.0.0.1",
  prefix: 24,
  qemuArgs: [],
};

describe("guest setup", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>> | undefined;
  afterEach(() => host?.close());

  it("gives a guest its hostname, a fresh machine id and entropy through files alone", async () => {
    const guest = fakeAgent();
    await writeIdentity(guest.agent, "web-1");
    await writeIdentity(guest.agent, "web-1");
    expect(guest.calls.filter((c) => !c.startsWith("write"))).toEqual([]);
    expect(guest.files.get("/etc/hostname")?.toString()).toBe("web-1\n");
    expect(guest.files.get("/etc/machine-id")?.toString()).toMatch(/^[0-9a-f]{32}\n$/);
    expect(guest.calls).toContain("write /dev/urandom");
  });

  it("sets the guest clock to the second and says why when it cannot", async () => {
    const guest = fakeAgent();
    await setGuestClock(guest.agent);
    expect(guest.calls[0]).toMatch(/^date -u -s @\d+$/);
    guest.answer = () => exited(1, "", "date: cannot set date: Operation not permitted\n");
    await expect(setGuestClock(guest.agent)).rejects.toThrow(
      "setting the guest clock failed: date: cannot set date: Operation not permitted",
    );
  });

  it("moves a bridged clone onto its own address, and fails when the guest cannot", async () => {
    host = await fakeSandboxHost();
    const row = await host.insert({ id: "clone", name: "clone-1" });
    await reidentify(host.ctx, row, bridged);
    const script = host.guest.calls.find((c) => c.startsWith("exec "));
    expect(script).toContain("ip addr add 10.0.0.5/24 dev eth0");
    host.guest.answer = (argv) => (argv[0] === "sh" ? exited(2, "", "RTNETLINK answers: File exists") : exited(0));
    await expect(reidentify(host.ctx, row, bridged)).rejects.toThrow(
      "re-identifying the clone failed: RTNETLINK answers: File exists",
    );
  });
});
