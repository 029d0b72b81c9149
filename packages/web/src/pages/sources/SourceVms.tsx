import type { components, SourceHost } from "@fluid/sdk";
import { useState } from "react";
import { ErrorNotice } from "../../components/Notice";
import { Table } from "../../components/Table";
import { Time } from "../../components/Time";
import { useAction } from "../../lib/action";
import { api, unwrap } from "../../lib/api";

type Vm = components["schemas"]["SourceVm"];

/**
 * One source host and its VMs. Listing them logs into the host over SSH (and is itself audited), so it
 * happens when asked, never on a timer.
 */
export function SourceVms({ org, host }: { org: string; host: SourceHost }) {
  const { busy, error, run } = useAction();
  const [vms, setVms] = useState<Vm[] | undefined>();
  const discover = async () => {
    const list = await run(() =>
      unwrap(
        api.GET("/v1/orgs/{slug}/source-hosts/{sourceHostId}/vms", {
          params: { path: { slug: org, sourceHostId: host.id } },
        }),
      ),
    );
    if (list) setVms(list.vms);
  };
  return (
    <section className="card" aria-labelledby={`source-${host.id}`}>
      <h2 id={`source-${host.id}`}>
        {host.name} <span className="muted">{host.type}</span>
      </h2>
      <p className="muted">
        <code>
          {host.ssh_user}@{host.hostname}:{host.ssh_port}
        </code>{" "}
        · added <Time at={host.created_at} />
      </p>
      <button type="button" className="secondary" disabled={busy} onClick={discover}>
        {busy ? "Listing…" : vms ? "List VMs again" : "List VMs"}
      </button>
      <ErrorNotice error={error} />
      {vms?.length === 0 && <p>No VMs on this host.</p>}
      {vms && vms.length > 0 && (
        <Table columns={["VM", "State", "Address", "Prepared", "Cached capture"]} label={`VMs on ${host.name}`}>
          {vms.map((vm) => (
            <tr key={vm.name}>
              <td>{vm.name}</td>
              <td>{vm.state}</td>
              <td>{vm.ip_address ?? <span className="muted">unknown</span>}</td>
              <td>{vm.prepared ? "yes" : "no"}</td>
              <td>
                {vm.cached_captured_at ? <Time at={vm.cached_captured_at} /> : <span className="muted">none</span>}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}
