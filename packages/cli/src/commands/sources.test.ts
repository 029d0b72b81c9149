import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

const privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

/** The test host answers source commands with one VM, web-1, refuses `rm`, and echoes files back. */
describe("fluid source", () => {
  let t: TestServer;
  let adminKey: string;
  let memberKey: string;
  let dir: string;
  let daemon: TestDaemon;

  const fluid = (key: string, ...args: string[]) =>
    runFluid(args, { env: { FLUID_CONFIG: join(dir, "config.json"), FLUID_SERVER: t.restUrl, FLUID_API_KEY: key } });

  beforeAll(async () => {
    t = await startTestServer("pglite", { encryptionKey: Buffer.alloc(32, 7) });
    const owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    adminKey = (await t.apiKey(owner, "acme", "admin")).key;
    memberKey = (await t.apiKey(owner, "acme", "member")).key;
    daemon = await TestDaemon.connect(t.grpcUrl, { token: (await t.hostToken(owner, "acme")).token, keepAlive: true });
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-sources-"));
  });

  afterAll(async () => {
    daemon.abort();
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("without source hosts, ls says so and exits 4", async () => {
    const none = await fluid(memberKey, "source", "ls");
    expect(none).toMatchObject({ code: 4, stderr: "fluid: no source hosts configured for this org\n" });
  });

  it("add reads the key file and stores it (admin only); hosts lists it without the key", async () => {
    await writeFile(join(dir, "id_ed25519"), privateKey, { mode: 0o600 });
    const denied = await fluid(memberKey, "source", "add", "kvm-1", "--hostname", "10.0.0.5");
    expect(denied.code).toBe(3);
    const added = await fluid(
      adminKey,
      "source",
      "add",
      "kvm-1",
      "--hostname",
      "10.0.0.5",
      "--key-file",
      join(dir, "id_ed25519"),
    );
    expect(added).toMatchObject({ code: 0 });
    expect(added.stdout).toMatch(/^Source host kvm-1 added/);
    const hosts = await fluid(memberKey, "source", "hosts");
    expect(hosts.stdout).toMatch(/kvm-1 +libvirt +10\.0\.0\.5:22 +root +stored +no/);
    expect(hosts.stdout).not.toContain("OPENSSH");
  });

  it("ls lists VMs as a table and as JSON", async () => {
    expect((await fluid(memberKey, "source", "ls")).stdout).toMatch(/kvm-1 +web-1 +running +192\.0\.2\.10 +no/);
    const json = JSON.parse((await fluid(memberKey, "--json", "source", "ls")).stdout);
    expect(json).toEqual({
      vms: [
        {
          source_host: "kvm-1",
          name: "web-1",
          state: "running",
          ip_address: "192.0.2.10",
          prepared: false,
          cached_captured_at: null,
        },
      ],
      count: 1,
      unreachable: [],
    });
  });

  it("run prints the output and exits with the command's status; a refused command exits 3 with the reason", async () => {
    const ran = await fluid(memberKey, "source", "run", "web-1", "--", "uptime");
    expect(ran).toMatchObject({ code: 0, stdout: "ran uptime\n" });
    const refused = await fluid(memberKey, "source", "run", "web-1", "--", "rm -rf /");
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("rm is not on the read-only allowlist");
  });

  it("inspect runs the typed inspection the server builds, with usage errors for what it lacks", async () => {
    const unit = await fluid(memberKey, "source", "inspect", "web-1", "unit", "nginx.service");
    expect(unit).toMatchObject({ code: 0, stdout: "ran systemctl status --no-pager --full -- 'nginx.service'\n" });
    const journal = JSON.parse(
      (
        await fluid(
          memberKey,
          "--json",
          "source",
          "inspect",
          "web-1",
          "journal",
          "--unit",
          "ssh.service",
          "--lines",
          "5",
        )
      ).stdout,
    );
    expect(journal).toMatchObject({ kind: "journal", command: "journalctl --no-pager -n 5 -u 'ssh.service'" });
    expect((await fluid(memberKey, "source", "inspect", "web-1", "dir")).code).toBe(2);
    expect((await fluid(memberKey, "source", "inspect", "web-1", "shell", "id")).code).toBe(2);
    const bad = await fluid(memberKey, "source", "inspect", "web-1", "stat", "relative");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("absolute path");
  });

  it("read prints the file; audit shows every call with its outcome", async () => {
    expect(await fluid(memberKey, "source", "read", "web-1", "/etc/os-release")).toMatchObject({
      code: 0,
      stdout: "ID=debian\n",
    });
    const audit = JSON.parse((await fluid(memberKey, "--json", "source", "audit", "--vm", "web-1")).stdout);
    expect(audit.source_commands.map((c: { kind: string; outcome: string }) => `${c.kind}:${c.outcome}`)).toEqual([
      "read_file:ok",
      "run:ok",
      "run:ok",
      "run:refused",
      "run:ok",
    ]);
  });

  it("sandbox create --source-host clones the VM: the host gets the credentials and pulls afresh with --fresh", async () => {
    const created = await fluid(memberKey, "--json", "sandbox", "create", "web-1", "--source-host", "kvm-1", "--fresh");
    expect(created.code, created.stdout).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ source_vm: "web-1", state: "RUNNING" });
    const sent = daemon.commands("createSandbox").at(-1)?.payload.value as Record<string, any>;
    expect(sent).toMatchObject({ sourceVm: "web-1", snapshotMode: 1, sourceHostConnection: { sshHost: "10.0.0.5" } });
    expect((await fluid(memberKey, "sandbox", "create", "web-1", "--fresh")).code).toBe(2);
  });

  it("prepare reports each step (admin only)", async () => {
    expect((await fluid(memberKey, "source", "prepare", "web-1")).code).toBe(3);
    const prepared = await fluid(adminKey, "source", "prepare", "web-1", "--user", "ops");
    expect(prepared.code).toBe(0);
    expect(prepared.stdout).toMatch(/sshd restarted +yes/);
  });
});
