import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFakeSourceHost, FAKE_PRIVATE_KEY, type FakeSourceHost } from "../testing/fake-source-host.js";
import { type SshTarget, validateTarget } from "./ssh-config.js";
import { SshError } from "./ssh-error.js";
import { SshRunner } from "./ssh-runner.js";

const target: SshTarget = { host: "kvm1.example.com", port: 2222, user: "fluid", privateKey: FAKE_PRIVATE_KEY };

async function sshError(promise: Promise<unknown>): Promise<SshError> {
  const err = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(err).toBeInstanceOf(SshError);
  return err as SshError;
}

describe("SshRunner (against a fake ssh)", () => {
  let fake: FakeSourceHost;
  let runner: SshRunner;
  let temp: string;

  beforeEach(async () => {
    fake = await createFakeSourceHost();
    temp = join(fake.dir, "tmp");
    await import("node:fs/promises").then((fs) => fs.mkdir(temp));
    runner = new SshRunner(target, {
      knownHostsFile: join(fake.dir, "state", "sources", "known_hosts"),
      sshBinary: fake.sshBinary,
      tempDir: temp,
      connectTimeoutSeconds: 7,
    });
  });

  afterEach(async () => {
    await fake.cleanup();
  });

  it("passes an argument vector through the remote shell unchanged", async () => {
    const argv = ["printf", "%s\\n", "$(id)", "a b", "it's", ";ls", "*"];
    const result = await runner.run(argv);
    expect(result.stdout).toBe("$(id)\na b\nit's\n;ls\n*\n");
    const calls = await fake.sshCalls();
    const command = calls.find((call) => !call.master && !call.control);
    expect(command?.command).toBe("'printf' '%s\\n' '$(id)' 'a b' 'it'\\''s' ';ls' '*'");
  });

  it("pins host keys in the state dir, in batch mode, with no user or system ssh config", async () => {
    await runner.run(["true"]);
    const [master] = await fake.sshCalls();
    expect(master?.master).toBe(true);
    expect(master?.argv.slice(0, 2)[0]).toBe("-F");
    const config = master?.config ?? "";
    for (const line of [
      "HostName kvm1.example.com",
      "Port 2222",
      "User fluid",
      "StrictHostKeyChecking accept-new",
      `UserKnownHostsFile "${join(fake.dir, "state", "sources", "known_hosts")}"`,
      "GlobalKnownHostsFile /dev/null",
      "BatchMode yes",
      "IdentitiesOnly yes",
      "IdentityAgent none",
      "ConnectTimeout 7",
      "ForwardAgent no",
    ]) {
      expect(config).toContain(line);
    }
    expect(config).not.toContain("ProxyJump");
    expect(existsSync(join(fake.dir, "state", "sources"))).toBe(true);
  });

  it("adds a jump host through ProxyJump", async () => {
    const jumped = new SshRunner(
      { ...target, proxyJump: { host: "bastion.example.com", user: "jump", port: 22 } },
      { knownHostsFile: join(fake.dir, "kh"), sshBinary: fake.sshBinary, tempDir: temp },
    );
    await jumped.run(["true"]);
    const [master] = await fake.sshCalls();
    expect(master?.config).toMatch(/Host fluid-jump\n {2}HostName bastion.example.com\n {2}Port 22\n {2}User jump/);
    expect(master?.config).toContain("ProxyJump fluid-jump");
  });

  it("accepts only the host keys it was given, per host, instead of trusting the first key seen", async () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOr7kPVbLOBR7yNX8bYnm4PgqLqvQ5m1y7vCzvZ8nE1x";
    const pinned = new SshRunner(
      { ...target, hostKeys: [key], proxyJump: { host: "bastion.example.com", user: "jump" } },
      { knownHostsFile: join(fake.dir, "kh"), sshBinary: fake.sshBinary, tempDir: temp },
    );
    await pinned.run(["true"]);
    const [master] = await fake.sshCalls();
    const config = master?.config ?? "";
    const [jumpBlock = "", targetBlock = "", rest = ""] = config.split(/^Host /m).slice(1);
    expect(jumpBlock).not.toContain("HostKeyAlias");
    expect(targetBlock).toContain("HostKeyAlias fluid-source");
    expect(targetBlock).toContain("StrictHostKeyChecking yes");
    expect(targetBlock).toMatch(/UserKnownHostsFile ".*given_known_hosts"/);
    expect(rest).toContain("StrictHostKeyChecking accept-new");
  });

  it("keeps the private key in a 0600 file only while the session is open", async () => {
    await runner.session(async (session) => {
      await session.run(["true"]);
      await session.run(["true"]);
    });
    const calls = await fake.sshCalls();
    expect(calls.length).toBe(4); // master, two commands, -O exit
    for (const call of calls.slice(0, 3)) expect(call.keyMode).toBe(0o600);
    expect(calls[3]?.control).toBe("exit");
    expect(existsSync(calls[0]?.keyFile ?? "/nonexistent")).toBe(false);
    expect(await readdir(temp)).toEqual([]);
  });

  it("removes the key and stops the master when the work fails", async () => {
    await expect(
      runner.session(async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const calls = await fake.sshCalls();
    expect(calls.at(-1)?.control).toBe("exit");
    expect(await readdir(temp)).toEqual([]);
  });

  it("reports a non-zero remote exit as command_failed with the exit code and stderr", async () => {
    const err = await sshError(runner.run(["sh", "-c", "echo nope >&2; exit 3"]));
    expect(err.kind).toBe("command_failed");
    expect(err.exitCode).toBe(3);
    expect(err.stderr).toBe("nope\n");
    expect(err.message).toContain("nope");
    const result = await runner.run(["sh", "-c", "exit 4"], { check: false });
    expect(result.code).toBe(4);
  });

  it("classifies connection failures", async () => {
    const cases: Array<[string, string]> = [
      ["fluid@kvm1.example.com: Permission denied (publickey).\n", "auth_failed"],
      [
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n",
        "host_key_changed",
      ],
      ["ssh: connect to host kvm1.example.com port 2222: Connection refused\n", "unreachable"],
      ["ssh: Could not resolve hostname kvm1.example.com: Name or service not known\n", "unreachable"],
    ];
    for (const [stderr, kind] of cases) {
      await fake.failConnection(stderr);
      const err = await sshError(runner.run(["true"]));
      expect(err.kind, stderr).toBe(kind);
    }
    expect(await readdir(temp)).toEqual([]);
  });

  it("kills a command past its timeout, and one whose output passes the cap", async () => {
    expect((await sshError(runner.run(["sleep", "3"], { timeoutMs: 300 }))).kind).toBe("timeout");
    const big = await sshError(runner.run(["head", "-c", "100000", "/dev/zero"], { maxOutputBytes: 1000 }));
    expect(big.kind).toBe("output_too_large");
  });

  it("streams a command's output to a file with progress", async () => {
    const file = join(fake.dir, "out.bin");
    const seen: number[] = [];
    const bytes = await runner.session((session) =>
      session.streamToFile(["head", "-c", "300000", "/dev/zero"], file, { onBytes: (n) => seen.push(n) }),
    );
    expect(bytes).toBe(300_000);
    expect(seen.at(-1)).toBe(300_000);
    const failed = await sshError(
      runner.session((session) => session.streamToFile(["sh", "-c", "echo partial; exit 2"], file)),
    );
    expect(failed.kind).toBe("command_failed");
  });

  it("refuses targets that could smuggle options into ssh or its config, before running anything", async () => {
    const bad: Array<Partial<SshTarget>> = [
      { host: "-oProxyCommand=touch /tmp/x" },
      { host: "a b" },
      { host: "host\nProxyCommand x" },
      { user: "root\nProxyCommand x" },
      { user: "-l" },
      { port: 0 },
      { port: 70000 },
      { privateKey: "not a key" },
      { proxyJump: { host: "x;y", user: "u" } },
    ];
    for (const change of bad) {
      expect(() => validateTarget({ ...target, ...change }), JSON.stringify(change)).toThrow(SshError);
      expect(
        () => new SshRunner({ ...target, ...change }, { knownHostsFile: "/x", sshBinary: fake.sshBinary }),
      ).toThrow(/must be|invalid|private key/);
    }
    expect(await fake.sshCalls()).toEqual([]);
  });
});
