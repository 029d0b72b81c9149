import type { Toolbox, ToolOutcome } from "./tools.js";

export interface CleanupResult {
  sandboxId: string;
  destroyed: boolean;
  /** Why it failed, or the state it ended in. */
  detail: string;
}

/**
 * The sandboxes this session made and has not destroyed, so leaving can offer to destroy them
 * instead of leaving them to run until their leases end.
 */
export class SessionSandboxes {
  private readonly ids = new Set<string>();

  /** Learns from a tool call the agent made. */
  record(tool: string, args: Record<string, unknown>, outcome: ToolOutcome): void {
    if (outcome.status !== "ok") return;
    if (tool === "create_sandbox" && typeof outcome.structured?.sandbox_id === "string") {
      this.ids.add(outcome.structured.sandbox_id);
    }
    if (tool === "destroy_sandbox" && typeof args.sandbox_id === "string") this.ids.delete(args.sandbox_id);
  }

  list(): string[] {
    return [...this.ids];
  }

  get size(): number {
    return this.ids.size;
  }

  /**
   * Destroys every remaining sandbox, one at a time so the person sees each result as it comes.
   * A failed one stays listed.
   */
  async destroyAll(toolbox: Toolbox, onResult: (result: CleanupResult) => void = () => {}): Promise<CleanupResult[]> {
    const results: CleanupResult[] = [];
    for (const sandboxId of this.list()) {
      const outcome = await toolbox.call("destroy_sandbox", { sandbox_id: sandboxId });
      const destroyed = outcome.status === "ok";
      if (destroyed) this.ids.delete(sandboxId);
      const state = outcome.structured?.state;
      const result = { sandboxId, destroyed, detail: destroyed ? String(state ?? "destroyed") : outcome.content };
      results.push(result);
      onResult(result);
    }
    return results;
  }
}
