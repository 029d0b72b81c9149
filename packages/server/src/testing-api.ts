/** What @fluid/testkit needs to stand up a real control plane; tests reach the server only through here. */
export { createSession } from "./auth/sessions.js";
export { playbookHash } from "./changes/playbook-text.js";
export type { ServerConfig } from "./config/config.js";
export { type Database, openDatabase } from "./db/database.js";
export { migrateToLatest } from "./db/migrate.js";
export type { ReadinessOptions } from "./health/readiness.js";
export { newId } from "./lib/ids.js";
export { createLogger } from "./log/logger.js";
export type { HostDeadlines } from "./sandboxes/limits.js";
export { type RunningServer, startServer } from "./server.js";
