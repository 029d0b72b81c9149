import { type FormEvent, useState } from "react";
import { ErrorNotice } from "../../components/Notice";
import { Time } from "../../components/Time";
import { useAction } from "../../lib/action";
import { api, unwrap } from "../../lib/api";
import { usePoll } from "../../lib/poll";

/** The sandbox's snapshots, and taking a new one. */
export function Snapshots({ org, sandboxId, canOperate }: { org: string; sandboxId: string; canOperate: boolean }) {
  const params = { path: { slug: org, id: sandboxId } };
  const snapshots = usePoll(`snapshots:${sandboxId}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/sandboxes/{id}/snapshots", { params }));
    return list.snapshots;
  });
  const { busy, error, run } = useAction();
  const [name, setName] = useState("");
  const [memory, setMemory] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const taken = await run(() =>
      unwrap(api.POST("/v1/orgs/{slug}/sandboxes/{id}/snapshot", { params, body: { name, include_memory: memory } })),
    );
    if (taken) setName("");
    await snapshots.reload();
  };

  return (
    <section className="card" aria-labelledby="snapshots-title">
      <h2 id="snapshots-title">Snapshots</h2>
      {canOperate && (
        <form onSubmit={submit} className="inline-form">
          <label>
            Snapshot name
            <input
              value={name}
              onChange={(e) => setName(e.target.value)}
              pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,62}"
              required
            />
          </label>
          <label className="check">
            <input type="checkbox" checked={memory} onChange={(e) => setMemory(e.target.checked)} />
            Include memory
          </label>
          <button type="submit" disabled={busy}>
            Take snapshot
          </button>
        </form>
      )}
      <ErrorNotice error={error ?? snapshots.error} />
      {snapshots.data?.length === 0 && <p className="muted">No snapshots.</p>}
      <ul>
        {snapshots.data?.map((s) => (
          <li key={s.id}>
            <strong>{s.name}</strong> · {(s.size_bytes / 1_048_576).toFixed(1)} MiB
            {s.has_memory ? " · with memory" : ""} · <Time at={s.created_at} />
          </li>
        ))}
      </ul>
    </section>
  );
}
