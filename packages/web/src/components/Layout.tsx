import type { ReactNode } from "react";
import { atLeast } from "../lib/roles";
import { navigate, orgPath, type Route } from "../lib/router";
import { useSession } from "../lib/session";
import { Link } from "./Link";

const sections = [
  { page: "sandboxes", label: "Sandboxes" },
  { page: "hosts", label: "Hosts" },
  { page: "sources", label: "Source VMs" },
  { page: "change-requests", label: "Change requests" },
  { page: "audit", label: "Audit" },
] as const;

function activeSection(route: Route): string {
  if (route.page === "sandbox") return "sandboxes";
  if (route.page === "change-request") return "change-requests";
  return route.page;
}

/** The frame of every org page: org switcher, navigation, who is signed in. */
export function Layout({ org, route, children }: { org: string; route: Route; children: ReactNode }) {
  const session = useSession();
  const current = session.orgs.find((o) => o.slug === org);
  const active = activeSection(route);
  const links = [
    ...sections,
    ...(current && atLeast(current.role, "admin") ? [{ page: "admin", label: "Admin" }] : []),
  ];

  const signOut = async () => {
    await session.signOut();
    navigate("/sign-in", { replace: true });
  };

  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">fluid</span>
        <label className="org-switcher">
          <span className="visually-hidden">Organization</span>
          <select
            value={org}
            onChange={(e) =>
              navigate(
                e.target.value === ""
                  ? "/orgs/new"
                  : orgPath(e.target.value, active === "admin" ? "admin" : "sandboxes"),
              )
            }
          >
            {session.orgs.map((o) => (
              <option key={o.id} value={o.slug}>
                {o.name}
              </option>
            ))}
            <option value="">+ New organization…</option>
          </select>
        </label>
        <span className="muted who">
          {session.user?.email}
          {current ? ` · ${current.role}` : ""}
        </span>
        <button type="button" className="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Sections" className="tabs">
        {links.map((link) => (
          <Link key={link.page} href={orgPath(org, link.page)} aria-current={active === link.page ? "page" : undefined}>
            {link.label}
          </Link>
        ))}
      </nav>
      <main id="main" tabIndex={-1}>
        {current ? children : <p>You are not a member of the organization “{org}”.</p>}
      </main>
    </div>
  );
}
