import type { Organization } from "@fluid/sdk";
import { ErrorNotice } from "../../components/Notice";
import { useAction } from "../../lib/action";
import { api, unwrap } from "../../lib/api";
import { usePoll } from "../../lib/poll";

/** Roles a membership can be changed to; ownership is fixed at org creation. */
const assignable = ["viewer", "member", "admin"] as const;
type AssignableRole = (typeof assignable)[number];

/** The org's members with their roles; admins change roles and remove members (never the owner). */
export function Members({ org, userId }: { org: Organization; userId: string }) {
  const slug = org.slug;
  const members = usePoll(`members:${slug}`, async () => {
    const list = await unwrap(api.GET("/v1/orgs/{slug}/members", { params: { path: { slug } } }));
    return list.members;
  });
  const { busy, error, run } = useAction();

  const setRole = async (memberId: string, role: AssignableRole) => {
    await run(() =>
      unwrap(api.PATCH("/v1/orgs/{slug}/members/{memberId}", { params: { path: { slug, memberId } }, body: { role } })),
    );
    await members.reload();
  };
  const remove = async (memberId: string) => {
    await run(() => unwrap(api.DELETE("/v1/orgs/{slug}/members/{memberId}", { params: { path: { slug, memberId } } })));
    await members.reload();
  };

  return (
    <section className="card" aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      <ErrorNotice error={error ?? members.error} />
      <ul className="rows">
        {members.data?.map((m) => {
          const fixed = m.role === "owner" || m.user_id === userId;
          return (
            <li key={m.id}>
              <span>
                <strong>{m.display_name}</strong> <span className="muted">{m.email}</span>
              </span>
              {fixed ? (
                <span>{m.role}</span>
              ) : (
                <span className="row-controls">
                  <label>
                    <span className="visually-hidden">Role of {m.email}</span>
                    <select
                      value={m.role}
                      disabled={busy}
                      onChange={(e) => setRole(m.id, e.target.value as AssignableRole)}
                    >
                      {assignable.map((r) => (
                        <option key={r}>{r}</option>
                      ))}
                    </select>
                  </label>
                  <button
                    type="button"
                    className="danger"
                    disabled={busy}
                    onClick={() => remove(m.id)}
                    aria-label={`Remove ${m.email}`}
                  >
                    Remove
                  </button>
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
