import type { Organization } from "@fluid/sdk";
import { can } from "../../lib/roles";
import { ApiKeys } from "./ApiKeys";
import { Members } from "./Members";

/** Organization administration: members and API keys (admins and the owner only). */
export function Admin({ org, userId }: { org: Organization; userId: string }) {
  if (!can.manageOrg(org.role)) return <p>Only admins of {org.name} manage members and keys.</p>;
  return (
    <>
      <h1>Admin · {org.name}</h1>
      <Members org={org} userId={userId} />
      <ApiKeys org={org.slug} />
    </>
  );
}
