/**
 * Spotting commands that reach the network, so the person is asked before the agent runs them. This
 * is a prompt, not a sandbox boundary (a script can open sockets without naming any of these), so it
 * errs towards asking: a needless question costs a keypress, a missed one lets data leave unseen.
 */

const NETWORK_PROGRAMS = [
  "curl",
  "wget",
  "nc",
  "netcat",
  "ssh",
  "scp",
  "rsync",
  "ftp",
  "sftp",
  "telnet",
  "nmap",
  "ping",
];

/**
 * A program counts where a shell could run it: at the start, after whitespace, a pipe, `&&`, `;`,
 * `$(`, a backtick, a subshell's parenthesis or a quote (`sh -c "curl …"`), optionally by its path
 * (`/usr/bin/curl`). It must end where a word ends, so `curlie` and `ssh-keygen` do not count.
 */
const PROGRAM = new RegExp(`(?:^|[\\s|&;\`("'])(?:[\\w.~/-]*/)?(${NETWORK_PROGRAMS.join("|")})(?=$|[\\s|&;\`)"'<>])`);
const URL_PATTERN = /\b(?:https?|s?ftp):\/\/[^\s"'`)]*/i;

/** What in `command` reaches the network ("curl", "http://example.com/x"), or undefined. */
export function networkAccessIn(command: string): string | undefined {
  return PROGRAM.exec(command)?.[1] ?? URL_PATTERN.exec(command)?.[0];
}

/** The tools whose `command` argument runs a shell command line. */
const COMMAND_TOOLS = new Set(["run_command", "run_source_command"]);

/** The question to ask the person before this tool call runs, or undefined when it needs no approval. */
export function egressQuestion(tool: string, args: Record<string, unknown>): string | undefined {
  if (!COMMAND_TOOLS.has(tool) || typeof args.command !== "string") return undefined;
  const reason = networkAccessIn(args.command);
  if (reason === undefined) return undefined;
  return `${tool} wants network access (${reason}):\n  ${args.command}\nAllow it?`;
}

/** What the model reads when the person says no; shaped like a command result so it is not retried blindly. */
export const EGRESS_DENIED = JSON.stringify({ error: "network access denied by user", exit_code: -1 });
