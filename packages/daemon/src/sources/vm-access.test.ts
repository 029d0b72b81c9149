import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ImageStore } from "../images/store.js";
import { SshCertificateAuthority } from "../remote/ssh-certificates.js";
import { createFakeSourceHost, FAKE_PRIVATE_KEY, type FakeSourceHost } from "../testing/fake-source-host.js";
import { type SourceHost, SourceHosts } from "./source-host.js";
import { keyIdFor, VmAccess } from "./vm-access.js";

const agentTable = " eth0       52:54:00:fa:07:02    ipv4         10.0.0.5/24";

describe("VmAccess connections (fake ssh)", () => {
  let fake: FakeSourceHost;
  let host: SourceHost;
  let access: VmAccess;

  beforeEach(async () => {
    fake = await createFakeSourceHost({
      domains: {
        web: { state: "running", disks: [], ifaddr: { agent: agentTable } },
        db: { state: "running", disks: [], ifaddr: { agent: agentTable.replace("10.0.0.5", "10.0.0.6") } },
      },
    });
    const hosts = new SourceHosts({
      stateDir: join(fake.dir, "state"),
      images: new ImageStore(join(fake.dir, "images")),
      ssh: { sshBinary: fake.sshBinary },
    });
    host = hosts.connect({ id: "kvm1", ssh: { host: "kvm1", user: "root", privateKey: FAKE_PRIVATE_KEY } });
    access = new VmAccess({
      ca: SshCertificateAuthority.generate(),
      knownHostsFile: hosts.knownHostsFile,
      sshBinary: fake.sshBinary,
      idleMs: 100,
    });
  });

  afterEach(async () => {
    await access.close();
    await fake.cleanup();
  });

  const vmMasters = async (ip: string) =>
    (await fake.sshCalls()).filter((c) => c.master && c.config.includes(`HostName ${ip}\n`)).length;

  it("commands in a row share one connection to the VM and one address lookup", async () => {
    for (const word of ["one", "two", "three"]) {
      expect(await access.run(host, "web", `echo ${word}`, 5)).toEqual({
        exitCode: 0,
        stdout: `${word}\n`,
        stderr: "",
      });
    }
    expect(await vmMasters("10.0.0.5")).toBe(1);
    expect((await fake.virshCalls()).filter((call) => call.includes("dominfo"))).toHaveLength(1);
    // Another VM gets its own connection.
    await access.run(host, "db", "echo db", 5);
    expect(await vmMasters("10.0.0.6")).toBe(1);
  });

  it("closes an idle connection and opens a new one for the next command", async () => {
    await access.run(host, "web", "echo one", 5);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const closed = (await fake.sshCalls()).filter(
      (c) => c.control === "exit" && c.config.includes("HostName 10.0.0.5\n"),
    );
    expect(closed).toHaveLength(1);
    await access.run(host, "web", "echo two", 5);
    expect(await vmMasters("10.0.0.5")).toBe(2);
  });

  it("each asker gets a connection of their own (their certificate's key id names them)", async () => {
    await access.run(host, "web", "echo a", 5, "user:u1");
    await access.run(host, "web", "echo b", 5, "user:u1");
    await access.run(host, "web", "echo c", 5, "user:u2/key:k9");
    expect(await vmMasters("10.0.0.5")).toBe(2);
  });

  it("close() stops every kept connection", async () => {
    await access.run(host, "web", "echo one", 5);
    await access.close();
    const closed = (await fake.sshCalls()).filter(
      (c) => c.control === "exit" && c.config.includes("HostName 10.0.0.5\n"),
    );
    expect(closed).toHaveLength(1);
  });
});

describe("keyIdFor", () => {
  it("names purpose, VM and asker; an asker a log line should not carry becomes unknown", () => {
    expect(keyIdFor("web-1", "user:0190-ab/key:0190-cd")).toBe("fluid-readonly:web-1:user:0190-ab/key:0190-cd");
    expect(keyIdFor("web-1", undefined)).toBe("fluid-readonly:web-1:unknown");
    expect(keyIdFor("web-1", "user:x\nforged log line")).toBe("fluid-readonly:web-1:unknown");
    expect(keyIdFor("web-1", "a b")).toBe("fluid-readonly:web-1:unknown");
  });
});
