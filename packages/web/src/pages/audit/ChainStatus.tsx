import { ErrorNotice } from "../../components/Notice";
import { api, unwrap } from "../../lib/api";
import { usePoll } from "../../lib/poll";

/** Whether the org's audit chain still verifies end to end, checked on load and on demand. */
export function ChainStatus({ org }: { org: string }) {
  const verdict = usePoll(
    `audit-verify:${org}`,
    () => unwrap(api.GET("/v1/orgs/{slug}/audit/verify", { params: { path: { slug: org } } })),
    null,
  );
  const v = verdict.data;
  return (
    <section className="card" aria-labelledby="chain-title">
      <h2 id="chain-title">Chain verification</h2>
      <ErrorNotice error={verdict.error} />
      {v && (
        <p role="status" className={v.valid ? "ok" : "error"}>
          {v.valid ? (
            <>
              <strong>Valid</strong>: {v.events} events, every hash and link recomputed
              {v.head_hash && (
                <>
                  {" "}
                  · head <code>{v.head_hash.slice(0, 16)}</code>
                </>
              )}
            </>
          ) : (
            <>
              <strong>Broken at seq {v.first_invalid?.seq}</strong>: {v.first_invalid?.reason} ({v.events} events)
            </>
          )}
        </p>
      )}
      <button type="button" className="secondary" onClick={() => verdict.reload()}>
        Verify again
      </button>
    </section>
  );
}
