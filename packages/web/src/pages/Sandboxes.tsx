import type { Member, Organization, Sandbox } from "@fluid/sdk";
import { type FormEvent, useState } from "react";
import { EmptyState } from "../components/EmptyState";
import { Lease } from "../components/Lease";
import { Link } from "../components/Link";
import { ErrorNotice } from "../components/Notice";
import { Table } from "../components/Table";
import { useAction } from "../lib/action";
import { api, unwrap } from "../lib/api";
import { usePoll } from "../lib/poll";
import { can } from "../lib/roles";
import { navigate, orgPath } from "../lib/router";

function CreateSandbox({ org }: { org: string }) {
  const { busy, error, run } = useAction();
  const [image, setImage] = useState("tiny");
  const [name, setName] = useState("");
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const created = await run(() =>
      unwrap(
        api.POST("/v1/orgs/{slug}/sandboxes", {
          // Answer at once (CREATING); the detail page follows the boot by polling.
          params: { path: { slug: org }, query: { wait: "false" } },
          body: { source_vm: image, ...(name ? { name } : {}) },
        }),
      ),
    );
    if (created) navigate(orgPath(org, "sandboxes", created.id));
  };
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Create sandbox">
      <label>
        Image or source VM
        <input value={image} onChange={(e) => setImage(e.target.value)} required />
      </label>
      <label>
        Name (optional)
        <input value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <button type="submit" disabled={busy}>
        {busy ? "Creating…" : "Create sandbox"}
      </button>
      <ErrorNotice error={error} />
    </form>
  );
}

/** The org's live sandboxes: state, image, host, lease countdown and owner. */
export function Sandboxes({ org }: { org: Organization }) {
  const sandboxes = usePoll(`sandboxes:${org.slug}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/sandboxes", { params: { path: { slug: org.slug } } }));
    return list.sandboxes;
  });
  const members = usePoll(`members:${org.slug}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/members", { params: { path: { slug: org.slug } } }));
    return list.members;
  });
  const owner = (sandbox: Sandbox) =>
    members.data?.find((m: Member) => m.user_id === sandbox.created_by)?.email ?? sandbox.created_by.slice(0, 8);

  return (
    <>
      <h1>Sandboxes</h1>
      {can.createSandbox(org.role) && <CreateSandbox org={org.slug} />}
      <ErrorNotice error={sandboxes.error} />
      {sandboxes.data?.length === 0 && <EmptyState org={org.slug} canManage={can.manageOrg(org.role)} />}
      {sandboxes.data && sandboxes.data.length > 0 && (
        <Table columns={["Name", "State", "Image / source", "Host", "Lease", "Owner"]}>
          {sandboxes.data.map((s) => (
            <tr key={s.id}>
              <td>
                <Link href={orgPath(org.slug, "sandboxes", s.id)}>{s.name}</Link>
              </td>
              <td>
                <span className={`state state-${s.state.toLowerCase()}`}>{s.state}</span>
              </td>
              <td>{s.source_vm}</td>
              <td>
                <code>{s.host_id.slice(0, 8)}</code>
              </td>
              <td>
                <Lease expiresAt={s.expires_at} endedAt={s.ended_at} />
              </td>
              <td>{owner(s)}</td>
            </tr>
          ))}
        </Table>
      )}
    </>
  );
}
