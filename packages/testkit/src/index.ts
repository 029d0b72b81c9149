// The hash the server gives a playbook text, for client tests that send or expect one.
export { playbookHash } from "@fluid/server/testing-api";
export { changeRequestFixture, diffWithPlaybook, generatedPlaybook, sourceVmClone } from "./change-requests.js";
export { testConfig } from "./config.js";
export { type DatabaseKind, databaseKinds, openTestDatabase } from "./db.js";
export {
  authHeaders,
  type Caller,
  type CallOptions,
  type Response,
  startTestServer,
  type TestServer,
} from "./harness.js";
export { type OrgRoute, orgRoutes, type RouteIds, requestFor } from "./org-routes.js";
export { type OrgWithTeam, orgWithTeam, type TestUser } from "./org-team.js";
export { sampleTasks, trickyContents, trickyStrings } from "./playbooks.js";
export { type PrivatePostgres, startPrivatePostgres } from "./private-postgres.js";
export { prometheusSample } from "./prometheus.js";
export {
  defaultHandlers,
  type Handler,
  type HandlerResult,
  openRawStream,
  TestDaemon,
  type TestDaemonOptions,
  testDiff,
} from "./test-daemon.js";
