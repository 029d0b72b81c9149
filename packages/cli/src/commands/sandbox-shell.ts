import type { Command } from "commander";
import { openSandboxTerminal } from "../api/sandbox-terminals.js";
import { SANDBOX_ARG, sandboxId } from "./sandbox-lookup.js";
import { connectFor } from "./shared.js";

/**
 * `fluid sandbox shell`: an interactive login shell in a sandbox, like `docker exec -it`. On a
 * terminal the local one is put in raw mode (keys such as Ctrl-C go to the sandbox) and follows
 * window size changes. Piped input is typed into the shell, then `exit`: a Ctrl-D typed ahead of
 * the shell reaches it as a NUL byte once its line editor has put the tty in raw mode, so it would
 * not end the shell.
 */
export function registerSandboxShellCommand(sandbox: Command): void {
  sandbox
    .command("shell")
    .description("an interactive login shell in a running sandbox (like docker exec -it)")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
      const terminal = await openSandboxTerminal(conn, id, {
        cols: interactive ? process.stdout.columns : 80,
        rows: interactive ? process.stdout.rows : 24,
      });
      terminal.onData((data) => process.stdout.write(data));
      const onResize = () => terminal.resize(process.stdout.columns, process.stdout.rows);
      let last = "\n";
      const onInput = (data: Buffer) => {
        if (data.length > 0) last = data.toString("latin1").slice(-1);
        terminal.write(data);
      };
      const onEnd = () => terminal.write(last === "\n" || last === "\r" ? "exit\n" : "\nexit\n");
      if (interactive) {
        process.stdin.setRawMode(true);
        process.stdout.on("resize", onResize);
      } else {
        process.stdin.on("end", onEnd);
      }
      process.stdin.on("data", onInput);
      process.stdin.resume();
      try {
        await terminal.exited;
      } finally {
        process.stdin.off("data", onInput);
        process.stdin.off("end", onEnd);
        process.stdout.off("resize", onResize);
        if (interactive) process.stdin.setRawMode(false);
        process.stdin.pause();
      }
    });
}
