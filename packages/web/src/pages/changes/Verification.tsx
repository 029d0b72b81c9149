import type { ChangeRequest, ChangeRequestVerification } from "@fluid/sdk";
import { useNow } from "../../lib/lease";

type Recap = NonNullable<ChangeRequestVerification["first_recap"]>;

function RecapLine({ label, recap }: { label: string; recap: Recap | null }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>
        {recap
          ? `ok=${recap.ok} changed=${recap.changed} unreachable=${recap.unreachable} failed=${recap.failed} ` +
            `skipped=${recap.skipped} rescued=${recap.rescued} ignored=${recap.ignored}`
          : "not reached"}
      </dd>
    </>
  );
}

function Running({ since }: { since: string | null }) {
  const now = useNow();
  const seconds = since ? Math.max(0, Math.floor((now - Date.parse(since)) / 1000)) : undefined;
  return (
    <p role="status">
      Verifying… {seconds !== undefined && `(${seconds} s so far)`} A fresh clone is applying the playbook twice; this
      page refreshes by itself.
    </p>
  );
}

/** The latest verification: both runs' recaps, equivalence, every mismatch and the log's end. */
export function Verification({ request }: { request: ChangeRequest }) {
  const v = request.verification;
  return (
    <section className="card" aria-labelledby="verification-title">
      <h2 id="verification-title">Verification</h2>
      {request.state === "verifying" && <Running since={request.verification_started_at} />}
      {!v && request.state !== "verifying" && <p className="muted">Not verified yet.</p>}
      {v && (
        <>
          <p className={v.passed ? "ok" : "error"}>
            <strong>{v.passed ? "Passed" : "Failed"}</strong>
            {v.error ? `: ${v.error}` : ""}
          </p>
          <dl className="facts">
            <RecapLine label="First run" recap={v.first_recap} />
            <RecapLine label="Second run" recap={v.second_recap} />
            <dt>Idempotent</dt>
            <dd>{v.second_run_changed === null ? "not reached" : v.second_run_changed === 0 ? "yes" : "no"}</dd>
            <dt>Equivalent</dt>
            <dd>{v.equivalent === null ? "not reached" : v.equivalent ? "yes" : "no"}</dd>
            <dt>Duration</dt>
            <dd>{(v.duration_ms / 1000).toFixed(1)} s</dd>
          </dl>
          {v.mismatches.length > 0 && (
            <>
              <h3>Mismatches between the sandbox and the clone</h3>
              <ul>
                {v.mismatches.map((m) => (
                  <li key={`${m.kind}:${m.key}:${m.problem}`}>
                    {m.kind} <code>{m.key}</code>: {m.problem.replaceAll("_", " ")}
                    {m.fields?.map((f) => (
                      <div key={f.field} className="muted">
                        {f.field}: expected <code>{JSON.stringify(f.expected)}</code>, clone has{" "}
                        <code>{JSON.stringify(f.actual)}</code>
                      </div>
                    ))}
                  </li>
                ))}
              </ul>
            </>
          )}
          {v.log_excerpt && (
            <>
              <h3>Log excerpt</h3>
              <pre>{v.log_excerpt}</pre>
            </>
          )}
        </>
      )}
    </section>
  );
}
