import type { AuditEvent, Member } from "@fluid/sdk";
import { Time } from "./Time";

/** Audit events as a table, newest first, with actors named by email when they are members. */
export function AuditEvents({ events, members }: { events: AuditEvent[]; members: Member[] | undefined }) {
  const actor = (e: AuditEvent) =>
    e.actor_user_id === null
      ? "fluid"
      : (members?.find((m) => m.user_id === e.actor_user_id)?.email ?? e.actor_user_id.slice(0, 8));
  return (
    <div className="table-wrap">
      <table aria-label="Audit events">
        <thead>
          <tr>
            <th scope="col">Seq</th>
            <th scope="col">When</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td>{e.seq}</td>
              <td>
                <Time at={e.at} />
              </td>
              <td>
                {actor(e)}
                {e.actor_key_id && <span className="muted"> (API key)</span>}
              </td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>
                {e.target_type} <code>{e.target_id}</code>
              </td>
              <td className="details">
                <code>{JSON.stringify(e.details)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
