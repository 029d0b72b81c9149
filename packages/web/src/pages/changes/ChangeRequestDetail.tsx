import type { Organization } from "@fluid/sdk";
import { useEffect, useState } from "react";
import { Link } from "../../components/Link";
import { ErrorNotice } from "../../components/Notice";
import { Time } from "../../components/Time";
import { useAction } from "../../lib/action";
import { api, unwrap } from "../../lib/api";
import { usePoll } from "../../lib/poll";
import { atLeast } from "../../lib/roles";
import { orgPath } from "../../lib/router";
import { Decisions } from "./Decisions";
import { DiffView } from "./DiffView";
import { Playbook } from "./Playbook";
import { RequestAuditTrail } from "./RequestAuditTrail";
import { Verification } from "./Verification";

const VERIFYING_POLL_MS = 2_000;
const verifiable = new Set(["draft", "verified", "verification_failed"]);

/**
 * One change request. It refreshes by itself only while a verification runs: otherwise the page
 * keeps what the reviewer is reading, so Approve binds to the hashes on screen.
 */
export function ChangeRequestDetail({ org, userId, id }: { org: Organization; userId: string; id: string }) {
  const params = { path: { slug: org.slug, changeRequestId: id } };
  const members = usePoll(`members:${org.slug}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/members", { params: { path: { slug: org.slug } } }));
    return list.members;
  });
  const [verifying, setVerifying] = useState(false);
  const request = usePoll(
    `change-request:${id}`,
    () => unwrap(api.GET("/v1/orgs/{slug}/change-requests/{changeRequestId}", { params })),
    verifying ? VERIFYING_POLL_MS : null,
  );
  const r = request.data;
  useEffect(() => setVerifying(r?.state === "verifying"), [r?.state]);
  const { busy, error, run } = useAction();
  const back = (
    <p>
      <Link href={orgPath(org.slug, "change-requests")}>← Change requests</Link>
    </p>
  );
  if (!r) {
    return (
      <>
        {back}
        <ErrorNotice error={request.error} />
        {!request.error && <p>Loading…</p>}
      </>
    );
  }
  const author = members.data?.find((m) => m.user_id === r.author_id)?.email ?? r.author_id.slice(0, 8);
  const mayVerify = (r.author_id === userId && atLeast(org.role, "member")) || atLeast(org.role, "admin");
  const verify = async () => {
    await run(() => unwrap(api.POST("/v1/orgs/{slug}/change-requests/{changeRequestId}/verify", { params })));
    await request.reload();
  };

  return (
    <>
      {back}
      <h1>
        {r.title} <span className={`state cr-${r.state}`}>{r.state.replaceAll("_", " ")}</span>
      </h1>
      {r.description && <p>{r.description}</p>}
      <dl className="facts">
        <dt>Source</dt>
        <dd>
          {r.source.kind === "image" ? "image" : "source VM"} <code>{r.source.vm}</code>
          {r.source.captured_at && (
            <>
              {" "}
              captured <Time at={r.source.captured_at} />
            </>
          )}
        </dd>
        <dt>Sandbox</dt>
        <dd>
          <Link href={orgPath(org.slug, "sandboxes", r.sandbox_id)}>
            <code>{r.sandbox_id}</code>
          </Link>
        </dd>
        <dt>Author</dt>
        <dd>{author}</dd>
        <dt>Created</dt>
        <dd>
          <Time at={r.created_at} />
        </dd>
        <dt>Hashes</dt>
        <dd>
          diff <code>{r.diff_hash}</code>
          <br />
          playbook <code>{r.playbook_hash}</code>
        </dd>
      </dl>
      {mayVerify && verifiable.has(r.state) && (
        <div className="actions">
          <button type="button" disabled={busy} onClick={verify}>
            {r.state === "draft" ? "Verify" : "Verify again"}
          </button>
        </div>
      )}
      <ErrorNotice error={error ?? request.error} />
      {r.diff ? (
        <DiffView diff={r.diff} />
      ) : (
        <p className="muted">The diff and playbook are visible to the request's author and to admins.</p>
      )}
      {r.playbook !== null && <Playbook yaml={r.playbook} notes={r.playbook_notes} origin={r.playbook_origin} />}
      <Verification request={r} />
      <Decisions org={org} userId={userId} request={r} members={members.data} reload={request.reload} />
      {atLeast(org.role, "admin") && <RequestAuditTrail org={org.slug} id={r.id} members={members.data} />}
    </>
  );
}
