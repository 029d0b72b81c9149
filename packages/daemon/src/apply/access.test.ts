import { execFile } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PlaybookRunResult } from "../ansible/run-playbook.js";
import { ImageStore } from "../images/store.js";
import { SourceError } from "../remote/source-error.js";
import { SshCertificateAuthority } from "../remote/ssh-certificates.js";
import { type SourceHost, SourceHosts } from "../sources/source-host.js";
import { PolicyRefusal, VmAccess } from "../sources/vm-access.js";
import { createFakeSourceHost, FAKE_PRIVATE_KEY, type FakeSourceHost } from "../testing/fake-source-host.js";
import { ApplyAccess, type SourcePlaybookExecutor } from "./access.js";

const run = promisify(execFile);
const agentTable = " eth0       52:54:00:fa:07:02    ipv4         10.0.0.5/24";
const jumpHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFx1Gp7O0KsWbtP+oYdC1vU9Hdg3yXfrxb5ZpC3ZSZ3O";
const outcome: PlaybookRunResult = {
  exitCode: 0,
  recap: { ok: 2, changed: 1, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 },
  log: "PLAY RECAP",
  logTruncated: false,
  durationMs: 5,
  timedOut: false,
};

/** What the executor saw while the run's connection was open. */
interface Seen {
  input: Parameters<SourcePlaybookExecutor>[0];
  config: string;
  certificate: string;
  /** `ssh-keygen -L` of the certificate. */
  certificateText: string;
  keyMode: number;
  dirMode: number;
}

describe("ApplyAccess (fake ssh, fake ansible)", () => {
  let fake: FakeSourceHost;
  let host: SourceHost;
  let apply: ApplyAccess;
  let seen: Seen[];
  let failExecutor: boolean;

  beforeEach(async () => {
    seen = [];
    failExecutor = false;
    fake = await createFakeSourceHost({
      domains: { web: { state: "running", disks: [], ifaddr: { agent: agentTable } } },
    });
    const hosts = new SourceHosts({
      stateDir: join(fake.dir, "state"),
      images: new ImageStore(join(fake.dir, "images")),
      ssh: { sshBinary: fake.sshBinary },
    });
    host = hosts.connect({
      id: "kvm1",
      ssh: { host: "kvm1", user: "root", privateKey: FAKE_PRIVATE_KEY, hostKeys: [jumpHostKey] },
    });
    const ca = SshCertificateAuthority.generate();
    const access = new VmAccess({ ca, knownHostsFile: hosts.knownHostsFile, sshBinary: fake.sshBinary });
    apply = new ApplyAccess({
      ca,
      access,
      execute: async (input) => {
        const config = await readFile(input.sshConfigFile, "utf8");
        const certificateFile = /CertificateFile "([^"]+)"/.exec(config)?.[1] ?? "";
        const keyFile = /IdentityFile "([^"]+key)"/.exec(config)?.[1] ?? "";
        const certificateText = (await run("ssh-keygen", ["-L", "-f", certificateFile])).stdout;
        seen.push({
          input,
          config,
          certificate: await readFile(certificateFile, "utf8"),
          certificateText,
          keyMode: (await stat(keyFile)).mode & 0o777,
          dirMode: (await stat(join(input.sshConfigFile, ".."))).mode & 0o777,
        });
        if (failExecutor) throw new Error("ansible-playbook could not start");
        return outcome;
      },
    });
  });

  afterEach(() => fake.cleanup());

  const request = { playbookYaml: "- hosts: all\n  tasks: []\n", check: true, timeoutSeconds: 300, actor: "user:u1" };

  it("refuses when the source host does not enable apply, before any connection or certificate", async () => {
    const err = await apply.apply(host, "web", { ...request, applyEnabled: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyRefusal);
    expect((err as Error).message).toMatch(/not enabled for source host kvm1/);
    expect(await fake.sshCalls()).toEqual([]);
    expect(seen).toEqual([]);
  });

  it("logs in as root with a fresh certificate: principal fluid-apply, key id naming VM and asker, valid for the run's timeout", async () => {
    expect(await apply.apply(host, "web", { ...request, applyEnabled: true })).toEqual(outcome);
    const [run] = seen;
    const text = run?.certificateText ?? "";
    expect(text).toMatch(/Key ID: "fluid-apply:web:user:u1"/);
    expect(text).toMatch(/Principals: \n\s+fluid-apply\n\s+Critical Options: \(none\)/);
    // No forwarding of any kind is granted by the certificate.
    expect(text).toMatch(/Extensions: \n\s+permit-pty\n/);
    const [from, to] = [...text.matchAll(/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)/g)].map((m) => Date.parse(`${m[1]}Z`));
    // ssh-keygen prints local time; the machine's zone shifts both ends alike, so the span is exact.
    expect(((to ?? 0) - (from ?? 0)) / 1000).toBe(300 + 60);
    expect(run?.input).toMatchObject({ hostAlias: "fluid-source", check: true, timeoutSeconds: 300 });
  });

  it("a second run gets another key and certificate (each is for one run only)", async () => {
    await apply.apply(host, "web", { ...request, applyEnabled: true });
    await apply.apply(host, "web", { ...request, applyEnabled: true });
    expect(seen).toHaveLength(2);
    expect(seen[0]?.certificate).not.toBe(seen[1]?.certificate);
    expect(seen[0]?.certificate.split(" ")[1]).not.toBe(seen[1]?.certificate.split(" ")[1]);
  });

  it("reaches the VM through its libvirt host with the host's key pinned, as root, without agent or forwarding", async () => {
    await apply.apply(host, "web", { ...request, applyEnabled: true });
    const config = seen[0]?.config ?? "";
    expect(config).toMatch(
      /Host fluid-source\n\s+HostName 10\.0\.0\.5\n\s+Port 22\n\s+User root\n\s+ProxyJump fluid-jump\n/,
    );
    expect(config).toMatch(/Host fluid-jump\n\s+HostName kvm1\n[\s\S]*StrictHostKeyChecking yes/);
    for (const line of ["ForwardAgent no", "IdentityAgent none", "ClearAllForwardings yes", "BatchMode yes"]) {
      expect(config).toContain(`  ${line}\n`);
    }
    expect(config).not.toContain("PRIVATE KEY");
    expect(seen[0]?.keyMode).toBe(0o600);
    expect(seen[0]?.dirMode).toBe(0o700);
  });

  it("removes the run's key, certificate and ssh config afterwards, also when the run fails", async () => {
    await apply.apply(host, "web", { ...request, applyEnabled: true });
    failExecutor = true;
    await expect(apply.apply(host, "web", { ...request, applyEnabled: true })).rejects.toThrow(/could not start/);
    for (const run of seen) {
      await expect(stat(run.input.sshConfigFile)).rejects.toThrow(/ENOENT/);
    }
    // The connection was closed each time.
    const closed = (await fake.sshCalls()).filter(
      (c) => c.control === "exit" && c.config.includes("User root\n  ProxyJump"),
    );
    expect(closed).toHaveLength(2);
  });

  it("refuses an empty playbook and a timeout beyond the longest certificate", async () => {
    const enabled = { ...request, applyEnabled: true };
    await expect(apply.apply(host, "web", { ...enabled, playbookYaml: " \n" })).rejects.toBeInstanceOf(SourceError);
    await expect(apply.apply(host, "web", { ...enabled, timeoutSeconds: 3601 })).rejects.toThrow(/1-3600 seconds/);
    expect(seen).toEqual([]);
  });
});
