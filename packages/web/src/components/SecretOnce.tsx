import { useState } from "react";

/** A secret the server shows only once, with a copy button; `usage` is the line to paste it into. */
export function SecretOnce({ label, secret, usage }: { label: string; secret: string; usage?: string }) {
  const [copied, setCopied] = useState<string | undefined>();
  const copy = async (text: string, what: string) => {
    await navigator.clipboard.writeText(text);
    setCopied(what);
  };
  return (
    <div className="secret" role="status">
      <p>
        <strong>{label}</strong> — copy it now: it is not shown again.
      </p>
      <div className="secret-row">
        <code data-testid="secret">{secret}</code>
        <button type="button" onClick={() => copy(secret, "secret")}>
          Copy
        </button>
      </div>
      {usage && (
        <div className="secret-row">
          <code>{usage}</code>
          <button type="button" onClick={() => copy(usage, "command")}>
            Copy command
          </button>
        </div>
      )}
      {copied && <p className="muted">Copied the {copied}.</p>}
    </div>
  );
}
