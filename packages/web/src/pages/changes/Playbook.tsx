import { useState } from "react";

/** The playbook as the server holds it (monospace, copyable) and what generation could not reproduce. */
export function Playbook({ yaml, notes, origin }: { yaml: string; notes: string[]; origin: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(yaml);
    setCopied(true);
  };
  return (
    <section className="card" aria-labelledby="playbook-title">
      <h2 id="playbook-title">Playbook</h2>
      <p className="muted">
        {origin} ·{" "}
        <button type="button" className="secondary" onClick={copy}>
          Copy playbook
        </button>{" "}
        {copied && <span role="status">Copied.</span>}
      </p>
      {notes.length > 0 && (
        <ul className="warn" aria-label="What the playbook does not reproduce">
          {notes.map((note) => (
            <li key={note}>{note}</li>
          ))}
        </ul>
      )}
      <pre className="mono">{yaml}</pre>
    </section>
  );
}
