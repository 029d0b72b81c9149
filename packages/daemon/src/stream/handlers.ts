import type { ControlMessage } from "@fluid/proto";
import { SandboxError } from "../errors.js";
import type { SandboxManager } from "../sandboxes/manager.js";
import { fileHandlers } from "./handlers/files.js";
import { processHandlers } from "./handlers/processes.js";
import { reviewHandlers } from "./handlers/review.js";
import { sandboxHandlers } from "./handlers/sandboxes.js";
import { snapshotHandlers } from "./handlers/snapshots.js";
import { sourceHandlers } from "./handlers/sources.js";
import { terminalHandlers } from "./handlers/terminals.js";
import type { CommandOutputPiece, CreateProgress, HandlerContext, HandlerTable, Reply } from "./handlers/types.js";
import type { SourceServices } from "./source-handlers.js";

export type { CommandOutputPiece, CreateProgress } from "./handlers/types.js";

/** Every command the daemon answers, one capability module at a time. */
export const commandHandlers: HandlerTable = {
  ...sandboxHandlers,
  ...fileHandlers,
  ...processHandlers,
  ...snapshotHandlers,
  ...reviewHandlers,
  ...sourceHandlers,
  ...terminalHandlers,
};

type AnyHandler = (command: unknown, context: HandlerContext) => Promise<Reply>;

/**
 * Turns one control-plane command into one reply payload. Throwing is the failure reply: the
 * caller sends it as an ErrorReport with the same request_id, so every command gets exactly one answer.
 */
export async function handleCommand(
  manager: SandboxManager,
  message: ControlMessage,
  sources?: SourceServices,
  onProgress?: (progress: CreateProgress) => void,
  onOutput?: (output: CommandOutputPiece) => void,
  emit?: (payload: Reply) => void,
): Promise<Reply> {
  const { case: kind, value } = message.payload;
  const handler = kind === undefined ? undefined : (commandHandlers[kind] as AnyHandler | undefined);
  if (!handler) throw new SandboxError("invalid_request", `unknown command ${kind ?? "(empty)"}`);
  return handler(value, { manager, sources, onProgress, onOutput, emit, message });
}
