import { leaseLeft, useNow } from "../lib/lease";

/** A live countdown to a sandbox's lease end. */
export function Lease({ expiresAt, endedAt }: { expiresAt: string; endedAt?: string | null }) {
  const now = useNow();
  if (endedAt) return <span className="muted">ended</span>;
  const left = leaseLeft(expiresAt, now);
  return (
    <time dateTime={expiresAt} className={left.soon ? "warn" : undefined} title={new Date(expiresAt).toLocaleString()}>
      {left.text}
    </time>
  );
}
