import { type RunOptions, type RunResult, run, runChecked } from "../system/run.js";

/** Every network operation accepts this, so tests can work inside a namespace they own. */
export interface NetnsOption {
  /** Run commands inside this network namespace (`ip netns exec <netns> …`) instead of the host's. */
  netns?: string;
}

const TIMEOUT_MS = 15_000;

function inNetns(argv: readonly string[], netns: string | undefined): string[] {
  return netns ? ["ip", "netns", "exec", netns, ...argv] : [...argv];
}

/** run() in the chosen namespace, with a timeout so a wedged `ip`/`nft` cannot stall the daemon. */
export function runNet(argv: readonly string[], opts: NetnsOption, options: RunOptions = {}): Promise<RunResult> {
  return run(inNetns(argv, opts.netns), { timeoutMs: TIMEOUT_MS, ...options });
}

/** runChecked() in the chosen namespace. */
export function runNetChecked(
  argv: readonly string[],
  opts: NetnsOption,
  options: RunOptions = {},
): Promise<RunResult> {
  return runChecked(inNetns(argv, opts.netns), { timeoutMs: TIMEOUT_MS, ...options });
}
