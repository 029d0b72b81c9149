import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { PlaybookRunResult } from "../ansible/run-playbook.js";
import { SourceError } from "../remote/source-error.js";
import type { SshCertificateAuthority } from "../remote/ssh-certificates.js";
import { APPLY_PRINCIPAL } from "../sources/apply-principal.js";
import type { SourceHost } from "../sources/source-host.js";
import { keyIdFor, PolicyRefusal, type VmAccess } from "../sources/vm-access.js";

const run = promisify(execFile);

export const MAX_APPLY_PLAYBOOK_BYTES = 1024 * 1024;
export const DEFAULT_APPLY_TIMEOUT_SECONDS = 900;
/** The longest run, bounded by the longest certificate the CA issues. */
export const MAX_APPLY_TIMEOUT_SECONDS = 3600;
/** The CA's shortest certificate. */
const MIN_CERT_TTL_SECONDS = 60;

export interface ApplyRequest {
  playbookYaml: string;
  /** `--check --diff`: report what would change, change nothing. */
  check: boolean;
  /** 0: DEFAULT_APPLY_TIMEOUT_SECONDS. */
  timeoutSeconds: number;
  actor?: string | undefined;
  /** What the control plane says of the source host; the daemon refuses without it. */
  applyEnabled: boolean;
}

/**
 * Runs ansible-playbook against host `hostAlias` of `sshConfigFile`: an ssh_config whose connection
 * to the VM is already open and authenticated (ssh multiplexes over it; `privateKey` is the run's
 * key, should ssh have to log in again).
 */
export type SourcePlaybookExecutor = (input: {
  sshConfigFile: string;
  hostAlias: string;
  privateKey: string;
  playbookYaml: string;
  check: boolean;
  timeoutSeconds: number;
}) => Promise<PlaybookRunResult>;

/**
 * Applies a playbook to a source VM as root: the one write path to production, opt-in per source
 * host (apply-principal.ts installs what the VM accepts). Each run gets a fresh key and a
 * certificate for it (principal fluid-apply, valid for the run's timeout, key id naming the VM and
 * who asked); the key only lives in memory and in the connection's private temp files, which go
 * when the run ends, so the certificate is never usable again. The VM is reached through its
 * libvirt host with the host keys pinned, exactly as the read-only access reaches it.
 */
export class ApplyAccess {
  constructor(
    private readonly deps: {
      ca: SshCertificateAuthority;
      access: Pick<VmAccess, "vmRunner">;
      execute: SourcePlaybookExecutor;
    },
  ) {}

  async apply(host: SourceHost, vm: string, request: ApplyRequest): Promise<PlaybookRunResult> {
    if (!request.applyEnabled) {
      throw new PolicyRefusal(
        `applying changes is not enabled for source host ${host.id}: its VMs are read-only until the host's owner enables apply`,
      );
    }
    const timeoutSeconds = applyTimeout(request.timeoutSeconds);
    if (!request.playbookYaml.trim()) throw new SourceError("invalid_request", "the playbook is empty");
    if (Buffer.byteLength(request.playbookYaml) > MAX_APPLY_PLAYBOOK_BYTES) {
      throw new SourceError("invalid_request", `playbooks are limited to ${MAX_APPLY_PLAYBOOK_BYTES} bytes`);
    }
    const login = await this.oneTimeLogin(vm, request.actor, timeoutSeconds);
    const runner = await this.deps.access.vmRunner(host, vm, login);
    const opened = await runner.open();
    try {
      return await this.deps.execute({
        sshConfigFile: opened.configFile,
        hostAlias: opened.hostAlias,
        privateKey: login.privateKey,
        playbookYaml: request.playbookYaml,
        check: request.check,
        timeoutSeconds,
      });
    } finally {
      await opened.close();
    }
  }

  /** A fresh Ed25519 key (read into memory, its files removed at once) and its one-run certificate. */
  private async oneTimeLogin(vm: string, actor: string | undefined, timeoutSeconds: number) {
    const dir = await mkdtemp(join(tmpdir(), "fluid-apply-"));
    try {
      const keyFile = join(dir, "key");
      await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${APPLY_PRINCIPAL}@${vm}`, "-f", keyFile]);
      const issued = this.deps.ca.issue({
        publicKey: (await readFile(`${keyFile}.pub`, "utf8")).trim(),
        keyId: keyIdFor(vm, actor, APPLY_PRINCIPAL),
        principals: [APPLY_PRINCIPAL],
        ttlSeconds: Math.max(MIN_CERT_TTL_SECONDS, timeoutSeconds),
      });
      return { user: "root", privateKey: await readFile(keyFile, "utf8"), certificate: issued.certificate };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** The run's time limit in seconds (and the certificate's lifetime): 1-3600, 0 for the default. */
export function applyTimeout(requested: number): number {
  const seconds = requested === 0 ? DEFAULT_APPLY_TIMEOUT_SECONDS : requested;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_APPLY_TIMEOUT_SECONDS) {
    throw new SourceError("invalid_request", `timeout must be 1-${MAX_APPLY_TIMEOUT_SECONDS} seconds`);
  }
  return seconds;
}
