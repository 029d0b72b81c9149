import { orgPath } from "../lib/router";
import { Link } from "./Link";

/** What a new org needs next: the CLI logged in, and a host to run sandboxes on. */
export function EmptyState({ org, canManage }: { org: string; canManage: boolean }) {
  const origin = window.location.origin;
  return (
    <section className="card empty" aria-labelledby="empty-title">
      <h2 id="empty-title">No sandboxes yet</h2>
      <ol>
        <li>
          Log the CLI in with an API key
          {canManage ? (
            <>
              {" "}
              (create one under <Link href={orgPath(org, "admin")}>Admin</Link>)
            </>
          ) : null}
          :
          <pre>
            <code>fluid login --server {origin} --api-key fl_…</code>
          </pre>
        </li>
        <li>
          Add a sandbox host: create a host token on the <Link href={orgPath(org, "hosts")}>Hosts</Link> page and start{" "}
          <code>fluid-daemon run</code> with it on a machine with QEMU.
        </li>
        <li>
          Create a sandbox here or with <code>fluid sandbox create tiny</code>, or let an agent do it through{" "}
          <code>fluid mcp</code>.
        </li>
      </ol>
    </section>
  );
}
