import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A stand-in for a libvirt host reached over SSH, for unit tests. `bin/ssh` is an executable that
 * records its argv and then runs the remote command line with `sh -c` (as sshd would hand it to the
 * login shell), with `bin/` first on PATH, so `virsh` is `bin/virsh`: a small libvirt simulator over
 * a JSON state file that records every call. qemu-img, stat, cat and rm are the real programs on
 * local files. Everything lives in one temp dir.
 */

export interface FakeDisk {
  type: string;
  device: string;
  target: string;
  source?: string | undefined;
  /** Set by the fake snapshot: what blockcommit goes back to. */
  backing?: string | undefined;
}

export interface FakeDomain {
  state: string;
  vcpus?: number;
  memoryKiB?: number;
  disks: FakeDisk[];
  macs?: string[];
  /** `virsh domifaddr --source <key>` output (the table); a missing key makes that source fail. */
  ifaddr?: Partial<Record<"lease" | "agent" | "arp", string>>;
}

export interface FakeFaults {
  /** snapshot-create-as fails (atomically: nothing changes). */
  snapshot?: boolean;
  /** Number of blockcommit calls that fail before they start working again (-1: always). */
  commitFailures?: number;
  /** After a successful blockcommit, the disk points here instead of back at its image. */
  sourceAfterCommit?: string;
}

export interface FakeLibvirtState {
  domains: Record<string, FakeDomain>;
  faults?: FakeFaults;
}

export interface FakeSshCall {
  argv: string[];
  /** The remote command line (what the login shell gets). */
  command: string;
  master: boolean;
  control: string | undefined;
  /** Permission bits of the IdentityFile while ssh ran (undefined if it was missing). */
  keyMode: number | undefined;
  keyFile: string | undefined;
  config: string;
}

export interface FakeSourceHost {
  dir: string;
  sshBinary: string;
  setLibvirt(state: FakeLibvirtState): Promise<void>;
  libvirt(): Promise<FakeLibvirtState>;
  /** Makes `ssh -M` (the connection) fail with this stderr and exit 255. */
  failConnection(stderr: string | undefined): Promise<void>;
  /** Replaces `cat` on the "host": prints `bytes` bytes, then fails. */
  failCat(bytes: number): Promise<void>;
  sshCalls(): Promise<FakeSshCall[]>;
  virshCalls(): Promise<string[][]>;
  cleanup(): Promise<void>;
}

export const FAKE_PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nZmFrZSBrZXkgZm9yIHRlc3Rz\n-----END OPENSSH PRIVATE KEY-----\n";

const fakeSsh = (node: string) => `#!${node}
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const home = path.dirname(__dirname);
const args = process.argv.slice(2);
let config = "", master = false, control, i = 0;
while (i < args.length) {
  const a = args[i];
  if (a === "-F") { config = args[i + 1]; i += 2; }
  else if (a === "-o") { i += 2; }
  else if (a === "-O") { control = args[i + 1]; i += 2; }
  else if (a === "-M") { master = true; i++; }
  else if (a === "-N" || a === "-T") { i++; }
  else break;
}
const command = args.slice(i + 1).join(" ");
const text = fs.readFileSync(config, "utf8");
const unq = (m) => (m ? m[1].replaceAll("%%", "%") : undefined);
const controlPath = unq(/ControlPath "([^"]*)"/.exec(text));
const keyFile = unq(/IdentityFile "([^"]*)"/.exec(text));
let keyMode;
try { keyMode = fs.statSync(keyFile).mode & 0o777; } catch {}
fs.appendFileSync(path.join(home, "ssh.log"), JSON.stringify({ argv: args, command, master, control, keyMode, keyFile, config: text }) + "\\n");
if (master) {
  const failure = path.join(home, "connect-failure");
  if (fs.existsSync(failure)) { process.stderr.write(fs.readFileSync(failure, "utf8")); process.exit(255); }
  fs.writeFileSync(controlPath, "");
  process.exit(0);
}
if (control === "exit") { fs.rmSync(controlPath, { force: true }); process.exit(0); }
const result = spawnSync("sh", ["-c", command], {
  stdio: "inherit",
  env: { ...process.env, PATH: path.join(home, "bin") + ":" + process.env.PATH },
});
process.exit(result.status === null ? 255 : result.status);
`;

