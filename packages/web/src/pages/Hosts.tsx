import type { Host, Organization } from "@fluid/sdk";
import { type FormEvent, useState } from "react";
import { ErrorNotice } from "../components/Notice";
import { SecretOnce } from "../components/SecretOnce";
import { Table } from "../components/Table";
import { Time } from "../components/Time";
import { useAction } from "../lib/action";
import { api, unwrap } from "../lib/api";
import { usePoll } from "../lib/poll";
import { can } from "../lib/roles";

/** The gRPC port fluid-server listens on unless told otherwise; the browser cannot see the real one. */
const DEFAULT_GRPC_PORT = 9090;

const used = (total: number, available: number) => `${total - available} / ${total}`;

function HostRow({ host }: { host: Host }) {
  const online = host.status === "ONLINE";
  return (
    <tr>
      <td>{host.hostname}</td>
      <td>
        <span className={online ? "state state-running" : "state state-error"}>{host.status}</span>
      </td>
      <td>
        <Time at={host.last_heartbeat} />
      </td>
      <td>{used(host.total_cpus, host.available_cpus)}</td>
      <td>{used(host.total_memory_mb, host.available_memory_mb)} MiB</td>
      <td>{used(host.total_disk_mb, host.available_disk_mb)} MiB</td>
      <td>{host.active_sandboxes}</td>
      <td>{host.base_images.join(", ") || <span className="muted">none</span>}</td>
    </tr>
  );
}

function HostTokens({ org }: { org: string }) {
  const params = { path: { slug: org } };
  const tokens = usePoll(`host-tokens:${org}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/hosts/tokens", { params }));
    return list.tokens;
  });
  const { busy, error, run } = useAction();
  const [name, setName] = useState("");
  const [created, setCreated] = useState<{ name: string; token: string } | undefined>();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const token = await run(() => unwrap(api.POST("/v1/orgs/{slug}/hosts/tokens", { params, body: { name } })));
    if (!token) return;
    setCreated({ name: token.name, token: token.token });
    setName("");
    await tokens.reload();
  };
  const revoke = async (tokenId: string) => {
    await run(() =>
      unwrap(api.DELETE("/v1/orgs/{slug}/hosts/tokens/{tokenId}", { params: { path: { slug: org, tokenId } } })),
    );
    await tokens.reload();
  };

  return (
    <section className="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">Host tokens</h2>
      <p className="muted">A host token lets one machine join this organization as a sandbox host.</p>
      <form onSubmit={submit} className="inline-form">
        <label>
          Token name
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
        </label>
        <button type="submit" disabled={busy}>
          Create host token
        </button>
      </form>
      <ErrorNotice error={error ?? tokens.error} />
      {created && (
        <SecretOnce
          label={`Host token “${created.name}”`}
          secret={created.token}
          usage={`fluid-daemon run --server ${window.location.hostname}:${DEFAULT_GRPC_PORT} --token ${created.token} --state-dir /var/lib/fluid/daemon`}
        />
      )}
      <ul className="rows">
        {tokens.data?.map((t) => (
          <li key={t.id}>
            <span>
              <strong>{t.name}</strong> · last used <Time at={t.last_used_at} />
            </span>
            <button
              type="button"
              className="danger"
              onClick={() => revoke(t.id)}
              aria-label={`Revoke host token ${t.name}`}
            >
              Revoke
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The org's sandbox hosts with live status and capacity, and (for admins) their tokens. */
export function Hosts({ org }: { org: Organization }) {
  const hosts = usePoll(`hosts:${org.slug}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/hosts", { params: { path: { slug: org.slug } } }));
    return list.hosts;
  });
  return (
    <>
      <h1>Hosts</h1>
      <ErrorNotice error={hosts.error} />
      {hosts.data?.length === 0 && (
        <p>No host has connected yet. Create a host token below and start a daemon with it.</p>
      )}
      {hosts.data && hosts.data.length > 0 && (
        <Table
          columns={["Host", "Status", "Last heartbeat", "CPUs used", "Memory used", "Disk used", "Sandboxes", "Images"]}
        >
          {hosts.data.map((h) => (
            <HostRow key={h.host_id} host={h} />
          ))}
        </Table>
      )}
      {can.manageOrg(org.role) && <HostTokens org={org.slug} />}
    </>
  );
}
