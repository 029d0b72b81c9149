const secondsPer: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Parses "90", "90s", "30m", "2h", "1.5h" or "1d" into whole seconds (a bare number is seconds, as
 * the API's ttl_seconds). Undefined for anything else, including zero.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([smhd]?)$/i.exec(text.trim());
  if (!match) return undefined;
  const seconds = Math.round(Number(match[1]) * (secondsPer[(match[2] || "s").toLowerCase()] ?? 1));
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : undefined;
}
