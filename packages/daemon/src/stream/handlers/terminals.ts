import { SandboxError } from "../../errors.js";
import type { HandlerTable, Reply } from "./types.js";

/**
 * Terminals: open, write, resize, close. An open terminal's output and end are sent unsolicited
 * (TerminalOutput, TerminalClosed) for as long as it lives, not as replies to the open.
 */
export const terminalHandlers: HandlerTable = {
  openTerminal: async (c, { manager, emit }) => {
    if (!emit) throw new SandboxError("invalid_request", "terminals need the control-plane stream");
    const ids = { sandboxId: c.sandboxId, terminalId: c.terminalId };
    await manager.terminals.start(
      { ...ids, cols: c.cols, rows: c.rows },
      {
        output: (data) => emit({ case: "terminalOutput", value: { ...ids, data } }),
        closed: (reason) => emit({ case: "terminalClosed", value: { ...ids, reason } }),
      },
    );
    return { case: "terminalOpened", value: ids };
  },
  terminalInput: (c, { manager }) => {
    // Not async before the write: inputs reach the guest in the order they were dispatched.
    const written = manager.terminals.input(c.sandboxId, c.terminalId, Buffer.from(c.data));
    return written.then(
      (): Reply => ({ case: "terminalUpdated", value: { sandboxId: c.sandboxId, terminalId: c.terminalId } }),
    );
  },
  resizeTerminal: async (c, { manager }) => {
    await manager.terminals.resize(c.sandboxId, c.terminalId, c.cols, c.rows);
    return { case: "terminalUpdated", value: { sandboxId: c.sandboxId, terminalId: c.terminalId } };
  },
  closeTerminal: async (c, { manager }) => {
    await manager.terminals.close(c.sandboxId, c.terminalId);
    return { case: "terminalClosed", value: { sandboxId: c.sandboxId, terminalId: c.terminalId, reason: "closed" } };
  },
};
