import { type FormEvent, useState } from "react";
import { ErrorNotice } from "../components/Notice";
import { useAction } from "../lib/action";
import { api, unwrap } from "../lib/api";
import { navigate, orgPath } from "../lib/router";
import { useSession } from "../lib/session";

/** Creates an org (the server picks the slug from the name); the first page a new user sees. */
export function CreateOrg() {
  const session = useSession();
  const { busy, error, run } = useAction();
  const [name, setName] = useState("");
  const first = session.orgs.length === 0;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const org = await run(() => unwrap(api.POST("/v1/orgs", { body: { name } })));
    if (!org) return;
    await session.reload();
    navigate(orgPath(org.slug, "sandboxes"));
  };

  return (
    <main className="auth">
      <h1>{first ? "Welcome to fluid" : "New organization"}</h1>
      {first && (
        <p>
          Everything in fluid — hosts, sandboxes, keys — belongs to an organization. Create one to start; you can invite
          people to it later.
        </p>
      )}
      <form onSubmit={submit} className="stack">
        <label>
          Organization name
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
        </label>
        <ErrorNotice error={error} />
        <button type="submit" disabled={busy}>
          Create organization
        </button>
      </form>
    </main>
  );
}
