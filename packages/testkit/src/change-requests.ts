import { randomBytes } from "node:crypto";
import { type Caller, startTestServer, type TestServer } from "./harness.js";
import { type Handler, TestDaemon, testDiff } from "./test-daemon.js";

/** The playbook the test host "generates" from its diff. */
export const generatedPlaybook =
  '---\n- name: "changes"\n  hosts: all\n  tasks:\n    - name: "/etc/app.conf"\n      ansible.builtin.copy:\n        dest: "/etc/app.conf"\n        content: "listen 8080\\n"\n';

/** The test host's diff, with the generated playbook and one note when the server asks for one. */
export const diffWithPlaybook: Handler = (m) => {
  const cmd = m.payload.case === "diffSandbox" ? m.payload.value : undefined;
  const diff = testDiff();
  return {
    case: "sandboxDiff",
    value: {
      sandboxId: cmd?.sandboxId,
      diffJson: Buffer.from(JSON.stringify(diff)),
      hash: diff.hash,
      ...(cmd?.withPlaybook ? { playbookYaml: generatedPlaybook, playbookNotes: ["/etc/shadow is redacted"] } : {}),
    },
  };
};

/**
 * A createSandbox handler for a clone of a source VM: RUNNING, reporting `capturedAt` as the capture it
 * booted from (what verification compares with the request's), at `ipAddress` when given.
 */
export const sourceVmClone =
  (capturedAt: string, ipAddress?: string): Handler =>
  (m) => ({
    case: "sandboxCreated",
    value: {
      sandboxId: m.payload.case === "createSandbox" ? m.payload.value.sandboxId : "",
      state: "RUNNING",
      ipAddress,
      sourceCapturedAt: capturedAt,
    },
  });

/**
 * A server and a test host for change request tests: org `acme` with an owner, a second admin, a
 * member (who creates the sandbox) and a viewer. The host answers a diff asked with_playbook with
 * `generatedPlaybook` and one note.
 */
export async function changeRequestFixture(kind: Parameters<typeof startTestServer>[0]) {
  const t: TestServer = await startTestServer(kind, {
    encryptionKey: randomBytes(32),
    deadlines: { createMs: 3_000, destroyMs: 3_000 },
  });
  const owner = await t.fastUser("owner");
  await t.org(owner, "acme");
  const join = async (name: string, role: string) => {
    const user = await t.fastUser(name);
    await t.member(owner, "acme", user, role);
    return { caller: { cookie: user.cookie } as Caller, id: user.id };
  };
  const admin = await join("admin", "admin");
  const member = await join("member", "member");
  const viewer = await join("viewer", "viewer");
  const daemon = await TestDaemon.connect(t.grpcUrl, { token: (await t.hostToken(owner, "acme")).token });
  daemon.handlers.diffSandbox = diffWithPlaybook;
  const sandbox = await t.call("POST", "/v1/orgs/acme/sandboxes", {
    as: member.caller,
    body: { source_vm: "debian-12", allow_egress: true },
  });
  if (sandbox.status !== 201) throw new Error(`sandbox: ${sandbox.status} ${JSON.stringify(sandbox.body)}`);
  const base = "/v1/orgs/acme/change-requests";
  const createRequest = (body: Record<string, unknown> = {}, as: Caller = member.caller) =>
    t.call("POST", base, { as, body: { sandbox_id: sandbox.body.id, title: "Serve on 8080", ...body } });
  const verified = async (as: Caller = member.caller) => {
    const created = await createRequest({}, as);
    await t.call("POST", `${base}/${created.body.id}/verify`, { as });
    await t.server.ctx.changeRequests.settle();
    return (await t.call("GET", `${base}/${created.body.id}`, { as })).body;
  };
  return {
    t,
    daemon,
    owner,
    admin,
    member,
    viewer,
    sandboxId: sandbox.body.id as string,
    base,
    createRequest,
    verified,
  };
}
