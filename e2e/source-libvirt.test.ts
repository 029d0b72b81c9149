import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ApplyAccess } from "../packages/daemon/dist/apply/access.js";
import { runApplyPlaybook } from "../packages/daemon/dist/apply/playbook-run.js";
import { sourceImageName } from "../packages/daemon/dist/clone/source-images.js";
// The daemon as built (dist), the same code the fluid-daemon binary runs.
import { ImageStore } from "../packages/daemon/dist/images/store.js";
import { SshCertificateAuthority } from "../packages/daemon/dist/remote/ssh-certificates.js";
import { parseHostKeys } from "../packages/daemon/dist/remote/ssh-config.js";
import { SshError } from "../packages/daemon/dist/remote/ssh-error.js";
import { SshRunner } from "../packages/daemon/dist/remote/ssh-runner.js";
import { SourceHosts } from "../packages/daemon/dist/sources/source-host.js";
import { PolicyRefusal, VmAccess } from "../packages/daemon/dist/sources/vm-access.js";
import { checkDrift } from "../packages/server/dist/sources/drift.js";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { buildImage } from "./lib/global-setup.js";
import { type LibvirtHost, missingForLibvirtHost, startLibvirtHost } from "./lib/libvirt-host.js";
import { freePort } from "./lib/processes.js";
import { startServer, type TestServerProcess } from "./lib/server.js";

const missing = missingForLibvirtHost();
// Per run, so a leftover from a killed run (or another run on the machine) cannot get in the way.
const RUN = randomBytes(3).toString("hex");
const SUBNET = `10.93.${64 + (Number.parseInt(RUN.slice(0, 2), 16) % 128)}`;
const BRIDGE = `flsrc${RUN}`;
const HOST_IP = `${SUBNET}.1`;
const VM_IP = `${SUBNET}.2`;
const VM = "fluid-e2e-src";

function tscKhz(): number | undefined {
  const mhz = /^cpu MHz\s*:\s*([\d.]+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1];
  return mhz ? Math.round(Number(mhz) * 1000) : undefined;
}

/** Copies one member of a .deb's data archive to `output` (dpkg-deb | tar, no shell). */
async function extractFromDeb(deb: string, member: string, output: string): Promise<void> {
  const dpkg = spawn("dpkg-deb", ["--fsys-tarfile", deb], { stdio: ["ignore", "pipe", "inherit"] });
  const tar = spawn("tar", ["-xO", member], { stdio: ["pipe", "pipe", "inherit"] });
  dpkg.stdout.pipe(tar.stdin);
  const codes = Promise.all(
    [dpkg, tar].map((child) => new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))),
  );
  await pipeline(tar.stdout, createWriteStream(output));
  const [a, b] = await codes;
  if (a !== 0 || b !== 0) throw new Error(`extracting ${member} from ${deb} failed (${a}, ${b})`);
}

