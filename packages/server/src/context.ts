import type { Kysely } from "kysely";
import type { AccessCache } from "./auth/access-cache.js";
import type { CookiePolicy } from "./auth/sessions.js";
import type { ChangeRequestService } from "./changes/service.js";
import type { ServerConfig } from "./config/config.js";
import type { DB } from "./db/schema.js";
import type { Readiness } from "./health/readiness.js";
import type { SecretBox } from "./lib/secret-box.js";
import type { Logger } from "./log/logger.js";
import type { ServerMetrics } from "./metrics/metrics.js";
import type { HostRouter } from "./replicas/hosts.js";
import type { SandboxService } from "./sandboxes/service.js";

/** What route modules and background jobs share; built once per server. */
export interface AppContext {
  db: Kysely<DB>;
  access: AccessCache;
  config: ServerConfig;
  log: Logger;
  cookies: CookiePolicy;
  hosts: HostRouter;
  sandboxes: SandboxService;
  changeRequests: ChangeRequestService;
  secrets: SecretBox;
  readiness: Readiness;
  metrics: ServerMetrics;
}
