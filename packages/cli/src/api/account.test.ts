import { describe, expect, it } from "vitest";
import { acceptInvitation, currentUser, getOrg, invite, revokeInvitation, visibleOrgs } from "./account.js";
import { fakeServer } from "./fake-server.fixtures.js";
import { createHostToken, listHosts, revokeHostToken } from "./hosts.js";
import { auditPage, quotas, usage, verifyAudit } from "./reports.js";

describe("account, host and report calls", () => {
  it("answers who the credentials are from a bare client", async () => {
    const { conn } = fakeServer((request) =>
      request.path === "/v1/auth/me"
        ? { body: { user: { email: "ada@example.com" } } }
        : { body: { organizations: [{ slug: "acme" }] } },
    );
    expect(await currentUser(conn.client)).toEqual({ email: "ada@example.com" });
    expect(await visibleOrgs(conn.client)).toEqual([{ slug: "acme" }]);
  });

  it("scopes org, invitation, host and report calls to the connection's org", async () => {
    const { conn, calls } = fakeServer(() => ({ body: {} }));
    await getOrg(conn);
    await invite(conn, { email: "bob@example.com", role: "member" });
    await revokeInvitation(conn, "i1");
    await acceptInvitation(conn, "tok");
    await listHosts(conn);
    await createHostToken(conn, { name: "rack-1" });
    await revokeHostToken(conn, "t1");
    await auditPage(conn, { limit: 10, before_seq: 99 });
    await verifyAudit(conn);
    await usage(conn, { from: "2026-01-01" });
    await quotas(conn);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "GET /v1/orgs/acme",
      "POST /v1/orgs/acme/invitations",
      "DELETE /v1/orgs/acme/invitations/i1",
      "POST /v1/invitations/accept",
      "GET /v1/orgs/acme/hosts",
      "POST /v1/orgs/acme/hosts/tokens",
      "DELETE /v1/orgs/acme/hosts/tokens/t1",
      "GET /v1/orgs/acme/audit",
      "GET /v1/orgs/acme/audit/verify",
      "GET /v1/orgs/acme/usage",
      "GET /v1/orgs/acme/quotas",
    ]);
    expect(calls[3]?.body).toEqual({ token: "tok" });
    expect(calls[7]?.query).toEqual({ limit: "10", before_seq: "99" });
    expect(calls[9]?.query).toEqual({ from: "2026-01-01" });
  });
});
