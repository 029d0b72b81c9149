import { create } from "@bufbuild/protobuf";
import {
  CloseTerminalCommandSchema,
  OpenTerminalCommandSchema,
  ResizeTerminalCommandSchema,
  TerminalInputCommandSchema,
} from "@fluid/proto";
import { toAppError } from "../stream/errors.js";
import type { HostSession, TerminalWatcher } from "../stream/host-session.js";
import { sendCommand } from "../stream/replies.js";

/** An open terminal on a host: keystrokes in, size changes, and the hang-up. */
export interface TerminalLink {
  write(data: Uint8Array): Promise<void>;
  resize(cols: number, rows: number): Promise<void>;
  /** Hangs the session up; its watcher hears no more. Closing an ended terminal does nothing. */
  close(): Promise<void>;
}

/**
 * Opens a terminal over the host's stream. The watcher is in place before the open is sent, so
 * output printed right after the shell starts is not lost; it is removed if the open fails.
 */
export async function openTerminalLink(
  session: HostSession,
  input: { sandboxId: string; terminalId: string; cols: number; rows: number },
  watcher: TerminalWatcher,
  timeoutMs: number,
): Promise<TerminalLink> {
  const ids = { sandboxId: input.sandboxId, terminalId: input.terminalId };
  let ended = false;
  session.watchTerminal(input.terminalId, {
    output: (data) => watcher.output(data),
    closed: (reason) => {
      ended = true;
      watcher.closed(reason);
    },
  });
  const call = async <C extends "terminalOpened" | "terminalUpdated" | "terminalClosed">(
    command: Parameters<HostSession["request"]>[0],
    reply: C,
    action: string,
  ) => {
    try {
      return await sendCommand(session, command, reply, timeoutMs);
    } catch (err) {
      throw toAppError(err, action);
    }
  };
  try {
    await call(
      { case: "openTerminal", value: create(OpenTerminalCommandSchema, input) },
      "terminalOpened",
      "open terminal",
    );
  } catch (err) {
    session.unwatchTerminal(input.terminalId);
    throw err;
  }
  return {
    write: async (data) => {
      const value = create(TerminalInputCommandSchema, { ...ids, data });
      await call({ case: "terminalInput", value }, "terminalUpdated", "write to terminal");
    },
    resize: async (cols, rows) => {
      const value = create(ResizeTerminalCommandSchema, { ...ids, cols, rows });
      await call({ case: "resizeTerminal", value }, "terminalUpdated", "resize terminal");
    },
    close: async () => {
      session.unwatchTerminal(input.terminalId);
      if (ended) return;
      ended = true;
      const value = create(CloseTerminalCommandSchema, ids);
      await call({ case: "closeTerminal", value }, "terminalClosed", "close terminal");
    },
  };
}
