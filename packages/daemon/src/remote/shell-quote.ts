/**
 * Quoting for the remote side of `ssh`. OpenSSH joins everything after the destination with spaces
 * and hands the result to the remote user's login shell (`$SHELL -c`), so an argument vector has to
 * be turned into one string that a POSIX shell splits back into exactly those words. Every element
 * is single-quoted (inside single quotes nothing is special except the quote itself, written as
 * '\''), so names full of `;`, `$(…)`, spaces or globs arrive as literal text.
 *
 * The remote login shell must be POSIX-like (sh, dash, bash, zsh, ksh); csh-family shells treat `!`
 * and newlines inside quotes differently. NUL cannot be passed at all and line breaks are refused
 * too, so an argument can never start a second command line even in an odd shell.
 */
export function quoteArg(arg: string): string {
  if (/[\0\r\n]/.test(arg)) {
    throw new Error(`a remote command argument may not contain NUL or line breaks: ${JSON.stringify(arg)}`);
  }
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

/** One remote command line for an argument vector: each element single-quoted, joined by spaces. */
export function remoteCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error("empty remote command");
  return argv.map(quoteArg).join(" ");
}
