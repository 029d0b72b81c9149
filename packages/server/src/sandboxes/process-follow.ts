import type { ProcessLogRead, ProcessView } from "./processes.js";

/** How often a followed log is polled while the process is quiet. */
const FOLLOW_POLL_MS = 250;

export type FollowEvent =
  | { type: "output"; stream: "stdout" | "stderr"; data: Uint8Array }
  | { type: "exit"; process: ProcessView };

/**
 * A process's log from the first read on: its output pieces as the process writes them, then its
 * exit once it has ended and its output is all read. Stops early (without an exit) when `gone`
 * says nobody is reading any more. Failures of a read are thrown to the caller.
 */
export async function* followProcessLog(
  read: (offset: number, stderrOffset: number) => Promise<ProcessLogRead>,
  first: ProcessLogRead,
  gone: () => boolean,
): AsyncGenerator<FollowEvent> {
  let log = first;
  for (;;) {
    if (log.stdout.length > 0) yield { type: "output", stream: "stdout", data: log.stdout };
    if (log.stderr.length > 0) yield { type: "output", stream: "stderr", data: log.stderr };
    const quiet = log.stdout.length === 0 && log.stderr.length === 0;
    if (quiet && log.process.state !== "running") break;
    if (gone()) return;
    if (quiet) await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    if (gone()) return;
    log = await read(log.next_offset, log.next_stderr_offset);
  }
  yield { type: "exit", process: log.process };
}
