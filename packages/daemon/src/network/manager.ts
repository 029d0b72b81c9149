import type { Logger } from "pino";
import { type Attachment, describeAttachment } from "./attachment.js";
import { DEFAULT_BRIDGE, ensureBridge, removeBridge } from "./bridge.js";
import { type EgressPolicy, type EgressRule, toEgressRule } from "./egress.js";
import { EgressNames } from "./egress-names.js";
import { applyFirewall, forwardingMarked, removeFirewall } from "./firewall.js";
import { firewallInput, type PortState } from "./firewall-input.js";
import { readIpForwarding, writeIpForwarding } from "./forwarding.js";
import { DEFAULT_SUBNET, Ipam } from "./ipam.js";
import type { Lease, LeaseStore } from "./leases.js";
import { macFromSandboxId } from "./mac.js";
import { tapName } from "./names.js";
import type { NetnsOption } from "./netns.js";
import type { Endpoint } from "./resolver.js";
import { deleteTap, ensureTap, listTaps, renameTap } from "./tap.js";

export type { Attachment } from "./attachment.js";
export type NetworkMode = "bridge" | "user";
export type NetworkPreference = "auto" | NetworkMode;

export interface NetworkManagerOptions extends NetnsOption {
  leases: LeaseStore;
  /** Default `fluid0`. */
  bridge?: string;
  /** Default 10.91.0.0/24. */
  subnet?: string;
  /** `auto` (default) uses a bridge when it can and falls back to user mode; the others insist. */
  mode?: NetworkPreference;
  /**
   * Egress of sandboxes whose VMs outlived a daemon restart. Their leases and TAPs are re-adopted
   * from the lease store either way; a sandbox missing here keeps running without egress until
   * setEgress() is called for it.
   */
  recovered?: readonly RecoveredSandbox[];
  /**
   * Bridge mode: run the resolver through which allowlisted names are looked up, on the bridge's
   * gateway address (UDP port 53 unless `port` says otherwise), forwarding to `upstream`.
   */
  resolver?: { upstream: Endpoint; port?: number };
  log?: Pick<Logger, "info" | "warn">;
}

/** A sandbox whose VM outlived a daemon restart, re-adopted by start(). */
export interface RecoveredSandbox {
  sandboxId: string;
  egress: EgressPolicy;
  peerGroup?: string | undefined;
}

interface Attached extends PortState {
  /** Bridge mode only. */
  lease?: Lease;
  /** User mode: the MAC its VM was started with, when it was attached under another id (see rekey). */
  mac?: string;
}

/**
 * Host networking for sandboxes. In bridge mode each sandbox gets a lease (IP + MAC) and a TAP on
 * the bridge, and one nftables ruleset enforces isolation and per-sandbox egress. In user mode
 * (not root, or no bridge possible) QEMU's slirp provides networking and egress is all or nothing.
 *
 * Operations run one at a time: each firewall update renders the whole state, and two interleaved
 * updates could otherwise install a stale one last.
 */
export class NetworkManager {
  private readonly ipam: Ipam;
  private readonly bridge: string;
  private readonly preference: NetworkPreference;
  private readonly netns: NetnsOption;
  private readonly log: Pick<Logger, "info" | "warn"> | undefined;
  private readonly attached = new Map<string, Attached>();
  private readonly names: EgressNames;
  private decision: { mode: NetworkMode; reason: string } | undefined;
  /** Set when fluid turned ip_forward on, so it turns it off again and never touches it otherwise. */
  private ownsForwarding = false;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(options: NetworkManagerOptions) {
    this.ipam = new Ipam(options.leases, options.subnet ?? DEFAULT_SUBNET);
    this.bridge = options.bridge ?? DEFAULT_BRIDGE;
    this.preference = options.mode ?? "auto";
    this.netns = options.netns ? { netns: options.netns } : {};
    this.log = options.log;
    this.names = new EgressNames({
      ...(options.resolver ? { resolver: options.resolver } : {}),
      ...this.netns,
      ...(options.log ? { log: options.log } : {}),
      sandboxAt: (ip) => {
        const found = this.attachedAt(ip);
        return found && { sandboxId: found[0], egress: found[1].egress };
      },
      serial: (task) => this.serial(task),
    });
  }

