import { useEffect } from "react";
import { Layout } from "./components/Layout";
import { Link } from "./components/Link";
import { navigate, orgPath, type Route, useRoute } from "./lib/router";
import { useSession } from "./lib/session";
import { Admin } from "./pages/admin/Admin";
import { Audit } from "./pages/audit/Audit";
import { CreateOrg } from "./pages/CreateOrg";
import { ChangeRequestDetail } from "./pages/changes/ChangeRequestDetail";
import { ChangeRequests } from "./pages/changes/ChangeRequests";
import { Hosts } from "./pages/Hosts";
import { Sandboxes } from "./pages/Sandboxes";
import { SignIn } from "./pages/SignIn";
import { SandboxDetail } from "./pages/sandbox/SandboxDetail";
import { Sources } from "./pages/sources/Sources";

/** Where a route sends someone who cannot see it yet, or undefined to show it. */
function redirectFor(route: Route, signedIn: boolean, firstOrg: string | undefined): string | undefined {
  const publicPage = route.page === "sign-in" || route.page === "sign-up";
  if (!signedIn) return publicPage ? undefined : "/sign-in";
  if (publicPage || route.page === "home") return firstOrg ? orgPath(firstOrg, "sandboxes") : "/orgs/new";
  return undefined;
}

export function App() {
  const session = useSession();
  const route = useRoute();
  const redirect =
    session.user === undefined ? undefined : redirectFor(route, session.user !== null, session.orgs[0]?.slug);

  useEffect(() => {
    if (redirect) navigate(redirect, { replace: true });
  }, [redirect]);

  if (session.user === undefined || redirect) return <p className="loading">Loading…</p>;
  if (route.page === "sign-in") return <SignIn />;
  if (route.page === "sign-up") return <SignIn register />;
  if (route.page === "new-org" || route.page === "home") return <CreateOrg />;
  if (route.page === "not-found" || session.user === null) {
    return (
      <main className="auth">
        <h1>Not found</h1>
        <Link href="/">Back to the dashboard</Link>
      </main>
    );
  }
  const userId = session.user.id;
  const org = session.orgs.find((o) => o.slug === route.org);
  return (
    <Layout org={route.org} route={route}>
      {org && route.page === "sandboxes" && <Sandboxes org={org} />}
      {org && route.page === "sandbox" && <SandboxDetail org={org} userId={userId} id={route.id} />}
      {org && route.page === "hosts" && <Hosts org={org} />}
      {org && route.page === "sources" && <Sources org={org} />}
      {org && route.page === "admin" && <Admin org={org} userId={userId} />}
      {org && route.page === "change-requests" && <ChangeRequests org={org} />}
      {org && route.page === "change-request" && <ChangeRequestDetail org={org} userId={userId} id={route.id} />}
      {org && route.page === "audit" && <Audit org={org} />}
    </Layout>
  );
}
