import { type CloseReason, StreamClosedError } from "./errors.js";
import type { HostSession } from "./host-session.js";

/**
 * The live streams on this replica, one per host (`replicas/hosts.ts` routes to other replicas'). A reconnecting host replaces its old session,
 * and only the session that is still current may remove itself, so an old stream's cleanup can
 * never tear down its successor.
 */
export class HostRegistry {
  private readonly sessions = new Map<string, HostSession>();

  /** Makes `session` the host's stream; the previous one (if any) is closed as replaced. */
  attach(session: HostSession): void {
    const previous = this.sessions.get(session.hostId);
    this.sessions.set(session.hostId, session);
    previous?.close(new StreamClosedError("host_replaced"));
  }

  /** Removes `session` if it is still the host's current stream; returns whether it was. */
  detach(session: HostSession): boolean {
    if (this.sessions.get(session.hostId) !== session) return false;
    this.sessions.delete(session.hostId);
    return true;
  }

  get(hostId: string): HostSession | undefined {
    const session = this.sessions.get(hostId);
    return session && !session.closed ? session : undefined;
  }

  /** The org's open streams in host-id order, so repeated picks land on the same host. */
  inOrg(orgId: string): HostSession[] {
    return [...this.sessions.values()]
      .filter((s) => s.orgId === orgId && !s.closed)
      .sort((a, b) => (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0));
  }

  isConnected(hostId: string): boolean {
    return this.get(hostId) !== undefined;
  }

  /** Open streams and the commands awaiting a reply on them, for the metrics. */
  stats(): { sessions: number; inFlight: number } {
    let sessions = 0;
    let inFlight = 0;
    for (const session of this.sessions.values()) {
      if (session.closed) continue;
      sessions += 1;
      inFlight += session.pendingCount;
    }
    return { sessions, inFlight };
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Hosts with an open stream here. */
  hostIds(): string[] {
    return [...this.sessions.values()].filter((s) => !s.closed).map((s) => s.hostId);
  }

  /** Takes a reason code rather than an error so that callers outside stream/ need not import it. */
  closeHost(hostId: string, reason: CloseReason): void {
    this.sessions.get(hostId)?.close(new StreamClosedError(reason));
  }

  closeOrg(orgId: string, detail: string): void {
    for (const session of this.sessions.values()) {
      if (session.orgId === orgId) session.close(new StreamClosedError("org_deleted", detail));
    }
  }

  closeAll(reason: StreamClosedError): void {
    for (const session of this.sessions.values()) session.close(reason);
  }
}
