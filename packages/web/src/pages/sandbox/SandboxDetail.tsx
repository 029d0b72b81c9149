import type { Organization } from "@fluid/sdk";
import { lazy, Suspense, useRef } from "react";
import { Lease } from "../../components/Lease";
import { Link } from "../../components/Link";
import { ErrorNotice } from "../../components/Notice";
import { Time } from "../../components/Time";
import { useAction } from "../../lib/action";
import { api, unwrap } from "../../lib/api";
import { usePoll } from "../../lib/poll";
import { can } from "../../lib/roles";
import { navigate, orgPath } from "../../lib/router";
import { Commands } from "./Commands";
import { Files } from "./Files";
import { Snapshots } from "./Snapshots";

const EXTEND_SECONDS = 3_600;

// xterm.js is most of the dashboard's weight: it loads with the first sandbox page that offers a terminal.
const Terminal = lazy(() => import("./Terminal").then((m) => ({ default: m.Terminal })));

/** One sandbox: its facts, lifecycle controls, commands, terminal, files and snapshots. */
export function SandboxDetail({ org, userId, id }: { org: Organization; userId: string; id: string }) {
  const params = { path: { slug: org.slug, id } };
  const sandbox = usePoll(`sandbox:${id}`, () => unwrap(api.GET("/v1/orgs/{slug}/sandboxes/{id}", { params })), 3_000);
  const { busy, error, run } = useAction();
  const confirmRef = useRef<HTMLDialogElement>(null);
  const s = sandbox.data;

  const act = async (call: () => Promise<unknown>) => {
    await run(call);
    await sandbox.reload();
  };
  const destroy = async () => {
    confirmRef.current?.close();
    const done = await run(() => unwrap(api.DELETE("/v1/orgs/{slug}/sandboxes/{id}", { params })));
    if (done) navigate(orgPath(org.slug, "sandboxes"));
  };

  if (!s) {
    return (
      <>
        <p>
          <Link href={orgPath(org.slug, "sandboxes")}>← Sandboxes</Link>
        </p>
        <ErrorNotice error={sandbox.error} />
        {!sandbox.error && <p>Loading…</p>}
      </>
    );
  }
  const operate = can.operate(org.role, userId, s) && !s.ended_at;
  const contents = can.readContents(org.role, userId, s);
  const running = s.state === "RUNNING";

  return (
    <>
      <p>
        <Link href={orgPath(org.slug, "sandboxes")}>← Sandboxes</Link>
      </p>
      <h1>
        {s.name} <span className={`state state-${s.state.toLowerCase()}`}>{s.state}</span>
      </h1>
      <dl className="facts">
        <dt>Image / source</dt>
        <dd>{s.source_vm}</dd>
        <dt>Lease</dt>
        <dd>
          <Lease expiresAt={s.expires_at} endedAt={s.ended_at} />
        </dd>
        <dt>Host</dt>
        <dd>
          <code>{s.host_id}</code>
        </dd>
        <dt>Resources</dt>
        <dd>
          {s.vcpus} vCPU · {s.memory_mb} MiB{s.ip_address ? ` · ${s.ip_address}` : ""}
        </dd>
        <dt>Created</dt>
        <dd>
          <Time at={s.created_at} />
        </dd>
        {s.end_reason && (
          <>
            <dt>Ended</dt>
            <dd>{s.end_reason}</dd>
          </>
        )}
        {s.error && (
          <>
            <dt>Error</dt>
            <dd className="error">{s.error}</dd>
          </>
        )}
      </dl>
      {operate && (
        <div className="actions">
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              act(() =>
                unwrap(
                  api.POST("/v1/orgs/{slug}/sandboxes/{id}/extend", { params, body: { ttl_seconds: EXTEND_SECONDS } }),
                ),
              )
            }
          >
            Extend 1 h
          </button>
          {running ? (
            <button
              type="button"
              disabled={busy}
              onClick={() => act(() => unwrap(api.POST("/v1/orgs/{slug}/sandboxes/{id}/stop", { params })))}
            >
              Stop
            </button>
          ) : (
            <button
              type="button"
              disabled={busy || s.state !== "STOPPED"}
              onClick={() => act(() => unwrap(api.POST("/v1/orgs/{slug}/sandboxes/{id}/start", { params })))}
            >
              Start
            </button>
          )}
          <button type="button" className="danger" disabled={busy} onClick={() => confirmRef.current?.showModal()}>
            Destroy…
          </button>
        </div>
      )}
      <ErrorNotice error={error} />
      <dialog ref={confirmRef} aria-labelledby="destroy-title">
        <h2 id="destroy-title">Destroy {s.name}?</h2>
        <p>The VM and its disk are deleted. Snapshots stay. This cannot be undone.</p>
        <div className="actions">
          <button type="button" className="danger" onClick={destroy}>
            Destroy sandbox
          </button>
          <button type="button" className="secondary" onClick={() => confirmRef.current?.close()}>
            Cancel
          </button>
        </div>
      </dialog>
      {contents ? (
        <>
          <Commands org={org.slug} sandboxId={s.id} canRun={operate && running} />
          {operate && running && (
            <Suspense fallback={<p className="muted">Loading the terminal…</p>}>
              <Terminal org={org.slug} sandboxId={s.id} />
            </Suspense>
          )}
          {running && <Files org={org.slug} sandboxId={s.id} />}
          <Snapshots org={org.slug} sandboxId={s.id} canOperate={operate && running} />
        </>
      ) : (
        <p className="muted">Command output and files are visible to the sandbox's owner and to admins.</p>
      )}
    </>
  );
}
