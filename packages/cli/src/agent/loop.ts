import type { AssistantMessage, ChatClient, ChatMessage } from "./llm.js";
import { SessionSandboxes } from "./session.js";
import type { Approver, Mode, Toolbox, ToolOutcome } from "./tools.js";

/** A model that keeps calling tools without answering is stuck or looping; the person decides whether to go on. */
export const MAX_ROUNDS = 50;

/** What the UI shows as a turn goes. */
export type AgentEvent =
  | { type: "assistant"; text: string }
  | { type: "tool_call"; id: string; name: string; arguments: string }
  | { type: "tool_progress"; id: string; message: string }
  | { type: "tool_result"; id: string; name: string; arguments: string; outcome: ToolOutcome }
  | { type: "error"; message: string }
  | { type: "notice"; message: string };

export interface TurnOptions {
  approver: Approver;
  onEvent(event: AgentEvent): void;
  /** Stops the turn: the request or tool call in flight is abandoned and the turn ends. */
  signal?: AbortSignal;
}

const CANCELLED = "cancelled: the user stopped this turn before the call ran";

/**
 * The conversation and the tool loop: send the conversation, run the tool calls the model asks for,
 * send their results back, until the model answers without calling tools.
 */
export class Agent {
  mode: Mode;
  readonly session = new SessionSandboxes();
  private history: ChatMessage[] = [];

  constructor(
    private readonly chat: ChatClient,
    readonly toolbox: Toolbox,
    mode: Mode,
  ) {
    this.mode = mode;
  }

  /** The conversation so far, without the system prompt. */
  get messages(): readonly ChatMessage[] {
    return this.history;
  }

  /** Forgets the conversation; the session's sandboxes are still remembered for cleanup. */
  clear(): void {
    this.history = [];
  }

  /** One user message and everything the model does about it. Failures are reported as events, never thrown. */
  async send(text: string, turn: TurnOptions): Promise<void> {
    const { signal, onEvent } = turn;
    this.history.push({ role: "user", content: text });
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      let reply: AssistantMessage;
      try {
        // The mode is read every round: Shift+Tab in the middle of a turn applies from the next request.
        reply = await this.chat.complete(
          [{ role: "system", content: this.systemPrompt() }, ...this.history],
          this.toolbox.definitions(this.mode),
          signal,
        );
      } catch (err) {
        if (signal?.aborted) onEvent({ type: "notice", message: "stopped" });
        else onEvent({ type: "error", message: err instanceof Error ? err.message : String(err) });
        return;
      }
      this.history.push(reply);
      if (reply.content?.trim()) onEvent({ type: "assistant", text: reply.content.trim() });
      const calls = reply.tool_calls ?? [];
      if (calls.length === 0) {
        if (!reply.content?.trim()) onEvent({ type: "notice", message: "the model answered with nothing" });
        return;
      }
      for (const call of calls) {
        // Every tool call needs its tool message, or the provider rejects the conversation from then on.
        const outcome = signal?.aborted
          ? { status: "error" as const, content: CANCELLED }
          : await this.run(call.id, call.function.name, call.function.arguments, turn);
        this.history.push({ role: "tool", tool_call_id: call.id, content: outcome.content });
      }
      if (signal?.aborted) {
        onEvent({ type: "notice", message: "stopped" });
        return;
      }
    }
    onEvent({
      type: "notice",
      message: `stopped after ${MAX_ROUNDS} rounds of tool calls without an answer; send a message to let it go on`,
    });
  }

  private async run(id: string, name: string, rawArguments: string, turn: TurnOptions): Promise<ToolOutcome> {
    turn.onEvent({ type: "tool_call", id, name, arguments: rawArguments });
    let outcome: ToolOutcome;
    try {
      outcome = await this.toolbox.execute(name, rawArguments, {
        mode: this.mode,
        approver: turn.approver,
        ...(turn.signal ? { signal: turn.signal } : {}),
        onProgress: (message) => turn.onEvent({ type: "tool_progress", id, message }),
      });
    } catch (err) {
      // execute reports tool failures as outcomes; what still throws is an abort, or an approver that failed.
      outcome = turn.signal?.aborted
        ? { status: "error", content: CANCELLED }
        : { status: "error", content: `Error: ${err instanceof Error ? err.message : String(err)}` };
    }
    // An ok outcome means execute parsed the arguments, so this cannot throw.
    if (outcome.status === "ok") this.session.record(name, JSON.parse(rawArguments.trim() || "{}"), outcome);
    turn.onEvent({ type: "tool_result", id, name, arguments: rawArguments, outcome });
    return outcome;
  }

  private systemPrompt(): string {
    const mode =
      this.mode === "edit"
        ? "You are in edit mode: you may create sandboxes and change things inside them."
        : "You are in read-only mode: only tools that look without changing anything are available. If the task " +
          "needs a change, say what you would do and ask the person to press Shift+Tab to switch to edit mode.";
    return [
      "You are fluid agent, working in a terminal together with a person who reads everything you do.",
      this.toolbox.instructions() ?? "",
      mode,
      "Commands that reach the network need the person's approval each time; if they deny it, do not retry " +
        "the same thing another way. Destroy sandboxes you no longer need. Answer briefly.",
    ]
      .filter(Boolean)
      .join("\n\n");
  }
}
