import type { Member, Organization } from "@fluid/sdk";
import { ErrorNotice } from "../../components/Notice";
import { Table } from "../../components/Table";
import { Time } from "../../components/Time";
import { api, unwrap } from "../../lib/api";
import { usePoll } from "../../lib/poll";
import { SourceVms } from "./SourceVms";

/** Production VMs reached read-only: the org's source hosts, their VMs, and the log of every access. */
export function Sources({ org }: { org: Organization }) {
  const params = { path: { slug: org.slug } };
  const hosts = usePoll(`source-hosts:${org.slug}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/source-hosts", { params }));
    return list.source_hosts;
  });
  const commands = usePoll(`source-commands:${org.slug}`, async () => {
    const list = await unwrap(
      api.GET("/v1/orgs/{slug}/source-commands", { params: { ...params, query: { limit: 100 } } }),
    );
    return list.source_commands;
  });
  const members = usePoll(`members:${org.slug}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/members", { params }));
    return list.members;
  });
  const who = (id: string) => members.data?.find((m: Member) => m.user_id === id)?.email ?? id.slice(0, 8);

  return (
    <>
      <h1>Source VMs</h1>
      <ErrorNotice error={hosts.error} />
      {hosts.data?.length === 0 && (
        <p>
          No source hosts yet. Add one with <code>fluid source hosts add</code>; its VMs are listed here and every
          access to them is logged below.
        </p>
      )}
      {hosts.data?.map((host) => (
        <SourceVms key={host.id} org={org.slug} host={host} />
      ))}
      <section className="card" aria-labelledby="source-log-title">
        <h2 id="source-log-title">Command log</h2>
        <ErrorNotice error={commands.error} />
        {commands.data?.length === 0 && <p className="muted">Nothing has read a source VM yet.</p>}
        {commands.data && commands.data.length > 0 && (
          <Table columns={["When", "Who", "Host / VM", "Command", "Outcome"]} label="Source VM command log">
            {commands.data.map((c) => (
              <tr key={c.id}>
                <td>
                  <Time at={c.started_at} />
                </td>
                <td>{who(c.actor_user_id)}</td>
                <td>
                  {c.source_host_name} / {c.vm}
                </td>
                <td>
                  <code>{c.kind === "run" ? c.command : `${c.kind} ${c.command}`}</code>
                </td>
                <td className={c.outcome === "ok" ? "ok" : "warn"}>
                  {c.outcome}
                  {c.exit_code !== null ? ` · exit ${c.exit_code}` : ""} · {c.duration_ms} ms
                  {c.detail && <div className="muted">{c.detail}</div>}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </section>
    </>
  );
}
