import type { GuestAgent } from "../agent/client.js";

/** One guest agent connection per sandbox, made on first use and reused until dropped. */
export class GuestAgents {
  private readonly agents = new Map<string, Promise<GuestAgent>>();

  constructor(private readonly connect: (sandboxId: string) => Promise<GuestAgent>) {}

  get(id: string): Promise<GuestAgent> {
    const existing = this.agents.get(id);
    if (existing) return existing;
    const connecting = this.connect(id);
    this.agents.set(id, connecting);
    connecting.catch(() => this.agents.delete(id));
    return connecting;
  }

  /** Hands a connection to the sandbox's new id (a claimed warm pool entry). */
  rekey(from: string, to: string): void {
    const agent = this.agents.get(from);
    this.agents.delete(from);
    if (agent) this.agents.set(to, agent);
  }

  drop(id: string): void {
    const agent = this.agents.get(id);
    this.agents.delete(id);
    agent?.then((a) => a.close()).catch(() => undefined);
  }

  dropAll(): void {
    for (const id of [...this.agents.keys()]) this.drop(id);
  }
}
