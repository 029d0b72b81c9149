import type { Kysely } from "kysely";
import type { ServerConfig } from "../config/config.js";
import type { DB } from "../db/schema.js";
import type { Logger } from "../log/logger.js";
import type { HostClient } from "./host-client.js";

/** What every sandbox operation works with: its rows, its settings, its log, and the hosts. */
export interface SandboxDeps {
  db: Kysely<DB>;
  config: ServerConfig;
  log: Logger;
  host: HostClient;
  /** Times a creation or a command for the metrics (see ServerMetrics.time); the work's result is unchanged. */
  timed<T>(what: "create" | "exec", work: Promise<T>): Promise<T>;
}
