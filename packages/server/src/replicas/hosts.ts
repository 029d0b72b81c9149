import type { CommandOutput, HostMessage } from "@fluid/proto";
import { AppError } from "../http/errors.js";
import type { StreamClosedError } from "../stream/errors.js";
import type { Command, HostSession } from "../stream/host-session.js";
import type { HostRegistry } from "../stream/registry.js";
import type { CommandTarget } from "../stream/replies.js";
import type { ReplicaCluster } from "./cluster.js";

/** A host some replica streams to: commands to it go wherever its stream is. */
export interface HostHandle extends CommandTarget {
  readonly hostId: string;
  /** Commands in flight to it (a hint for picking the least busy host). */
  readonly pendingCount: number;
}

/**
 * The one way the rest of the server reaches hosts. A host streaming to this replica is served
 * from memory with no database round trip; with a cluster (PostgreSQL) a host streaming to another
 * live replica is reached through the command bus. Without one (PGlite) only local streams exist.
 */
export class HostRouter {
  constructor(
    /** The streams on this replica. */
    readonly local: HostRegistry,
    private readonly cluster?: ReplicaCluster,
  ) {}

  async attach(session: HostSession): Promise<void> {
    await this.cluster?.takeLease(session);
    this.local.attach(session);
  }

  async detach(session: HostSession): Promise<boolean> {
    const wasCurrent = this.local.detach(session);
    await this.cluster?.dropLease(session);
    return wasCurrent;
  }

  async isConnected(hostId: string): Promise<boolean> {
    return (await this.connectedAmong([hostId])).has(hostId);
  }

  /** Of `hostIds`, those with an open stream on this or another live replica. */
  async connectedAmong(hostIds: readonly string[]): Promise<Set<string>> {
    const connected = new Set(hostIds.filter((id) => this.local.isConnected(id)));
    const elsewhere = hostIds.filter((id) => !connected.has(id));
    if (this.cluster && elsewhere.length > 0) {
      for (const id of await this.cluster.remoteConnected(elsewhere)) connected.add(id);
    }
    return connected;
  }

  /** The org's connected hosts in host-id order, so repeated picks land on the same host. */
  async inOrg(orgId: string): Promise<HostHandle[]> {
    const handles: HostHandle[] = this.local.inOrg(orgId);
    if (this.cluster) {
      for (const remote of await this.cluster.remoteInOrg(orgId)) {
        if (this.local.isConnected(remote.hostId)) continue;
        handles.push({
          hostId: remote.hostId,
          pendingCount: remote.open,
          request: (command, timeoutMs) => this.request(remote.hostId, command, timeoutMs),
        });
      }
    }
    return handles.sort((a, b) => (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0));
  }

  request(hostId: string, command: Command, timeoutMs: number): Promise<HostMessage> {
    const session = this.local.get(hostId);
    if (session) return session.request(command, timeoutMs);
    if (!this.cluster) {
      return Promise.reject(new AppError("host_unavailable", "the sandbox's host is not connected"));
    }
    return this.cluster.request(hostId, command, timeoutMs);
  }

  /**
   * Sends a command whose output the host streams, if the host streams to this replica; undefined
   * if not, since the pieces do not cross the command bus (the caller falls back to a buffered command).
   */
  requestStreaming(
    hostId: string,
    command: Command,
    timeoutMs: number,
    onOutput: (output: CommandOutput) => void,
  ): Promise<HostMessage> | undefined {
    return this.local.get(hostId)?.request(command, timeoutMs, undefined, onOutput);
  }

  /** The host's stream if it is on this replica (terminals need one: their bytes do not cross the command bus). */
  localSession(hostId: string): HostSession | undefined {
    return this.local.get(hostId);
  }

  /** Closes the host's revoked stream here, and on whichever other replica holds it. */
  closeHost(hostId: string, reason: "token_revoked"): void {
    this.local.closeHost(hostId, reason);
    this.cluster?.broadcastClose({ hostId, reason });
  }

  /** Closes the deleted org's streams here and on every other replica. */
  closeOrg(orgId: string, detail: string): void {
    this.local.closeOrg(orgId, detail);
    this.cluster?.broadcastClose({ orgId, detail });
  }

  closeAll(reason: StreamClosedError): void {
    this.local.closeAll(reason);
  }
}