const fakeVirsh = (node: string) => `#!${node}
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const home = path.dirname(__dirname);
const stateFile = path.join(home, "libvirt.json");
let args = process.argv.slice(2);
fs.appendFileSync(path.join(home, "virsh.log"), JSON.stringify(args) + "\\n");
if (args[0] === "-c") args = args.slice(2);
const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
const faults = state.faults || {};
const save = () => fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
const out = (text) => process.stdout.write(text);
const fail = (message) => { process.stderr.write("error: " + message + "\\n"); process.exit(1); };
const [cmd, name] = args;
if (cmd === "list") { out(Object.keys(state.domains).join("\\n") + "\\n\\n"); process.exit(0); }
const dom = state.domains[name];
if (!dom) fail("failed to get domain '" + name + "'");
switch (cmd) {
  case "dominfo":
    out("Id:             1\\nName:           " + name + "\\nState:          " + dom.state + "\\nCPU(s):         " + (dom.vcpus || 1) +
      "\\nMax memory:     " + (dom.memoryKiB || 524288) + " KiB\\nUsed memory:    " + (dom.memoryKiB || 524288) + " KiB\\nPersistent:     yes\\n\\n");
    break;
  case "domblklist":
    out(" Type   Device   Target   Source\\n-----------------------------------\\n");
    for (const d of dom.disks) out(" " + d.type + "   " + d.device + "   " + d.target + "   " + (d.source || "-") + "\\n");
    out("\\n");
    break;
  case "domiflist":
    out(" Interface   Type     Source    Model    MAC\\n------------------------------\\n");
    for (const [n, mac] of (dom.macs || []).entries()) out(" vnet" + n + "   bridge   br0   virtio   " + mac + "\\n");
    out("\\n");
    break;
  case "domifaddr": {
    const source = args[args.indexOf("--source") + 1];
    const table = (dom.ifaddr || {})[source];
    if (table === undefined) fail("Failed to query for interfaces addresses");
    out(" Name       MAC address          Protocol     Address\\n-------------------------------------------\\n" + table + "\\n");
    break;
  }
  case "snapshot-create-as": {
    if (!args.includes("--disk-only") || !args.includes("--atomic") || !args.includes("--no-metadata")) fail("fake: unexpected flags");
    if (faults.snapshot) fail("internal error: unable to execute QEMU command 'transaction'");
    const specs = [];
    args.forEach((a, i) => { if (a === "--diskspec") specs.push(args[i + 1]); });
    for (const spec of specs) {
      const parts = spec.replaceAll(",,", "\\u0000").split(",").map((p) => p.replaceAll("\\u0000", ","));
      const disk = dom.disks.find((d) => d.target === parts[0]);
      if (!disk) fail("fake: no disk " + parts[0]);
      const file = parts.find((p) => p.startsWith("file="));
      if (parts.includes("snapshot=external") && file) {
        const overlay = file.slice(5);
        const made = spawnSync("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", disk.source, overlay]);
        if (made.status !== 0) fs.writeFileSync(overlay, "overlay");
        disk.backing = disk.source;
        disk.source = overlay;
      }
    }
    save();
    out("Domain snapshot " + args[2] + " created\\n");
    break;
  }
  case "blockcommit": {
    const disk = dom.disks.find((d) => d.target === args[2]);
    for (const flag of ["--active", "--shallow", "--pivot"]) if (!args.includes(flag)) fail("fake: blockcommit without " + flag);
    if (!disk || !disk.backing) fail("fake: nothing to commit for " + args[2]);
    if (faults.commitFailures) {
      if (faults.commitFailures > 0) faults.commitFailures--;
      save();
      fail("internal error: unable to execute QEMU command 'block-commit'");
    }
    disk.source = faults.sourceAfterCommit || disk.backing;
    delete disk.backing;
    save();
    out("\\nSuccessfully pivoted\\n");
    break;
  }
  case "blockjob":
    out("No current block job for " + args[2] + "\\n");
    break;
  default:
    fail("fake virsh: unsupported command " + cmd);
}
`;

export async function createFakeSourceHost(state: FakeLibvirtState = { domains: {} }): Promise<FakeSourceHost> {
  const dir = await mkdtemp(join(tmpdir(), "fluid-fake-source-"));
  const bin = join(dir, "bin");
  await mkdir(bin);
  const install = async (name: string, text: string) => {
    await writeFile(join(bin, name), text);
    await chmod(join(bin, name), 0o755);
  };
  await install("ssh", fakeSsh(process.execPath));
  await install("virsh", fakeVirsh(process.execPath));
  await writeFile(join(dir, "libvirt.json"), JSON.stringify(state, null, 2));
  const lines = async (file: string) =>
    (await readFile(join(dir, file), "utf8").catch(() => ""))
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  return {
    dir,
    sshBinary: join(bin, "ssh"),
    setLibvirt: (next) => writeFile(join(dir, "libvirt.json"), JSON.stringify(next, null, 2)),
    libvirt: async () => JSON.parse(await readFile(join(dir, "libvirt.json"), "utf8")) as FakeLibvirtState,
    failConnection: async (stderr) => {
      if (stderr === undefined) await rm(join(dir, "connect-failure"), { force: true });
      else await writeFile(join(dir, "connect-failure"), stderr);
    },
    failCat: (bytes) =>
      install(
        "cat",
        `#!/bin/sh\nhead -c ${Math.floor(bytes)} /dev/zero\necho "cat: read error: Input/output error" >&2\nexit 1\n`,
      ),
    sshCalls: () => lines("ssh.log"),
    virshCalls: () => lines("virsh.log"),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
