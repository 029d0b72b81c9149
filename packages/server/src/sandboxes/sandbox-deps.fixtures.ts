import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type HostMessage, HostMessageSchema } from "@fluid/proto";
import { databaseKinds, openTestDatabase, testConfig } from "@fluid/testkit";
import { afterAll, beforeAll, beforeEach } from "vitest";
import type { ServerConfig } from "../config/config.js";
import type { Database } from "../db/database.js";
import type { Role, Sandbox, SandboxState } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import { newId } from "../lib/ids.js";
import type { Logger } from "../log/logger.js";
import type { OrgScope } from "../orgs/access.js";
import type { Command } from "../stream/host-session.js";
import type { SandboxDeps } from "./deps.js";
import { HostClient } from "./host-client.js";
import { recordNewSandbox } from "./record.js";

/**
 * What the unit tests of the sandbox modules share: a real database (PostgreSQL when the run has a
 * cluster, else PGlite), orgs and hosts as rows, and a scripted host behind a real HostClient.
 */

/** PostgreSQL when the run has one (FLUID_TEST_DATABASE_URL), else PGlite. */
export const unitDatabaseKind = databaseKinds.includes("postgres") ? "postgres" : "pglite";

export const openUnitDatabase = (): Promise<Database> => openTestDatabase(unitDatabaseKind);

/** What a sandbox module's test works on: the file's database, and this test's org with one connected host. */
export interface SandboxUnit {
  database: Database;
  hosts: ScriptedHosts;
  deps: ReturnType<typeof sandboxDeps>;
  scope: OrgScope;
  hostId: string;
}

/**
 * Registers the hooks of a test file: one database for the whole file and, before each test, a fresh org
 * (`${slug}-n`, so no other test's rows count) with one connected scripted host. The fields are replaced
 * before every test, so read them inside tests, never at collection time.
 */
export function useSandboxUnit(slug: string, config: Partial<ServerConfig> = {}): SandboxUnit {
  const unit = {} as SandboxUnit;
  let orgs = 0;
  beforeAll(async () => {
    unit.database = await openUnitDatabase();
  });
  afterAll(async () => {
    await unit.database?.close();
  });
  beforeEach(async () => {
    unit.hosts = new ScriptedHosts();
    unit.deps = sandboxDeps(unit.database, unit.hosts, config);
    unit.scope = await seedOrg(unit.database, `${slug}-${++orgs}`);
    unit.hostId = await seedHost(unit.database, unit.hosts, unit.scope);
  });
  return unit;
}

export type Payload = NonNullable<MessageInitShape<typeof HostMessageSchema>["payload"]>;

/** What the scripted host answers to one command: a reply payload, or an error it throws. */
export type HostAnswer = (command: Command, hostId: string) => Payload | Error | Promise<Payload | Error>;

/** A host registry whose connected hosts answer with `answer` (others are away), recording every command sent. */
export class ScriptedHosts {
  readonly sent: { hostId: string; command: Command; timeoutMs: number }[] = [];
  readonly connected = new Set<string>();
  answer: HostAnswer = (command) => new Error(`unexpected command ${command.case}`);

  connectedAmong = async (hostIds: readonly string[]) => new Set(hostIds.filter((id) => this.connected.has(id)));

  request = async (hostId: string, command: Command, timeoutMs: number): Promise<HostMessage> => {
    this.sent.push({ hostId, command, timeoutMs });
    if (!this.connected.has(hostId)) throw new AppError("host_unavailable", `host ${hostId} is not connected`);
    const payload = await this.answer(command, hostId);
    if (payload instanceof Error) throw payload;
    return create(HostMessageSchema, { payload });
  };

  /** The commands of one kind sent so far, in order. */
  commands<C extends NonNullable<Command["case"]>>(kind: C): CommandValue<C>[] {
    return this.sent
      .filter(({ command }) => command.case === kind)
      .map(({ command }) => command.value as CommandValue<C>);
  }
}

type CommandValue<C> = Extract<Command, { case: C }> extends { value: infer V } ? V : never;

export interface Logged {
  level: "warn" | "error";
  message: string;
}

export function sandboxDeps(
  database: Database,
  hosts: ScriptedHosts,
  config: Partial<ServerConfig> = {},
): SandboxDeps & { logged: Logged[] } {
  const logged: Logged[] = [];
  const log = {
    warn: (_fields: unknown, message: string) => logged.push({ level: "warn", message }),
    error: (_fields: unknown, message: string) => logged.push({ level: "error", message }),
    info: () => undefined,
    debug: () => undefined,
  } as unknown as Logger;
  return {
    db: database.db,
    config: testConfig(config),
    log,
    host: new HostClient(hosts),
    timed: (_what, work) => work,
    logged,
  };
}

