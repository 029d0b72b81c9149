import type { ChangeRequestSummary, Organization } from "@fluid/sdk";
import { useState } from "react";
import { Link } from "../../components/Link";
import { ErrorNotice } from "../../components/Notice";
import { Table } from "../../components/Table";
import { Time } from "../../components/Time";
import { api, unwrap } from "../../lib/api";
import { usePoll } from "../../lib/poll";
import { orgPath } from "../../lib/router";

const states = ["draft", "verifying", "verified", "verification_failed", "approved", "rejected", "applied"] as const;
type State = (typeof states)[number];

/** The org's change requests, newest first, filtered by state. */
export function ChangeRequests({ org }: { org: Organization }) {
  const [state, setState] = useState<State | "">("");
  const requests = usePoll(`change-requests:${org.slug}:${state}`, async () => {
    const query = { limit: 200, ...(state ? { state } : {}) };
    const list = await unwrap(
      api.GET("/v1/orgs/{slug}/change-requests", { params: { path: { slug: org.slug }, query } }),
    );
    return list.change_requests;
  });
  const members = usePoll(`members:${org.slug}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/members", { params: { path: { slug: org.slug } } }));
    return list.members;
  });
  const author = (r: ChangeRequestSummary) =>
    members.data?.find((m) => m.user_id === r.author_id)?.email ?? r.author_id.slice(0, 8);

  return (
    <>
      <h1>Change requests</h1>
      <p className="muted">
        Agents and people propose a sandbox's changes with <code>fluid change create</code>; review, verify and approve
        them here.
      </p>
      <label className="inline-form">
        State
        <select value={state} onChange={(e) => setState(e.target.value as State | "")}>
          <option value="">all</option>
          {states.map((s) => (
            <option key={s} value={s}>
              {s.replaceAll("_", " ")}
            </option>
          ))}
        </select>
      </label>
      <ErrorNotice error={requests.error} />
      {requests.data?.length === 0 && (
        <p>No change requests{state ? ` in state ${state.replaceAll("_", " ")}` : ""}.</p>
      )}
      {requests.data && requests.data.length > 0 && (
        <Table columns={["Title", "State", "Source", "Author", "Updated"]}>
          {requests.data.map((r) => (
            <tr key={r.id}>
              <td>
                <Link href={orgPath(org.slug, "change-requests", r.id)}>{r.title}</Link>
              </td>
              <td>
                <span className={`state cr-${r.state}`}>{r.state.replaceAll("_", " ")}</span>
              </td>
              <td>{r.source.vm}</td>
              <td>{author(r)}</td>
              <td>
                <Time at={r.updated_at} />
              </td>
            </tr>
          ))}
        </Table>
      )}
    </>
  );
}
