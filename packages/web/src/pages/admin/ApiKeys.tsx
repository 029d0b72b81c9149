import { type FormEvent, useState } from "react";
import { ErrorNotice } from "../../components/Notice";
import { SecretOnce } from "../../components/SecretOnce";
import { Time } from "../../components/Time";
import { useAction } from "../../lib/action";
import { api, unwrap } from "../../lib/api";
import { usePoll } from "../../lib/poll";
import type { Role } from "../../lib/roles";

const keyRoles: Role[] = ["viewer", "member", "admin"];

/** API keys for the CLI, SDK and agents: created once-shown, listed by prefix, revocable. */
export function ApiKeys({ org }: { org: string }) {
  const params = { path: { slug: org } };
  const keys = usePoll(`api-keys:${org}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/api-keys", { params }));
    return list.api_keys;
  });
  const { busy, error, run } = useAction();
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [created, setCreated] = useState<{ name: string; key: string } | undefined>();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const key = await run(() => unwrap(api.POST("/v1/orgs/{slug}/api-keys", { params, body: { name, role } })));
    if (!key) return;
    setCreated({ name: key.name, key: key.key });
    setName("");
    await keys.reload();
  };
  const revoke = async (keyId: string) => {
    await run(() => unwrap(api.DELETE("/v1/orgs/{slug}/api-keys/{keyId}", { params: { path: { slug: org, keyId } } })));
    await keys.reload();
  };

  return (
    <section className="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <form onSubmit={submit} className="inline-form">
        <label>
          Key name
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
        </label>
        <label>
          Key role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {keyRoles.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={busy}>
          Create API key
        </button>
      </form>
      <ErrorNotice error={error ?? keys.error} />
      {created && (
        <SecretOnce
          label={`API key “${created.name}”`}
          secret={created.key}
          usage={`fluid login --server ${window.location.origin} --api-key ${created.key}`}
        />
      )}
      <ul className="rows" aria-label="API keys">
        {keys.data?.map((k) => (
          <li key={k.id}>
            <span>
              <strong>{k.name}</strong> <code>{k.prefix}…</code> · {k.role} · last used <Time at={k.last_used_at} />
            </span>
            <button
              type="button"
              className="danger"
              disabled={busy}
              onClick={() => revoke(k.id)}
              aria-label={`Revoke API key ${k.name}`}
            >
              Revoke
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