/** A new org owned by a new user; the scope acts as that owner. */
export async function seedOrg(database: Database, slug: string): Promise<OrgScope> {
  const db = database.db;
  const userId = newId();
  const orgId = newId();
  await db
    .insertInto("users")
    .values({ id: userId, email: `${slug}@example.com`, display_name: slug })
    .execute();
  await db.insertInto("orgs").values({ id: orgId, name: slug, slug, owner_id: userId }).execute();
  await db.insertInto("org_members").values({ id: newId(), org_id: orgId, user_id: userId, role: "owner" }).execute();
  return {
    orgId,
    slug,
    name: slug,
    ownerId: userId,
    role: "owner",
    principal: { kind: "user", userId, sessionId: "s" },
  };
}

/** Another user of the same org with `role`. */
export async function seedMember(database: Database, org: OrgScope, role: Role): Promise<OrgScope> {
  const userId = newId();
  await database.db
    .insertInto("users")
    .values({ id: userId, email: `${role}-${userId}@example.com`, display_name: role })
    .execute();
  await database.db
    .insertInto("org_members")
    .values({ id: newId(), org_id: org.orgId, user_id: userId, role })
    .execute();
  return { ...org, role, principal: { kind: "user", userId, sessionId: "s" } };
}

export interface SeedHost {
  totalCpus?: number;
  totalMemoryMb?: number;
  availableMemoryMb?: number;
  availableDiskMb?: number;
  baseImages?: string[];
}

/** An ONLINE host of the org that heartbeated just now, connected to `hosts`. */
export async function seedHost(
  database: Database,
  hosts: ScriptedHosts,
  org: OrgScope,
  options: SeedHost = {},
): Promise<string> {
  const db = database.db;
  const hostId = newId();
  await db
    .insertInto("host_tokens")
    .values({
      id: hostId,
      org_id: org.orgId,
      name: `h-${hostId}`,
      token_hash: hostId,
      created_by: org.ownerId,
      expires_at: null,
      last_used_at: null,
      revoked_at: null,
    })
    .execute();
  const memory = options.totalMemoryMb ?? 8192;
  await db
    .insertInto("hosts")
    .values({
      id: hostId,
      org_id: org.orgId,
      hostname: `h-${hostId}`,
      version: "1",
      total_cpus: options.totalCpus ?? 4,
      total_memory_mb: memory,
      total_disk_mb: 50_000,
      available_cpus: options.totalCpus ?? 4,
      available_memory_mb: options.availableMemoryMb ?? memory,
      available_disk_mb: options.availableDiskMb ?? 50_000,
      base_images: JSON.stringify(options.baseImages ?? ["img"]),
      source_vms: JSON.stringify([]),
      bridges: JSON.stringify([]),
      status: "ONLINE",
      connected_at: new Date(),
      last_heartbeat: new Date(),
      disconnected_at: null,
    })
    .execute();
  hosts.connected.add(hostId);
  return hostId;
}

/** A sandbox row on `hostId` in `state`, as the scope's principal created it. */
export async function seedSandbox(
  deps: SandboxDeps,
  scope: OrgScope,
  hostId: string,
  state: SandboxState,
  options: { vcpus?: number; memoryMb?: number } = {},
): Promise<Sandbox> {
  const row = await recordNewSandbox(deps.db, scope, {
    hostId,
    agentId: null,
    sourceVm: "img",
    sourceHostId: null,
    vcpus: options.vcpus ?? 1,
    memoryMb: options.memoryMb ?? 512,
    allowEgress: false,
    expiresAt: new Date(Date.now() + 3_600_000),
  });
  return deps.db
    .updateTable("sandboxes")
    .set({ state, ip_address: state === "RUNNING" ? "10.0.0.2" : null })
    .where("id", "=", row.id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(work: Promise<unknown>): Promise<{ code?: string; message: string }> {
  const outcome = await work.then(
    (value) => ({ resolved: value }),
    (err: unknown) => ({ err }),
  );
  if (!("err" in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.resolved)}`);
  return outcome.err as { code?: string; message: string };
}

/** Audit actions recorded for a target, oldest first. */
export async function auditActions(database: Database, targetId: string): Promise<string[]> {
  const rows = await database.db
    .selectFrom("audit_events")
    .select(["action"])
    .where("target_id", "=", targetId)
    .orderBy("seq", "asc")
    .execute();
  return rows.map((r) => r.action);
}
