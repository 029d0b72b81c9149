/** A timestamp shown in the reader's locale, machine-readable in the markup. */
export function Time({ at }: { at: string | null | undefined }) {
  if (!at) return <span className="muted">never</span>;
  return <time dateTime={at}>{new Date(at).toLocaleString()}</time>;
}
