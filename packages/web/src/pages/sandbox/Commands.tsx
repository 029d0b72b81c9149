import { type FormEvent, useState } from "react";
import { ErrorNotice } from "../../components/Notice";
import { Time } from "../../components/Time";
import { useAction } from "../../lib/action";
import { api, unwrap } from "../../lib/api";
import { usePoll } from "../../lib/poll";

interface Props {
  org: string;
  sandboxId: string;
  canRun: boolean;
}

/**
 * The command runner and the sandbox's command history (its audit trail). Interactive work goes
 * in the Terminal section.
 */
export function Commands({ org, sandboxId, canRun }: Props) {
  const params = { path: { slug: org, id: sandboxId } };
  const history = usePoll(`commands:${sandboxId}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/sandboxes/{id}/commands", { params }));
    return list.commands;
  });
  const { busy, error, run } = useAction();
  const [command, setCommand] = useState("");

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await run(() =>
      unwrap(api.POST("/v1/orgs/{slug}/sandboxes/{id}/run", { params, body: { command } })),
    );
    if (result) setCommand("");
    await history.reload();
  };

  return (
    <section className="card" aria-labelledby="commands-title">
      <h2 id="commands-title">Commands</h2>
      {canRun && (
        <form onSubmit={submit} className="stack">
          <label>
            Command
            <textarea
              value={command}
              onChange={(e) => setCommand(e.target.value)}
              rows={2}
              required
              spellCheck={false}
              className="mono"
            />
          </label>
          <p className="muted">
            Runs as root in the sandbox; its output is kept below. For interactive work, open a terminal.
          </p>
          <button type="submit" disabled={busy}>
            {busy ? "Running…" : "Run"}
          </button>
          <ErrorNotice error={error} />
        </form>
      )}
      <ErrorNotice error={history.error} />
      {history.data?.length === 0 && <p className="muted">No commands yet.</p>}
      <ol className="history" aria-label="Command history">
        {history.data?.map((c) => (
          <li key={c.id} className="command">
            <div className="command-head">
              <code>$ {c.command}</code>
              <span className={c.exit_code === 0 ? "ok" : "warn"}>
                {c.status}
                {c.exit_code !== null ? ` · exit ${c.exit_code}` : ""}
                {c.duration_ms !== null ? ` · ${c.duration_ms} ms` : ""}
              </span>
              <Time at={c.started_at} />
            </div>
            {c.stdout ? (
              <pre className="stdout">
                {c.stdout}
                {c.stdout_truncated ? "\n… (truncated)" : ""}
              </pre>
            ) : null}
            {c.stderr ? (
              <pre className="stderr" title="stderr">
                {c.stderr}
                {c.stderr_truncated ? "\n… (truncated)" : ""}
              </pre>
            ) : null}
            {c.error ? <p className="error">{c.error}</p> : null}
          </li>
        ))}
      </ol>
    </section>
  );
}