  /**
   * Decides the mode and, in bridge mode, sets up the bridge and the firewall. Every sandbox with a
   * lease gets its TAP back (kept as is when its VM is still running, recreated after a host reboot
   * so a stopped sandbox can start with its recorded QEMU arguments), and the first ruleset
   * installed already covers all of them, so surviving VMs never lose their network or isolation.
   * cleanupOrphans() afterwards drops the leases of sandboxes that no longer exist.
   */
  static async start(options: NetworkManagerOptions): Promise<NetworkManager> {
    const manager = new NetworkManager(options);
    const decision = await manager.decideMode(options.recovered ?? []);
    if (decision.mode === "user" && manager.preference === "auto") manager.log?.warn(decision, "sandbox network mode");
    else manager.log?.info(decision, "sandbox network mode");
    manager.decision = decision;
    return manager;
  }

  get mode(): NetworkMode {
    return this.started().mode;
  }

  /** Why start() chose the mode, for logs and the host's capability report. */
  get modeReason(): string {
    return this.started().reason;
  }

  /**
   * Idempotent: attaching an attached sandbox returns the same lease and TAP with the new egress.
   * Without a peerGroup the sandbox can reach no other sandbox, only the host side of the bridge.
   */
  attach(sandboxId: string, options: { egress: EgressPolicy; peerGroup?: string | undefined }): Promise<Attachment> {
    return this.serial(async () => {
      const { mode, reason } = this.started();
      const egress = toEgressRule(options.egress);
      if (mode === "user") {
        const allowlist = egress !== undefined && egress !== "any";
        if (allowlist || options.peerGroup !== undefined) {
          const what = allowlist ? "egress allowlists need" : "a network shared between forks needs";
          throw new Error(
            `sandbox ${sandboxId}: ${what} bridge networking, but this host uses QEMU user-mode networking (${reason})`,
          );
        }
        this.attached.set(sandboxId, { egress });
        return this.describe(sandboxId);
      }
      const previous = this.attached.get(sandboxId);
      const plumbed = await this.plumb(sandboxId, egress, options.peerGroup);
      try {
        await this.applyRules();
      } catch (error) {
        if (previous) this.attached.set(sandboxId, previous);
        else await this.unplumb(sandboxId, plumbed);
        throw error;
      }
      return this.describe(sandboxId);
    });
  }

  /** Removes the sandbox's TAP, lease and firewall entries. Idempotent. */
  detach(sandboxId: string): Promise<void> {
    return this.serial(async () => {
      const { mode } = this.started();
      if (mode === "bridge") await deleteTap(tapName(sandboxId), this.netns);
      this.ipam.release(sandboxId);
      this.attached.delete(sandboxId);
      this.names.forget(sandboxId);
      if (mode === "bridge") await this.applyRules();
    });
  }

  /** Takes effect immediately in bridge mode, also for connections already open. */
  setEgress(sandboxId: string, egress: EgressPolicy): Promise<void> {
    return this.serial(async () => {
      if (this.started().mode === "user") {
        throw new Error(
          `sandbox ${sandboxId} uses QEMU user-mode networking, where egress is fixed when the VM starts; restart it to change egress`,
        );
      }
      const entry = this.attached.get(sandboxId);
      if (!entry) throw new Error(`sandbox ${sandboxId} has no network attachment`);
      entry.egress = toEgressRule(egress);
      // Addresses opened for names the new allowlist may no longer hold close with it.
      this.names.forget(sandboxId);
      await this.applyRules();
    });
  }

  /**
   * Moves a running sandbox's network to a new sandbox id (a warm pool entry taken by a create):
   * the same address and MAC, with its TAP renamed to the new id's name and the given egress.
   */
  rekey(from: string, to: string, options: { egress: EgressPolicy }): Promise<Attachment> {
    return this.serial(async () => {
      const { mode } = this.started();
      const entry = this.attached.get(from);
      if (!entry) throw new Error(`sandbox ${from} has no network attachment`);
      if (this.attached.has(to)) throw new Error(`sandbox ${to} already has a network attachment`);
      const egress = toEgressRule(options.egress);
      if (mode === "user" && egress !== entry.egress)
        throw new Error(`sandbox ${from} uses QEMU user-mode networking, where egress is fixed when the VM starts`);
      if (mode === "bridge") {
        await renameTap(tapName(from), tapName(to), this.netns);
        this.ipam.transfer(from, to);
      }
      this.attached.delete(from);
      this.names.forget(from);
      this.attached.set(to, {
        egress,
        peerGroup: entry.peerGroup,
        ...(entry.lease ? { lease: { ...entry.lease, sandboxId: to } } : { mac: entry.mac ?? macFromSandboxId(from) }),
      });
      if (mode === "bridge") await this.applyRules();
      return this.describe(to);
    });
  }

