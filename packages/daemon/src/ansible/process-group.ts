import { spawn } from "node:child_process";
import { OutputTail } from "./output-tail.js";

export interface GroupRunResult {
  /** The exit status, or -1 when a signal ended the process. */
  exitCode: number;
  timedOut: boolean;
  /** stdout and stderr interleaved as they arrived, the last `maxLogBytes` of them. */
  log: string;
  logTruncated: boolean;
  durationMs: number;
}

export interface GroupRunOptions {
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
  maxLogBytes: number;
  /** Between SIGTERM to the group at the timeout and SIGKILL. */
  graceMs?: number;
}

/**
 * Runs a program (argv, no shell) as the leader of its own process group, so a timeout ends it
 * and every child it started (ansible forks workers, which run ssh) rather than the leader alone.
 */
export function runInProcessGroup(argv: readonly string[], options: GroupRunOptions): Promise<GroupRunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error("empty argv");
  const started = performance.now();
  const tail = new OutputTail(options.maxLogBytes);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env,
      cwd: options.cwd,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup("SIGTERM");
      killer = setTimeout(() => signalGroup("SIGKILL"), options.graceMs ?? 5_000);
    }, options.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => tail.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => tail.push(chunk));
    child.on("error", (error) => {
      clearTimeout(timer);
      clearTimeout(killer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      clearTimeout(killer);
      // Workers the leader left behind would outlive the run otherwise.
      signalGroup("SIGKILL");
      resolve({
        exitCode: code ?? -1,
        timedOut,
        log: tail.text(),
        logTruncated: tail.truncated,
        durationMs: Math.round(performance.now() - started),
      });
    });
  });
}
