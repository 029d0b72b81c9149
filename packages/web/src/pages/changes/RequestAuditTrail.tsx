import type { Member } from "@fluid/sdk";
import { AuditEvents } from "../../components/AuditEvents";
import { ErrorNotice } from "../../components/Notice";
import { api, unwrap } from "../../lib/api";
import { usePoll } from "../../lib/poll";

/** The audit events whose target is this change request (admins read the audit log). */
export function RequestAuditTrail({ org, id, members }: { org: string; id: string; members: Member[] | undefined }) {
  const trail = usePoll(`audit-trail:${id}`, async () => {
    const page = await unwrap(
      api.GET("/v1/orgs/{slug}/audit", { params: { path: { slug: org }, query: { target_id: id, limit: 200 } } }),
    );
    return page.events;
  });
  return (
    <section className="card" aria-labelledby="trail-title">
      <h2 id="trail-title">Audit trail</h2>
      <ErrorNotice error={trail.error} />
      {trail.data?.length === 0 && <p className="muted">No audit events for this request yet.</p>}
      {trail.data && trail.data.length > 0 && <AuditEvents events={trail.data} members={members} />}
    </section>
  );
}