  /**
   * Removes fluid TAPs and leases that belong to no live sandbox (left behind by a crash or a
   * sandbox destroyed while the daemon was down). TAPs on another bridge are left alone: they
   * belong to another daemon instance.
   */
  cleanupOrphans(liveSandboxIds: Iterable<string>): Promise<void> {
    return this.serial(async () => {
      const { mode } = this.started();
      const live = new Set(liveSandboxIds);
      const liveTaps = new Set([...live].map(tapName));
      const cleanup = { taps: [] as string[], leasesOf: [] as string[] };
      for (const sandboxId of this.attached.keys()) if (!live.has(sandboxId)) this.attached.delete(sandboxId);
      if (mode === "bridge") {
        for (const tap of await listTaps(this.netns)) {
          if (liveTaps.has(tap.name) || (tap.master !== undefined && tap.master !== this.bridge)) continue;
          if (await deleteTap(tap.name, this.netns)) cleanup.taps.push(tap.name);
        }
      }
      for (const lease of this.ipam.leases()) {
        if (live.has(lease.sandboxId)) continue;
        this.ipam.release(lease.sandboxId);
        cleanup.leasesOf.push(lease.sandboxId);
      }
      if (mode === "bridge") await this.applyRules();
      if (cleanup.taps.length > 0 || cleanup.leasesOf.length > 0)
        this.log?.info(cleanup, "removed orphaned sandbox networking");
    });
  }

  /**
   * Stops the manager. By default the bridge, TAPs and firewall stay in place: VMs outlive daemon
   * restarts and must keep their network (and isolation) meanwhile. `teardown` removes everything
   * fluid created on the host and restores ip_forward; leases stay, they belong to the sandboxes.
   */
  shutdown(options: { teardown?: boolean } = {}): Promise<void> {
    return this.serial(async () => {
      if (!this.decision) return;
      if (options.teardown && this.decision.mode === "bridge") {
        const attachedTaps = new Set([...this.attached.keys()].map(tapName));
        for (const tap of await listTaps(this.netns)) {
          if (tap.master === this.bridge || attachedTaps.has(tap.name)) await deleteTap(tap.name, this.netns);
        }
        await removeFirewall({ ...this.netns, bridge: this.bridge });
        await removeBridge(this.bridge, this.netns);
        if (this.ownsForwarding) await this.setForwarding(false);
      }
      await this.names.stop();
      this.attached.clear();
      this.decision = undefined;
    });
  }

  private async decideMode(recovered: readonly RecoveredSandbox[]): Promise<{ mode: NetworkMode; reason: string }> {
    if (this.preference === "user") return { mode: "user", reason: "user-mode networking requested" };
    if (process.getuid?.() !== 0) {
      const reason = "the daemon is not running as root, so it cannot create bridges or TAP devices";
      if (this.preference === "bridge") throw new Error(`bridge networking requested, but ${reason}`);
      return { mode: "user", reason };
    }
    let created = false;
    const createdTaps: string[] = [];
    try {
      ({ created } = await ensureBridge({
        name: this.bridge,
        gateway: this.ipam.gateway,
        prefix: this.ipam.prefix,
        ...this.netns,
      }));
      this.ownsForwarding = await forwardingMarked(this.netns);
      createdTaps.push(...(await this.readopt(recovered)));
      await this.names.start(this.ipam.gateway);
      await this.applyRules();
      return {
        mode: "bridge",
        reason: `${created ? "created" : "using"} bridge ${this.bridge} (${this.ipam.gateway}/${this.ipam.prefix})`,
      };
    } catch (error) {
      if (this.preference === "bridge") throw error;
      this.attached.clear();
      for (const tap of createdTaps) await deleteTap(tap, this.netns).catch(() => undefined);
      if (created) await removeBridge(this.bridge, this.netns).catch(() => undefined);
      return { mode: "user", reason: `bridge networking unavailable: ${(error as Error).message}` };
    }
  }

