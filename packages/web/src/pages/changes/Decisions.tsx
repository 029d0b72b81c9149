import { type ChangeRequest, FluidError, type Member, type Organization } from "@fluid/sdk";
import { useState } from "react";
import { ErrorNotice } from "../../components/Notice";
import { Time } from "../../components/Time";
import { useAction } from "../../lib/action";
import { api, unwrap } from "../../lib/api";
import { decisionControls } from "../../lib/approval";

interface Props {
  org: Organization;
  userId: string;
  request: ChangeRequest;
  members: Member[] | undefined;
  /** Loads the request again: after a decision, or when the page turned out to be stale. */
  reload: () => void;
}

const short = (hash: string) => hash.slice(0, 12);

/**
 * Approvals and rejections bound to hashes, and the controls to add one. Approve sends the hashes
 * this page shows: if the request changed since it was loaded, the server refuses with 409 and the
 * page says why instead of approving something nobody reviewed.
 */
export function Decisions({ org, userId, request, members, reload }: Props) {
  const { busy, error, run } = useAction();
  const [comment, setComment] = useState("");
  const controls = decisionControls(org, userId, request);
  const who = (id: string) => members?.find((m) => m.user_id === id)?.email ?? id.slice(0, 8);
  const params = { path: { slug: org.slug, changeRequestId: request.id } };

  const decide = async (decision: "approve" | "reject") => {
    const body = comment ? { comment } : {};
    const call = () =>
      decision === "approve"
        ? api.POST("/v1/orgs/{slug}/change-requests/{changeRequestId}/approve", {
            params,
            body: { diff_hash: request.diff_hash, playbook_hash: request.playbook_hash, ...body },
          })
        : api.POST("/v1/orgs/{slug}/change-requests/{changeRequestId}/reject", { params, body });
    const answer = await run(async () => {
      try {
        return await unwrap(call());
      } catch (err) {
        if (err instanceof FluidError && err.status === 409) {
          throw new Error(`Not ${decision === "approve" ? "approved" : "rejected"}: ${err.message}.`);
        }
        throw err;
      }
    });
    if (answer) {
      setComment("");
      reload();
    }
  };

  return (
    <section className="card" aria-labelledby="decisions-title">
      <h2 id="decisions-title">Approvals</h2>
      {request.approvals.length === 0 && <p className="muted">No approvals or rejections yet.</p>}
      <ul className="rows" aria-label="Approvals and rejections">
        {request.approvals.map((a) => (
          <li key={a.id}>
            <span>
              <strong>{a.decision === "approve" ? "Approved" : "Rejected"}</strong> by {who(a.approver_id)},{" "}
              <Time at={a.at} /> · diff <code>{short(a.diff_hash)}</code> · playbook{" "}
              <code>{short(a.playbook_hash)}</code>
              {a.comment && <> · “{a.comment}”</>}
            </span>
            {a.decision === "approve" && (
              <span className={a.current ? "ok" : "muted"}>{a.current ? "current" : "stale: the request changed"}</span>
            )}
          </li>
        ))}
      </ul>
      {controls === "reject-only" && (
        <p className="warn">You cannot approve your own change: another admin must (two-person rule).</p>
      )}
      {(controls === "approve-and-reject" || controls === "reject-only") && (
        <div className="stack">
          {controls === "approve-and-reject" && (
            <p className="muted">
              Approving diff <code>{short(request.diff_hash)}</code> and playbook{" "}
              <code>{short(request.playbook_hash)}</code> as shown on this page
              {request.state === "verified" ? "." : "; the server approves only a verified request."}
            </p>
          )}
          <label>
            Comment (optional)
            <input value={comment} onChange={(e) => setComment(e.target.value)} maxLength={4096} />
          </label>
          <div className="actions">
            {controls === "approve-and-reject" && (
              <button type="button" disabled={busy} onClick={() => decide("approve")}>
                Approve
              </button>
            )}
            <button type="button" className="danger" disabled={busy} onClick={() => decide("reject")}>
              Reject
            </button>
          </div>
        </div>
      )}
      <ErrorNotice error={error} />
      {error && (
        <button type="button" className="secondary" onClick={reload}>
          Reload the request
        </button>
      )}
    </section>
  );
}
