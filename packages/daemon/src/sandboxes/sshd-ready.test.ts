import { describe, expect, it } from "vitest";
import { fakeAgent } from "../testing/fake-sandbox-host.js";
import { sshdListening, waitForSshd } from "./sshd-ready.js";

const HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const LISTEN_22 = `${HEADER}   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1480 1 0 100 0 0 10 0\n`;
const LISTEN_8080 = `${HEADER}   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1481 1 0 100 0 0 10 0\n`;
const LISTEN6_22 = `${HEADER}   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1482 1 0 100 0 0 10 0\n`;
const CONNECTED_22 = `${HEADER}   0: 0200000A:0016 0100000A:B7E8 01 00000000:00000000 00:00000000 00000000     0        0 1483 1 0 20 0 0 10 -1\n`;

describe("sshdListening", () => {
  it("is true only for a TCP socket in LISTEN on port 22, over IPv4 or IPv6", async () => {
    const guest = fakeAgent();
    expect(await sshdListening(guest.agent)).toBe(false);
    guest.files.set("/proc/net/tcp", Buffer.from(LISTEN_8080));
    expect(await sshdListening(guest.agent)).toBe(false);
    guest.files.set("/proc/net/tcp", Buffer.from(CONNECTED_22));
    expect(await sshdListening(guest.agent)).toBe(false);
    guest.files.set("/proc/net/tcp6", Buffer.from(LISTEN6_22));
    expect(await sshdListening(guest.agent)).toBe(true);
    guest.files.delete("/proc/net/tcp6");
    guest.files.set("/proc/net/tcp", Buffer.from(LISTEN_22));
    expect(await sshdListening(guest.agent)).toBe(true);
  });
});

describe("waitForSshd", () => {
  it("returns once sshd starts listening", async () => {
    const guest = fakeAgent();
    setTimeout(() => guest.files.set("/proc/net/tcp", Buffer.from(LISTEN_22)), 50);
    const started = Date.now();
    await waitForSshd(guest.agent, "s1", { timeoutMs: 5_000, intervalMs: 10 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("fails with invalid_state naming the sandbox when sshd never listens within the bound", async () => {
    const guest = fakeAgent();
    await expect(waitForSshd(guest.agent, "s1", { timeoutMs: 100, intervalMs: 10 })).rejects.toMatchObject({
      code: "invalid_state",
      message: expect.stringMatching(/sshd in sandbox s1 is not listening on port 22/),
    });
  });
});
