import type { AuditEvent, Member } from "@fluid/sdk";
import { Table } from "./Table";
import { Time } from "./Time";

/** Audit events as a table, newest first, with actors named by email when they are members. */
export function AuditEvents({ events, members }: { events: AuditEvent[]; members: Member[] | undefined }) {
  const actor = (e: AuditEvent) =>
    e.actor_user_id === null
      ? "fluid"
      : (members?.find((m) => m.user_id === e.actor_user_id)?.email ?? e.actor_user_id.slice(0, 8));
  return (
    <Table columns={["Seq", "When", "Actor", "Action", "Target", "Details"]} label="Audit events">
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
    </Table>
  );
}
