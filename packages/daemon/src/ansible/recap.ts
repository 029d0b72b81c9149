/** One host's line of ansible-playbook's PLAY RECAP. */
export interface PlaybookRecap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

const COUNTERS = ["ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"] as const;

/**
 * The recap line for `host` in ansible-playbook's output (default callback), or undefined when the
 * run stopped before its recap (a syntax error, a timeout). Only lines after the last "PLAY RECAP"
 * heading count, so a task's output that happens to look like a recap line cannot be taken for it.
 */
export function parseRecap(output: string, host: string): PlaybookRecap | undefined {
  const heading = output.lastIndexOf("\nPLAY RECAP ");
  const start = heading >= 0 ? heading : output.startsWith("PLAY RECAP ") ? 0 : -1;
  if (start < 0) return undefined;
  for (const line of output.slice(start).split("\n").slice(1)) {
    const match = /^(\S+)\s+:\s+(.*)$/.exec(line.trimEnd());
    if (!match || match[1] !== host) continue;
    const counts = new Map(
      [...(match[2] ?? "").matchAll(/([a-z]+)=(\d+)/g)].map(([, name, value]) => [name, Number(value)]),
    );
    if (!COUNTERS.every((name) => counts.has(name))) return undefined;
    return Object.fromEntries(COUNTERS.map((name) => [name, counts.get(name)])) as unknown as PlaybookRecap;
  }
  return undefined;
}