  /**
   * One sandbox that cannot be re-adopted (say its TAP name is taken by a foreign device) is logged
   * and skipped: failing here would move the whole host to user mode. Returns the TAPs it created.
   */
  private async readopt(recovered: readonly RecoveredSandbox[]): Promise<string[]> {
    const created: string[] = [];
    const known = new Map(recovered.map((sandbox) => [sandbox.sandboxId, sandbox]));
    const sandboxIds = new Set([...this.ipam.leases().map((lease) => lease.sandboxId), ...known.keys()]);
    for (const sandboxId of sandboxIds) {
      const sandbox = known.get(sandboxId);
      try {
        if ((await this.plumb(sandboxId, toEgressRule(sandbox?.egress ?? false), sandbox?.peerGroup)).newTap) {
          created.push(tapName(sandboxId));
        }
      } catch (error) {
        this.log?.warn({ sandboxId, err: error }, "could not restore the network of a sandbox");
      }
    }
    return created;
  }

  /** Lease and TAP for a sandbox, reusing whatever already exists. Reports what it created. */
  private async plumb(
    sandboxId: string,
    egress: EgressRule | undefined,
    peerGroup: string | undefined,
  ): Promise<{ newLease: boolean; newTap: boolean }> {
    const newLease = !this.ipam.lookup(sandboxId);
    const lease = this.ipam.allocate(sandboxId);
    let newTap: boolean;
    try {
      const isolated = peerGroup === undefined;
      newTap = (await ensureTap(tapName(sandboxId), this.bridge, { ...this.netns, isolated })).created;
    } catch (error) {
      if (newLease) this.ipam.release(sandboxId);
      throw error;
    }
    this.attached.set(sandboxId, { lease, egress, peerGroup });
    return { newLease, newTap };
  }

  private async unplumb(sandboxId: string, plumbed: { newLease: boolean; newTap: boolean }): Promise<void> {
    this.attached.delete(sandboxId);
    if (plumbed.newTap) await deleteTap(tapName(sandboxId), this.netns).catch(() => undefined);
    if (plumbed.newLease) this.ipam.release(sandboxId);
  }

  private async applyRules(): Promise<void> {
    const { sources, ...input } = firewallInput(this.attached);
    // Routing is needed only while some sandbox has egress (the firewall blocks everything else
    // anyway). It is switched on after the rules that confine it are in place, and off after the
    // rules stop claiming it.
    const enable = input.egress.size > 0 && !this.ownsForwarding && !(await readIpForwarding(this.netns));
    const disable = input.egress.size === 0 && this.ownsForwarding;
    const markForwarding = enable || (this.ownsForwarding && !disable);
    await applyFirewall(
      {
        bridge: this.bridge,
        subnet: this.ipam.subnet,
        ...input,
        markForwarding,
        resolved: this.names.opened(sources),
        ...(this.names.running ? { resolver: this.ipam.gateway } : {}),
      },
      this.netns,
    );
    if (enable) await this.setForwarding(true);
    if (disable) await this.setForwarding(false);
  }

  private attachedAt(ip: string): [string, Attached] | undefined {
    return [...this.attached].find(([, entry]) => entry.lease?.ip === ip);
  }

  private async setForwarding(enabled: boolean): Promise<void> {
    await writeIpForwarding(enabled, this.netns);
    this.ownsForwarding = enabled;
    this.log?.info(enabled ? "enabled net.ipv4.ip_forward for sandbox egress" : "set net.ipv4.ip_forward back to 0");
  }

  private describe(sandboxId: string): Attachment {
    const entry = this.attached.get(sandboxId);
    if (!entry) throw new Error(`sandbox ${sandboxId} has no network attachment`);
    return describeAttachment(sandboxId, entry, {
      gateway: this.ipam.gateway,
      prefix: this.ipam.prefix,
      bridge: this.bridge,
    });
  }

  private started(): { mode: NetworkMode; reason: string } {
    if (!this.decision) throw new Error("network manager has been shut down");
    return this.decision;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
