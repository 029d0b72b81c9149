import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ControlMessage, HostMessageSchema } from "@fluid/proto";
import type { OutputStream } from "../../agent/exec-stream.js";
import type { PullPhase } from "../../clone/pull.js";
import type { SandboxManager } from "../../sandboxes/manager.js";
import type { SourceServices } from "../source-handlers.js";

/** The payload of the one HostMessage that answers a command. */
export type Reply = MessageInitShape<typeof HostMessageSchema>["payload"];

/** How far a sandbox creation has got (see SandboxProgress in the protocol). */
export interface CreateProgress {
  sandboxId: string;
  phase: Exclude<PullPhase, "done"> | "boot";
  bytesDone: number;
  bytesTotal: number;
}

/** A piece of a streamed command's output (see CommandOutput in the protocol). */
export interface CommandOutputPiece {
  sandboxId: string;
  stream: OutputStream;
  data: Buffer;
}

/** What every handler may use besides its own command. */
export interface HandlerContext {
  manager: SandboxManager;
  /** Absent on a host that does not reach source hosts. */
  sources?: SourceServices | undefined;
  onProgress?: ((progress: CreateProgress) => void) | undefined;
  /** Sends a piece of a streamed command's output (see CommandOutput in the protocol). */
  onOutput?: ((output: CommandOutputPiece) => void) | undefined;
  /** Sends an unsolicited message (no request_id), such as an open terminal's output. */
  emit?: ((payload: Reply) => void) | undefined;
  /** The whole message, for handlers that answer several cases at once. */
  message: ControlMessage;
}

type Payload = ControlMessage["payload"];
export type CommandCase = NonNullable<Payload["case"]>;
export type CommandOf<C extends CommandCase> = Extract<Payload, { case: C }>["value"];

export type Handler<C extends CommandCase> = (command: CommandOf<C>, context: HandlerContext) => Promise<Reply>;

/** Handlers by command case; a capability module fills in the cases it answers. */
export type HandlerTable = { [C in CommandCase]?: Handler<C> };
