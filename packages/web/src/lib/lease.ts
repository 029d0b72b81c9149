import { useEffect, useState } from "react";

export interface LeaseLeft {
  expired: boolean;
  /** Under ten minutes left: worth a warning colour. */
  soon: boolean;
  text: string;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Time left on a sandbox's lease, coarse when far off and to the second in the last hour. */
export function leaseLeft(expiresAt: string, now: number): LeaseLeft {
  const ms = Date.parse(expiresAt) - now;
  if (!Number.isFinite(ms) || ms <= 0) return { expired: true, soon: true, text: "expired" };
  const total = Math.floor(ms / 1000);
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3_600);
  const minutes = Math.floor((total % 3_600) / 60);
  const seconds = total % 60;
  let text: string;
  if (days > 0) text = `${days}d ${hours}h left`;
  else if (hours > 0) text = `${hours}h ${pad(minutes)}m left`;
  else text = `${minutes}m ${pad(seconds)}s left`;
  return { expired: false, soon: total < 600, text };
}

/** The current time, refreshed every `intervalMs`, for countdowns. */
export function useNow(intervalMs = 1_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs]);
  return now;
}
