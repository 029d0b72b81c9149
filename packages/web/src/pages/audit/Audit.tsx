import type { Organization } from "@fluid/sdk";
import { type FormEvent, useState } from "react";
import { AuditEvents } from "../../components/AuditEvents";
import { ErrorNotice } from "../../components/Notice";
import { api, unwrap } from "../../lib/api";
import { POLL_MS, usePoll } from "../../lib/poll";
import { can } from "../../lib/roles";
import { ChainStatus } from "./ChainStatus";

interface Filters {
  action: string;
  target_type: string;
  target_id: string;
  actor_user_id: string;
  since: string;
  until: string;
}

const none: Filters = { action: "", target_type: "", target_id: "", actor_user_id: "", since: "", until: "" };
const PAGE = 50;

/** The filters as the API's query: empty fields dropped, local date-times as instants. */
function auditQuery(filters: Filters, beforeSeq: number | undefined) {
  const query: Record<string, string | number> = { limit: PAGE };
  for (const [key, value] of Object.entries(filters)) {
    if (!value) continue;
    query[key] = key === "since" || key === "until" ? new Date(value).toISOString() : value.trim();
  }
  if (beforeSeq !== undefined) query.before_seq = beforeSeq;
  return query;
}

/** The org's audit log (admins): filters, newest first with keyset paging to older events, and the chain's status. */
export function Audit({ org }: { org: Organization }) {
  const [draft, setDraft] = useState<Filters>(none);
  const [filters, setFilters] = useState<Filters>(none);
  const [cursors, setCursors] = useState<number[]>([]);
  const beforeSeq = cursors.at(-1);
  const admin = can.manageOrg(org.role);
  const page = usePoll(
    `audit:${org.slug}:${JSON.stringify(filters)}:${beforeSeq ?? "newest"}`,
    () =>
      admin
        ? unwrap(
            api.GET("/v1/orgs/{slug}/audit", {
              params: { path: { slug: org.slug }, query: auditQuery(filters, beforeSeq) },
            }),
          )
        : Promise.resolve(undefined),
    // Only the newest page changes as events are appended; older pages are fixed.
    beforeSeq === undefined ? POLL_MS : null,
  );
  const members = usePoll(`members:${org.slug}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/members", { params: { path: { slug: org.slug } } }));
    return list.members;
  });

  if (!admin) return <p>Only admins of {org.name} read the audit log.</p>;
  const field = (key: keyof Filters) => ({
    value: draft[key],
    onChange: (e: { target: { value: string } }) => setDraft({ ...draft, [key]: e.target.value }),
  });
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters(draft);
    setCursors([]);
  };
  const next = page.data?.next_before_seq ?? null;

  return (
    <>
      <h1>Audit</h1>
      <ChainStatus org={org.slug} />
      <form onSubmit={apply} className="inline-form" aria-label="Filter audit events">
        <label>
          Action or prefix
          <input {...field("action")} placeholder="sandbox or sandbox.created" />
        </label>
        <label>
          Target type
          <input {...field("target_type")} placeholder="change_request" />
        </label>
        <label>
          Target id
          <input {...field("target_id")} />
        </label>
        <label>
          Actor
          <select {...field("actor_user_id")}>
            <option value="">anyone</option>
            {members.data?.map((m) => (
              <option key={m.user_id} value={m.user_id}>
                {m.email}
              </option>
            ))}
          </select>
        </label>
        <label>
          Since
          <input type="datetime-local" {...field("since")} />
        </label>
        <label>
          Until
          <input type="datetime-local" {...field("until")} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorNotice error={page.error} />
      {page.data?.events.length === 0 && <p>No audit events match.</p>}
      {page.data && page.data.events.length > 0 && <AuditEvents events={page.data.events} members={members.data} />}
      <div className="actions">
        {cursors.length > 0 && (
          <button type="button" className="secondary" onClick={() => setCursors([])}>
            Newest
          </button>
        )}
        {cursors.length > 0 && (
          <button type="button" className="secondary" onClick={() => setCursors(cursors.slice(0, -1))}>
            Newer
          </button>
        )}
        {next !== null && (
          <button type="button" className="secondary" onClick={() => setCursors([...cursors, next])}>
            Older
          </button>
        )}
      </div>
    </>
  );
}
