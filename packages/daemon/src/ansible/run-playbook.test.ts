import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageStore } from "../images/store.js";
import { NetworkManager } from "../network/manager.js";
import { SshCertificateAuthority } from "../remote/ssh-certificates.js";
import { SandboxManager } from "../sandboxes/manager.js";
import { type DaemonDatabase, openDaemonDatabase } from "../state/database.js";
import { sqliteLeaseStore } from "../state/sqlite-leases.js";
import { decideAccel, tscKhz } from "../vm/accel.js";
import { runPlaybook } from "./run-playbook.js";

const IMAGE_DIR = "/var/lib/fluid/images";
const ready =
  process.getuid?.() === 0 &&
  existsSync(join(IMAGE_DIR, "debian-12", "manifest.json")) &&
  existsSync("/usr/bin/ansible-playbook");

const writesConfig = `- hosts: all
  gather_facts: false
  tasks:
    - name: a config file
      ansible.builtin.copy:
        dest: /etc/fluid-runner-test.conf
        content: "listen 8080\\n"
        owner: root
        group: root
        mode: "0644"
`;

const checkOnly = writesConfig.replaceAll("/etc/fluid-runner-test.conf", "/etc/fluid-runner-check.conf");

const failsOnce = `- hosts: all
  gather_facts: false
  tasks:
    - name: a command that fails
      ansible.builtin.command: /bin/false
      changed_when: false
`;

/**
 * One debian-12 sandbox (bridge networking, so the host reaches its sshd) for every run: apply,
 * re-apply, check mode, failure. Needs root, the debian-12 image and ansible-core.
 */
describe.skipIf(!ready)("runPlaybook against a debian-12 sandbox (needs root, the debian-12 image, ansible)", () => {
  let scratch: string;
  let database: DaemonDatabase;
  let network: NetworkManager;
  let manager: SandboxManager;
  let sandboxId: string;
  const timings: string[] = [];
  const log = pino({ level: "warn" });
  /** A run takes tens of seconds under TCG on a loaded host. */
  const RUN_MS = 600_000;

  const timed = async (label: string, playbookYaml: string, check = false) => {
    const result = await runPlaybook(manager, sandboxId, { playbookYaml, check, timeoutSeconds: 600 });
    timings.push(`${label}: ${(result.durationMs / 1000).toFixed(1)} s`);
    return result;
  };

  let runsTmp: string;
  const hostTmp = process.env.TMPDIR;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "fluid-runner-test-"));
    // The runner's directories go under TMPDIR: a private one here, so other runs on the host
    // (an e2e's ansible, a killed daemon's leftovers) cannot make the cleanup check pass or fail.
    runsTmp = join(scratch, "tmp");
    await mkdir(runsTmp);
    process.env.TMPDIR = runsTmp;
    database = await openDaemonDatabase(join(scratch, "state.db"));
    network = await NetworkManager.start({
      mode: "bridge",
      bridge: "flansible0",
      subnet: "10.93.73.0/24",
      leases: sqliteLeaseStore(database.sqlite),
      log,
    });
    const cpuinfo = await readFile("/proc/cpuinfo", "utf8");
    manager = new SandboxManager({
      db: database.db,
      images: new ImageStore(IMAGE_DIR),
      network,
      log,
      stateDir: scratch,
      accel: (await decideAccel("auto", cpuinfo)).accel,
      tscKhz: tscKhz(cpuinfo),
      allocatableMemoryMb: 4096,
      sshCa: SshCertificateAuthority.generate(),
    });
    sandboxId = (await manager.create({ image: "debian-12", vcpus: 1, memoryMb: 512, allowEgress: false })).id;
  });

  afterAll(async () => {
    if (hostTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = hostTmp;
    if (sandboxId) await manager.destroy(sandboxId).catch(() => undefined);
    manager?.close();
    await network?.shutdown({ teardown: true });
    await database?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    console.log(`ansible-playbook runs against a debian-12 sandbox: ${timings.join(", ")}`);
  });

  const inEtc = async (name: string) => (await manager.listFiles(sandboxId, "/etc")).some((e) => e.name === name);

  it(
    "applies a playbook (changed >= 1), then finds nothing left to change (changed = 0)",
    async () => {
      const first = await timed("first run", writesConfig);
      expect(first, first.log).toMatchObject({ exitCode: 0, timedOut: false, recap: { failed: 0, unreachable: 0 } });
      expect(first.recap?.changed).toBeGreaterThanOrEqual(1);
      const file = await manager.readFile(sandboxId, "/etc/fluid-runner-test.conf", 4096);
      expect(file.data.toString()).toBe("listen 8080\n");

      const second = await timed("second run", writesConfig);
      expect(second, second.log).toMatchObject({ exitCode: 0, recap: { changed: 0, failed: 0 } });
    },
    RUN_MS,
  );

  it(
    "changes nothing in check mode, and shows the diff it would apply",
    async () => {
      const result = await timed("check mode", checkOnly, true);
      expect(result, result.log).toMatchObject({ exitCode: 0, recap: { changed: 1, failed: 0 } });
      expect(result.log).toContain("+listen 8080");
      expect(await inEtc("fluid-runner-check.conf")).toBe(false);
    },
    RUN_MS,
  );

  it(
    "reports a failing task as exit code 2 with failed = 1",
    async () => {
      const result = await timed("failing task", failsOnce);
      expect(result, result.log).toMatchObject({ exitCode: 2, recap: { failed: 1 }, timedOut: false });
      expect(result.log).toContain("FAILED!");
    },
    RUN_MS,
  );

  it("leaves no run directory behind on the host", async () => {
    expect(await readdir(runsTmp)).toEqual([]);
  });
});