function domainXml(options: { kernel: string; initrd: string; disk: string; serial: string }): string {
  const tsc = tscKhz();
  const cmdline = [
    "console=ttyS0 panic=-1 quiet mitigations=off",
    ...(tsc ? [`tsc_early_khz=${tsc}`] : []),
    "root=/dev/vda rw rootfstype=ext4",
    `fluid.hostname=${VM} fluid.net=${VM_IP}/24,${HOST_IP}`,
  ].join(" ");
  return `<domain type='qemu'>
  <name>${VM}</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${options.kernel}</kernel>
    <initrd>${options.initrd}</initrd>
    <cmdline>${cmdline}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${options.disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='bridge'>
      <source bridge='${BRIDGE}'/>
      <mac address='52:54:00:93:90:02'/>
      <model type='virtio'/>
    </interface>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <serial type='file'><source path='${options.serial}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "ignore" });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A real libvirt source host driven through the whole system: the control plane holds the source
 * host (its key encrypted), a daemon connected over the gRPC stream reaches it over SSH. libvirtd
 * runs directly (private mount namespace) with a TCG domain booted from the debian-12 image, and
 * sshd on loopback is its SSH endpoint. One domain, one server and one daemon serve the file.
 */
describe.skipIf(missing.length > 0)(
  `libvirt source host through server, stream and daemon: discover, prepare, inspect, pull, clone, apply${missing.length > 0 ? ` (skipped: needs ${missing.join(", ")})` : ""}`,
  () => {
    let dir: string;
    let libvirt: LibvirtHost;
    let store: ImageStore;
    let server: TestServerProcess | undefined;
    let daemon: TestDaemonProcess | undefined;
    let key: string;
    let ownerCookie: string;
    let sourceHostId: string;
    let vmKey: string;
    let sourceDisk: string;
    let marker: string;
    let bridgeCreated = false;
    const timings: Record<string, number> = {};
    const vmPath = (suffix = "") => `/v1/orgs/acme/source-hosts/${sourceHostId}/vms/${VM}${suffix}`;
    const api = (method: string, path: string, body?: unknown) => {
      if (!server) throw new Error("no server");
      return server.call(method, path, { key, ...(body === undefined ? {} : { body }) });
    };

    const inVm = (command: string) =>
      spawnSync(
        "ssh",
        [
          "-i",
          vmKey,
          "-o",
          "BatchMode=yes",
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "ConnectTimeout=5",
          "-o",
          "LogLevel=ERROR",
          `root@${VM_IP}`,
          command,
        ],
        { encoding: "utf8", timeout: 60_000 },
      );

    beforeAll(async () => {
      const imageDir = inject("imageDir");
      buildImage("debian-12", imageDir);
      store = new ImageStore(imageDir);
      const image = await store.get("debian-12");
      const version = image.manifest.kernelVersion;
      const debs = join(store.cacheDir, "debs");
      const deb = (await readdir(debs)).find((name) => name.startsWith(`linux-image-${version}_`));
      if (!deb) throw new Error(`no linux-image-${version} package in ${debs}`);

      dir = await mkdtemp(join(tmpdir(), "fluid-e2e-libvirt-"));
      let started = Date.now();
      // The source VM's disk: debian-12 with an authorized key for root, its kernel in /boot (as
      // a normal VM has) and a marker file, written with debugfs (nothing is mounted).
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", join(dir, "vm_key")]);
      vmKey = join(dir, "vm_key");
      await extractFromDeb(join(debs, deb), `./boot/vmlinuz-${version}`, join(dir, "vmlinuz"));
      marker = `source marker ${randomBytes(8).toString("hex")}\n`;
      await writeFile(join(dir, "marker"), marker);
      await writeFile(join(dir, "app.conf"), "db_host=db.internal\ndb_password=hunter2\n");
      const raw = join(dir, "source.raw");
      execFileSync("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", image.disk, raw]);
      await writeFile(
        join(dir, "plant.cmds"),
        [
          "mkdir /root/.ssh",
          "sif /root/.ssh mode 040700",
          `write ${join(dir, "vm_key.pub")} /root/.ssh/authorized_keys`,
          "sif /root/.ssh/authorized_keys mode 0100600",
          `write ${join(dir, "vmlinuz")} /boot/vmlinuz-${version}`,
          `write ${join(dir, "marker")} /etc/fluid-source-marker`,
          `write ${join(dir, "app.conf")} /etc/fluid-app.conf`,
          "",
        ].join("\n"),
      );
      execFileSync("debugfs", ["-w", "-f", join(dir, "plant.cmds"), raw], { stdio: "ignore" });
      await mkdir(join(dir, "vm"));
      sourceDisk = join(dir, "vm", "source.qcow2");
      execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, sourceDisk]);
      await rm(raw);
      timings.diskPrep = Date.now() - started;

      ip("link", "add", BRIDGE, "type", "bridge");
      bridgeCreated = true;
      ip("addr", "add", `${HOST_IP}/24`, "dev", BRIDGE);
      ip("link", "set", BRIDGE, "up");

      started = Date.now();
      libvirt = await startLibvirtHost(dir);
      timings.libvirtdAndSshd = Date.now() - started;
      started = Date.now();
      const xml = join(dir, "domain.xml");
      await writeFile(
        xml,
        domainXml({ kernel: image.kernel, initrd: image.initrd, disk: sourceDisk, serial: join(dir, "serial.log") }),
      );
      libvirt.virsh("define", xml);
      libvirt.virsh("start", VM);

      // The control plane and a daemon connected to it come up while the domain boots.
      started = Date.now();
      server = await startServer({ env: { FLUID_ENCRYPTION_KEY: randomBytes(32).toString("hex") } });
      ({ key, cookie: ownerCookie } = await server.bootstrap("acme"));
      const token = await api("POST", "/v1/orgs/acme/hosts/tokens", { name: "e2e-sources" });
      // Bridged (on a subnet apart from the libvirt network's): verifying a change request runs ansible-playbook
      // from this host into a clone over SSH, which user-mode networking cannot reach.
      daemon = await startDaemon({
        network: "bridge",
        bridge: "fle2esrc0",
        subnet: "10.92.40.0/24",
        extraArgs: ["--server", server.grpc, "--insecure", "--token", token.body.token],
      });
      for (let i = 0; (await api("GET", "/v1/orgs/acme/hosts")).body.hosts?.[0]?.status !== "ONLINE"; i++) {
        if (i > 150) throw new Error("the daemon did not come online");
        await sleep(200);
      }
      const registered = await api("POST", "/v1/orgs/acme/source-hosts", {
        type: "libvirt",
        name: "kvm-e2e",
        hostname: "127.0.0.1",
        ssh_port: libvirt.sshPort,
        ssh_user: "root",
        ssh_private_key: libvirt.userKey,
        // Given here, the daemon accepts exactly this key for the host instead of the first it sees.
        ssh_host_key: libvirt.hostKey,
      });
      expect(registered.status, JSON.stringify(registered.body)).toBe(201);
      sourceHostId = registered.body.id;
      timings.serverAndDaemon = Date.now() - started;

      const deadline = Date.now() + 180_000;
      while (inVm("true").status !== 0) {
        if (Date.now() > deadline) {
          const serial = await readFile(join(dir, "serial.log"), "utf8").catch(() => "");
          throw new Error(`the source VM did not come up:\n${serial.slice(-3000)}`);
        }
        await sleep(500);
      }
      timings.domainBootToSsh = Date.now() - started;
      // Something the guest wrote while running: the pull must capture the live disk.
      expect(inVm("echo written-live > /root/written-live && sync").status).toBe(0);
    });

    afterAll(async () => {
      console.log(`source-libvirt timings (ms): ${JSON.stringify(timings)}`);
      await daemon?.dispose();
      await server?.dispose();
      await libvirt?.stop();
      if (bridgeCreated) ip("link", "del", BRIDGE);
      if (sourceHostId) await store.remove(sourceImageName(sourceHostId, VM)).catch(() => undefined);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("discovers the running domain, with the address its guest agent reports", async () => {
      const started = Date.now();
      const list = await api("GET", `/v1/orgs/acme/source-hosts/${sourceHostId}/vms`);
      timings.listVMs = Date.now() - started;
      expect(list.status, JSON.stringify(list.body)).toBe(200);
      expect(list.body.vms).toEqual([
        { name: VM, state: "running", ip_address: VM_IP, prepared: false, cached_captured_at: null },
      ]);
      // The key the control plane holds was used, not one learned on first contact.
      const learned = await readFile(join(daemon?.stateDir ?? "", "sources", "known_hosts"), "utf8").catch(() => "");
      expect(learned).not.toContain(`[127.0.0.1]:${libvirt.sshPort}`);
    });

    it("prepares the VM for read-only access, and can prepare it again", async () => {
      const login = { ssh_user: "root", ssh_private_key: await readFile(vmKey, "utf8") };
      const started = Date.now();
      const prepared = await api("POST", vmPath("/prepare"), login);
      timings.prepare = Date.now() - started;
      expect(prepared.status, JSON.stringify(prepared.body)).toBe(200);
      expect(prepared.body).toMatchObject({
        source_vm: VM,
        prepared: true,
        steps: {
          shell_installed: true,
          user_created: true,
          ca_key_installed: true,
          principals_created: true,
          sshd_configured: true,
          sshd_restarted: true,
        },
      });
      for (let i = 0; i < 20 && inVm("true").status !== 0; i++) await sleep(500);
      expect(inVm("grep ^fluid-readonly: /etc/passwd").stdout).toMatch(/:\/usr\/local\/bin\/fluid-readonly-shell$/m);
      expect((await api("POST", vmPath("/prepare"), login)).body).toMatchObject({ prepared: true });
      const list = await api("GET", `/v1/orgs/acme/source-hosts/${sourceHostId}/vms`);
      expect(list.body.vms).toEqual([expect.objectContaining({ name: VM, prepared: true })]);
    });

    it("runs allowed commands as fluid-readonly with a CA certificate, and returns secrets redacted", async () => {
      const run = (command: string) => api("POST", vmPath("/run"), { command, timeout_seconds: 30 });
      let started = Date.now();
      expect((await run("id -un")).body).toMatchObject({ exit_code: 0, stdout: "fluid-readonly\n" });
      timings.firstCommand = Date.now() - started;
      started = Date.now();
      expect((await run("uname -s")).body).toMatchObject({ exit_code: 0, stdout: "Linux\n" });
      timings.nextCommand = Date.now() - started;
      expect((await run("cat /etc/fluid-source-marker | tr a-z A-Z")).body.stdout).toBe(marker.toUpperCase());
      const listing = await api("POST", vmPath("/inspect"), { kind: "list_dir", path: "/etc" });
      expect(listing.body).toMatchObject({ exit_code: 0, command: "ls -la -- '/etc'" });
      expect(listing.body.stdout).toMatch(/ fluid-source-marker\n/);
      const file = await api("GET", `${vmPath("/file")}?path=/etc/fluid-source-marker`);
      expect(file.body).toMatchObject({ encoding: "utf-8", content: marker });
      // Secrets are redacted on the sandbox host, before anything reaches the control plane.
      const config = await api("GET", `${vmPath("/file")}?path=/etc/fluid-app.conf`);
      expect(config.body.content).toBe("db_host=db.internal\ndb_password=[REDACTED]\n");
      expect((await run("grep db_ /etc/fluid-app.conf")).body.stdout).toBe(
        "db_host=db.internal\ndb_password=[REDACTED]\n",
      );
    });

    it("refuses writes (403, audited), and the VM's own shell refuses them when the daemon is bypassed", async () => {
      const touch = await api("POST", vmPath("/run"), { command: "touch /tmp/pwned" });
      expect(touch.status).toBe(403);
      expect(touch.body.error.code).toBe("command_refused");
      expect((await api("GET", `${vmPath("/file")}?path=/etc/shadow`)).status).toBe(403);
      const audit = await api("GET", `/v1/orgs/acme/source-commands?source_host_id=${sourceHostId}`);
      expect(audit.body.source_commands).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ vm: VM, kind: "run", command: "touch /tmp/pwned", outcome: "refused" }),
          expect.objectContaining({ vm: VM, kind: "read_file", command: "/etc/shadow", outcome: "refused" }),
          expect.objectContaining({ vm: VM, kind: "run", command: "id -un", outcome: "ok", exit_code: 0 }),
        ]),
      );

      // Layer 2 on its own: a certificate from the daemon's CA, the command sent without fluid's check.
      const ca = SshCertificateAuthority.fromPem(await readFile(join(daemon?.stateDir ?? "", "ssh_ca.pem"), "utf8"));
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "ro_key")]);
      const certificate = ca.issue({
        publicKey: await readFile(join(dir, "ro_key.pub"), "utf8"),
        keyId: "e2e-bypass",
        principals: ["fluid-readonly"],
        ttlSeconds: 120,
      }).certificate;
      const direct = new SshRunner(
        {
          host: VM_IP,
          user: "fluid-readonly",
          privateKey: await readFile(join(dir, "ro_key"), "utf8"),
          certificate,
          proxyJump: { host: "127.0.0.1", port: libvirt.sshPort, user: "root", privateKey: libvirt.userKey },
        },
        { knownHostsFile: join(dir, "bypass_known_hosts") },
      );
      const bypass = await direct.run(["touch /tmp/pwned"], { rawLine: true, check: false });
      expect(bypass.code).toBe(126);
      expect(bypass.stderr).toMatch(/^refused: /);
      expect(inVm("test -e /tmp/pwned").status).toBe(1);
    });

    it("clones the VM into a sandbox: pulls with progress, restores the disk chain, and the clone's changes stay in it", async () => {
      const before = libvirt.virsh("domblklist", VM, "--details");
      const markerBefore = inVm("sha256sum /etc/fluid-source-marker /root/written-live").stdout;
      let started = Date.now();
      const accepted = await api("POST", "/v1/orgs/acme/sandboxes?wait=false", {
        source_vm: VM,
        source_host_id: sourceHostId,
        memory_mb: 512,
      });
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
      const id = accepted.body.id as string;
      const phases = new Set<string>();
      let sandbox = accepted.body;
      while (sandbox.state === "CREATING") {
        if (Date.now() - started > 600_000) throw new Error("the sandbox is still CREATING after 10 minutes");
        await sleep(200);
        sandbox = (await api("GET", `/v1/orgs/acme/sandboxes/${id}`)).body;
        if (sandbox.progress) phases.add(sandbox.progress.phase);
      }
      timings.pullAndBoot = Date.now() - started;
      expect(sandbox, JSON.stringify(sandbox)).toMatchObject({
        state: "RUNNING",
        source_vm: VM,
        source_host_id: sourceHostId,
        progress: null,
      });
      // Progress came from the host over the stream: at least the boot, usually copy phases too.
      expect(phases.has("boot"), [...phases].join()).toBe(true);
      for (const phase of phases)
        expect(["snapshot", "copy", "commit", "flatten", "boot-files", "boot"]).toContain(phase);

      // The production VM is back on exactly the disks it had, with no overlay or pull journal left.
      expect(libvirt.virsh("domblklist", VM, "--details")).toBe(before);
      expect(await readdir(join(dir, "vm"))).toEqual(["source.qcow2"]);
      expect(await readdir(join(daemon?.stateDir ?? "", "sources", "pulls"))).toEqual([]);
      const check = spawnSync("qemu-img", ["check", "-U", sourceDisk], { encoding: "utf8" });
      expect(check.status, check.stdout + check.stderr).toBe(0);

      const run = async (command: string) =>
        (await api("POST", `/v1/orgs/acme/sandboxes/${id}/run`, { command, timeout_seconds: 60 })).body;
      expect((await run("cat /etc/fluid-source-marker /root/written-live")).stdout).toBe(`${marker}written-live\n`);
      started = Date.now();
      const change = await run(
        "echo changed-in-sandbox >> /etc/fluid-source-marker && echo from-sandbox > /root/sandbox-only && sync && cat /root/sandbox-only",
      );
      timings.sandboxChange = Date.now() - started;
      expect(change).toMatchObject({ exit_code: 0, stdout: "from-sandbox\n" });
      const machineId = (await run("cat /etc/machine-id")).stdout;
      expect(machineId.trim()).toMatch(/^[0-9a-f]{32}$/);
      expect(machineId).not.toBe(inVm("cat /etc/machine-id").stdout);

      expect(inVm("test -e /root/sandbox-only").status).toBe(1);
      expect(inVm("sha256sum /etc/fluid-source-marker /root/written-live").stdout).toBe(markerBefore);
      expect(inVm("cat /etc/fluid-source-marker").stdout).toBe(marker);

      // The pull is cached on the daemon's host, with where it came from and what hygiene removed.
      const cached = await new SourceHosts({ stateDir: join(dir, "probe-state"), images: store })
        .connect({ id: sourceHostId, ssh: { host: "127.0.0.1", user: "root", privateKey: libvirt.userKey } })
        .cached(VM);
      expect(cached).toMatchObject({
        image: sourceImageName(sourceHostId, VM),
        hostId: sourceHostId,
        vm: VM,
        disk: { target: "vda", path: sourceDisk },
        kernelFrom: "disk",
        initrdFrom: "image:debian-12",
        rootDevice: "/dev/vda",
        fluidGuest: true,
      });
      expect(cached?.scrubbed).toEqual(expect.arrayContaining(["/etc/ssh/ssh_host_ed25519_key", "/etc/machine-id"]));
      // How stale a clone is shows on the sandbox and, for the next one, in the VM list.
      expect(sandbox.source_captured_at).toBe(cached?.capturedAt);
      const listed = await api("GET", `/v1/orgs/acme/source-hosts/${sourceHostId}/vms`);
      expect(listed.body.vms).toEqual([expect.objectContaining({ name: VM, cached_captured_at: cached?.capturedAt })]);
      expect((await api("DELETE", `/v1/orgs/acme/sandboxes/${id}`)).body.state).toBe("DESTROYED");
    });

    /** The daemon's own apply path (ApplyAccess with its CA), as its ApplyPlaybookCommand handler runs it. */
    const daemonApply = async () => {
      const ca = SshCertificateAuthority.fromPem(await readFile(join(daemon?.stateDir ?? "", "ssh_ca.pem"), "utf8"));
      const hosts = new SourceHosts({ stateDir: join(dir, "apply-state"), images: store });
      const host = hosts.connect({
        id: sourceHostId,
        ssh: {
          host: "127.0.0.1",
          port: libvirt.sshPort,
          user: "root",
          privateKey: libvirt.userKey,
          hostKeys: parseHostKeys(libvirt.hostKey),
        },
      });
      const access = new VmAccess({ ca, knownHostsFile: hosts.knownHostsFile });
      return { ca, host, apply: new ApplyAccess({ ca, access, execute: runApplyPlaybook }) };
    };
    /** Root's login with a fluid-apply certificate from the daemon's CA, straight to sshd (no fluid check). */
    const rootLoginWithApplyCertificate = async (ca: InstanceType<typeof SshCertificateAuthority>) => {
      const keyFile = join(dir, `apply_key_${randomBytes(3).toString("hex")}`);
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile]);
      const certificate = ca.issue({
        publicKey: await readFile(`${keyFile}.pub`, "utf8"),
        keyId: "e2e-apply-direct",
        principals: ["fluid-apply"],
        ttlSeconds: 120,
      }).certificate;
      const direct = new SshRunner(
        {
          host: VM_IP,
          user: "root",
          privateKey: await readFile(keyFile, "utf8"),
          certificate,
          proxyJump: { host: "127.0.0.1", port: libvirt.sshPort, user: "root", privateKey: libvirt.userKey },
        },
        { knownHostsFile: join(dir, "apply_direct_known_hosts"), connectTimeoutSeconds: 15 },
      );
      return direct.run(["id", "-un"]).then(
        (result) => result.stdout.trim(),
        (err: unknown) => (err instanceof SshError ? err.kind : String(err)),
      );
    };
    const owner = (method: string, path: string, body?: unknown) =>
      server?.call(method, path, { cookie: ownerCookie, ...(body === undefined ? {} : { body }) }) ??
      Promise.reject(new Error("no server"));
    const vmLogin = async () => ({ ssh_user: "root", ssh_private_key: await readFile(vmKey, "utf8") });
    const target = "/etc/fluid-apply-target";
    const content = `applied by fluid ${RUN}\n`;
    const playbook = [
      "- hosts: all",
      "  gather_facts: false",
      "  tasks:",
      "    - name: the one file this change writes",
      "      ansible.builtin.copy:",
      `        dest: ${target}`,
      `        content: ${JSON.stringify(content)}`,
      "        owner: root",
      "        group: root",
      '        mode: "0644"',
      "",
    ].join("\n");
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    /** The server's drift check, its read-only commands sent through the REST API like any caller's. */
    const drift = (expected: { path: string; sha256: string }[]) =>
      checkDrift(
        {
          run: async (_scope: unknown, _host: string, _vm: string, command: string, timeout_seconds: number) => {
            const res = await api("POST", vmPath("/run"), { command, timeout_seconds });
            if (res.status !== 200) throw new Error(`${command}: ${res.status} ${JSON.stringify(res.body)}`);
            return res.body;
          },
        } as never,
        {} as never,
        sourceHostId,
        VM,
        expected,
      );

    it("a source host is read-only until its owner enables apply: no route prepares it for apply, root refuses fluid-apply certificates", async () => {
      expect((await api("GET", `/v1/orgs/acme/source-hosts/${sourceHostId}`)).body.apply_enabled).toBe(false);
      const refused = await api("POST", vmPath("/prepare"), { ...(await vmLogin()), apply: true });
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toContain("applying changes is not enabled");
      // An admin's key cannot enable it; only the owner can.
      expect((await api("PUT", `/v1/orgs/acme/source-hosts/${sourceHostId}/apply`, { enabled: true })).status).toBe(
        403,
      );
      const { ca, host, apply } = await daemonApply();
      await expect(
        apply.apply(host, VM, { playbookYaml: playbook, check: false, timeoutSeconds: 120, applyEnabled: false }),
      ).rejects.toBeInstanceOf(PolicyRefusal);
      expect(await rootLoginWithApplyCertificate(ca)).toBe("auth_failed");
      expect(inVm(`test -e ${target}`).status).toBe(1);
    });

    it("enabled and prepared for apply: check mode shows the change and changes nothing, the run applies it, drift is detected", async () => {
      const enabled = await owner("PUT", `/v1/orgs/acme/source-hosts/${sourceHostId}/apply`, { enabled: true });
      expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
      expect(enabled.body.apply_enabled).toBe(true);
      let started = Date.now();
      const prepared = await api("POST", vmPath("/prepare"), { ...(await vmLogin()), apply: true });
      timings.prepareWithApply = Date.now() - started;
      expect(prepared.status, JSON.stringify(prepared.body)).toBe(200);
      expect(prepared.body.steps).toMatchObject({ apply_access_installed: true, sshd_restarted: true });
      for (let i = 0; i < 20 && inVm("true").status !== 0; i++) await sleep(500);
      expect(inVm("cat /etc/ssh/fluid_principals/root").stdout).toBe("fluid-apply\n");

      const { host, apply } = await daemonApply();
      const request = { playbookYaml: playbook, timeoutSeconds: 300, actor: "user:e2e", applyEnabled: true };
      started = Date.now();
      const check = await apply.apply(host, VM, { ...request, check: true });
      timings.applyCheck = Date.now() - started;
      expect(check.exitCode, check.log).toBe(0);
      expect(check.recap).toMatchObject({ changed: 1, failed: 0, unreachable: 0 });
      expect(check.log).toContain(`+${content.trim()}`);
      expect((await api("GET", `${vmPath("/file")}?path=${target}`)).status).toBe(404);

      started = Date.now();
      const applied = await apply.apply(host, VM, { ...request, check: false });
      timings.apply = Date.now() - started;
      expect(applied.exitCode, applied.log).toBe(0);
      expect(applied.recap).toMatchObject({ changed: 1, failed: 0 });
      // Read back through the read-only access.
      expect((await api("GET", `${vmPath("/file")}?path=${target}`)).body).toMatchObject({ content });
      // Applied again, nothing changes: the file is as the playbook wants it.
      const again = await apply.apply(host, VM, { ...request, check: false });
      expect(again.recap).toMatchObject({ changed: 0, failed: 0 });

      const expected = [
        { path: target, sha256: sha(content) },
        { path: "/etc/fluid-source-marker", sha256: sha(marker) },
        { path: "/etc/fluid-never-there", sha256: "absent" },
      ];
      started = Date.now();
      expect(await drift(expected)).toEqual([]);
      timings.driftCheck = Date.now() - started;
      expect(inVm(`echo edited out of band >> ${target}`).status).toBe(0);
      expect(await drift(expected)).toEqual([
        { path: target, expected: sha(content), actual: sha(`${content}edited out of band\n`) },
      ]);
    });

    it("through the API: a change request made in a clone is verified, checked on the VM, refused on drift, then applied once", {
      timeout: 1_500_000,
    }, async () => {
      // Self-approval on: this test is about applying; the two-person rule is e2e/review.test.ts's.
      expect((await owner("PATCH", "/v1/orgs/acme", { allow_self_approval: true })).status).toBe(200);
      const created = await api("POST", "/v1/orgs/acme/sandboxes", {
        source_vm: VM,
        source_host_id: sourceHostId,
        memory_mb: 512,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const line = `changed-through-a-change-request ${RUN}`;
      const edit = await api("POST", `/v1/orgs/acme/sandboxes/${created.body.id}/run`, {
        command: `echo '${line}' >> /etc/fluid-source-marker`,
        timeout_seconds: 60,
      });
      expect(edit.body.exit_code).toBe(0);
      const cr = await api("POST", "/v1/orgs/acme/change-requests", {
        sandbox_id: created.body.id,
        title: "One more line in the marker",
      });
      expect(cr.status, JSON.stringify(cr.body)).toBe(201);
      expect(cr.body.source).toMatchObject({ kind: "source_vm", vm: VM, source_host_id: sourceHostId });
      const url = `/v1/orgs/acme/change-requests/${cr.body.id}`;
      let started = Date.now();
      expect((await api("POST", `${url}/verify`)).status).toBe(202);
      let shown = (await api("GET", url)).body;
      while (shown.state === "verifying") {
        if (Date.now() - started > 1_200_000) throw new Error("still verifying after 20 minutes");
        await sleep(2000);
        shown = (await api("GET", url)).body;
      }
      timings.verifySourceClone = Date.now() - started;
      expect(shown.verification, JSON.stringify(shown.verification)).toMatchObject({ passed: true, equivalent: true });
      const approved = await api("POST", `${url}/approve`, {
        diff_hash: shown.diff_hash,
        playbook_hash: shown.playbook_hash,
      });
      expect(approved.body.state).toBe("approved");

      const before = inVm("cat /etc/fluid-source-marker").stdout;
      started = Date.now();
      const checked = await api("POST", `${url}/apply`, { check_only: true });
      timings.applyCheckViaApi = Date.now() - started;
      expect(checked.status, JSON.stringify(checked.body)).toBe(200);
      expect(checked.body.result).toMatchObject({ outcome: "checked", drift: [] });
      expect(checked.body.result.check.log_excerpt).toContain(`+${line}`);
      expect(inVm("cat /etc/fluid-source-marker").stdout).toBe(before);

      // Production changed behind fluid's back: the change no longer applies as verified.
      expect(inVm("echo out-of-band >> /etc/fluid-source-marker").status).toBe(0);
      const drifted = await api("POST", `${url}/apply`, {});
      expect(drifted.status).toBe(409);
      expect(drifted.body.error.message).toContain("/etc/fluid-source-marker");
      expect(inVm("cat /etc/fluid-source-marker").stdout).toBe(`${before}out-of-band\n`);
      expect(inVm("sed -i '$d' /etc/fluid-source-marker").status).toBe(0);

      started = Date.now();
      const applied = await api("POST", `${url}/apply`, {});
      timings.applyViaApi = Date.now() - started;
      expect(applied.status, JSON.stringify(applied.body)).toBe(200);
      expect(applied.body.result).toMatchObject({ outcome: "applied", apply: { exit_code: 0 } });
      expect(applied.body.change_request.state).toBe("applied");
      expect(inVm("cat /etc/fluid-source-marker").stdout).toBe(`${before}${line}\n`);
      expect((await api("POST", `${url}/apply`, {})).status).toBe(409);
      await api("DELETE", `/v1/orgs/acme/sandboxes/${created.body.id}`);
    });

    it("turned off and prepared again without apply, root refuses fluid-apply certificates even if a daemon were told otherwise", async () => {
      const disabled = await owner("PUT", `/v1/orgs/acme/source-hosts/${sourceHostId}/apply`, { enabled: false });
      expect(disabled.body.apply_enabled).toBe(false);
      const prepared = await api("POST", vmPath("/prepare"), await vmLogin());
      expect(prepared.status, JSON.stringify(prepared.body)).toBe(200);
      expect(prepared.body.steps.apply_access_installed).toBe(false);
      for (let i = 0; i < 20 && inVm("true").status !== 0; i++) await sleep(500);
      expect(
        inVm("test -e /etc/ssh/fluid_principals/root || test -e /etc/ssh/sshd_config.d/fluid-apply.conf").status,
      ).toBe(1);

      const { ca, host, apply } = await daemonApply();
      const before = inVm(`sha256sum ${target}`).stdout;
      await expect(
        apply.apply(host, VM, { playbookYaml: playbook, check: false, timeoutSeconds: 120, applyEnabled: false }),
      ).rejects.toBeInstanceOf(PolicyRefusal);
      // Past the daemon's own check, the VM's sshd is the last word: no root login.
      const forced = await apply
        .apply(host, VM, { playbookYaml: playbook, check: false, timeoutSeconds: 120, applyEnabled: true })
        .catch((err: unknown) => err);
      expect(forced).toBeInstanceOf(SshError);
      expect((forced as InstanceType<typeof SshError>).kind).toBe("auth_failed");
      expect(await rootLoginWithApplyCertificate(ca)).toBe("auth_failed");
      expect(inVm(`sha256sum ${target}`).stdout).toBe(before);
      // Read-only access is unchanged.
      expect((await api("POST", vmPath("/run"), { command: "id -un" })).body.stdout).toBe("fluid-readonly\n");
    });
  },
);

/** The SSH runner against a real OpenSSH server: host key pinning and its typed failures. */
describe.skipIf(missing.includes("root") || !existsSync("/usr/sbin/sshd"))(
  "SshRunner against a real sshd (needs root and openssh-server)",
  () => {
    let dir: string;
    let port: number;
    let sshd: ReturnType<typeof spawn> | undefined;
    let userKey: string;

    const startSshd = async (hostKey: string) => {
      await writeFile(
        join(dir, "sshd_config"),
        [
          `ListenAddress 127.0.0.1:${port}`,
          `HostKey ${join(dir, hostKey)}`,
          `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
          "PidFile none",
          "UsePAM no",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "PermitRootLogin prohibit-password",
          "StrictModes no",
          "",
        ].join("\n"),
      );
      await mkdir("/run/sshd", { recursive: true });
      sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: "ignore" });
      for (let i = 0; i < 100; i++) {
        const probe = spawnSync("ssh-keyscan", ["-p", String(port), "127.0.0.1"], { timeout: 2000 });
        if (probe.status === 0 && probe.stdout.length > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error("sshd did not start");
    };

    const stopSshd = async () => {
      if (!sshd || sshd.exitCode !== null) return;
      const exited = new Promise((resolve) => sshd?.once("exit", resolve));
      sshd.kill("SIGTERM");
      await exited;
    };

    const runner = (key: string, knownHosts = join(dir, "state", "known_hosts"), targetPort = port) =>
      new SshRunner(
        { host: "127.0.0.1", port: targetPort, user: "root", privateKey: key },
        { knownHostsFile: knownHosts, connectTimeoutSeconds: 5 },
      );

    const failure = async (promise: Promise<unknown>) => {
      const err = await promise.then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(err).toBeInstanceOf(SshError);
      return (err as InstanceType<typeof SshError>).kind;
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "fluid-e2e-sshd-"));
      for (const name of ["host_a", "host_b", "user", "stranger"]) {
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", join(dir, name)]);
      }
      await writeFile(join(dir, "authorized_keys"), await readFile(join(dir, "user.pub")), { mode: 0o600 });
      userKey = await readFile(join(dir, "user"), "utf8");
      port = await freePort();
      await startSshd("host_a");
    });

    afterAll(async () => {
      await stopSshd();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("pins the host key on first use and runs argv verbatim", async () => {
      const result = await runner(userKey).run(["printf", "%s|", "a b", "$(id)", "it's"]);
      expect(result.stdout).toBe("a b|$(id)|it's|");
      const pinned = await readFile(join(dir, "state", "known_hosts"), "utf8");
      expect(pinned).toContain(`[127.0.0.1]:${port} ssh-ed25519 `);
      expect(pinned).toContain((await readFile(join(dir, "host_a.pub"), "utf8")).split(" ")[1]);
    });

    it("refuses a key the host does not accept (auth_failed) and a closed port (unreachable)", async () => {
      expect(await failure(runner(await readFile(join(dir, "stranger"), "utf8")).run(["true"]))).toBe("auth_failed");
      const closed = await freePort();
      expect(await failure(runner(userKey, join(dir, "other_known_hosts"), closed).run(["true"]))).toBe("unreachable");
    });

    it("with host keys given (from the control plane) accepts exactly those and learns nothing", async () => {
      const given = (await readFile(join(dir, "host_a.pub"), "utf8")).split(" ").slice(0, 2).join(" ");
      const other = (await readFile(join(dir, "host_b.pub"), "utf8")).split(" ").slice(0, 2).join(" ");
      const pins = join(dir, "given_state", "known_hosts");
      const pinned = (hostKeys: string[]) =>
        new SshRunner(
          { host: "127.0.0.1", port, user: "root", privateKey: userKey, hostKeys },
          { knownHostsFile: pins, connectTimeoutSeconds: 5 },
        );
      expect((await pinned([given]).run(["echo", "ok"])).stdout).toBe("ok\n");
      expect(await failure(pinned([other]).run(["true"]))).toBe("host_key_changed");
      expect(existsSync(pins)).toBe(false);
    });

    it("refuses the host once its key changed (host_key_changed)", async () => {
      await stopSshd();
      await startSshd("host_b");
      expect(await failure(runner(userKey).run(["true"]))).toBe("host_key_changed");
      // A runner with its own (empty) pin file accepts the new key.
      expect((await runner(userKey, join(dir, "fresh_known_hosts")).run(["echo", "ok"])).stdout).toBe("ok\n");
    });
  },
);
