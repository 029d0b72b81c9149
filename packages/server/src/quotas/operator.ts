import { parseArgs } from "node:util";
import { appendAuditEvent } from "../audit/append.js";
import { defaultDataDir } from "../config/config.js";
import { parseLimit } from "../config/quotas.js";
import { type Database, openDatabase } from "../db/database.js";
import { pendingMigrations } from "../db/migrate.js";
import type { OrgQuotasTable } from "../db/schema.js";

/**
 * `fluid-server quota`: the operator's per-org limits, written straight to the database. Org roles
 * end at "owner", and an owner must not be able to raise their own org's quota, so only whoever
 * runs the server (and holds its database) sets them; there is no REST route that writes them.
 */
export const quotaCommandUsage = `Usage: fluid-server quota show ORG
       fluid-server quota set ORG [--sandboxes N] [--vcpus N] [--memory-mb N] [--snapshot-gb N]

Sets or shows one organization's own limits (ORG is its slug), overriding the server's
--quota-* defaults. N is a whole number, 0 for unlimited, or "default" to follow the server's
default again. Reads DATABASE_URL, else --data-dir / FLUID_DATA_DIR (PGlite: stop the server first,
its data directory takes one process).
`;

const GIB = 1024 ** 3;

const fields = {
  sandboxes: { column: "max_sandboxes", scale: 1 },
  vcpus: { column: "max_vcpus", scale: 1 },
  "memory-mb": { column: "max_memory_mb", scale: 1 },
  "snapshot-gb": { column: "max_snapshot_bytes", scale: GIB },
} as const satisfies Record<string, { column: keyof Omit<OrgQuotasTable, "org_id" | "updated_at">; scale: number }>;

type Field = keyof typeof fields;

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

type Env = Record<string, string | undefined>;

function openFromEnv(env: Env, dataDir: string | undefined): Promise<Database> {
  const url = env.DATABASE_URL?.trim();
  if (url) return openDatabase({ kind: "postgres", url, maxConnections: 2 });
  return openDatabase({ kind: "pglite", dataDir: dataDir ?? env.FLUID_DATA_DIR ?? defaultDataDir(env) });
}

class UsageError extends Error {}

/** A value as stored: a number of the column's unit, or null for "default". */
function parseValue(field: Field, raw: string): number | null {
  if (raw === "default") return null;
  const value = parseLimit(raw);
  if (value === undefined) throw new UsageError(`--${field} must be a whole number, 0 for unlimited, or "default"`);
  return value === null ? 0 : value * fields[field].scale;
}

function show(field: Field, stored: number | string | null | undefined): string {
  if (stored === null || stored === undefined) return "default";
  const value = Number(stored);
  if (value === 0) return "unlimited";
  const scaled = value / fields[field].scale;
  return Number.isInteger(scaled) ? String(scaled) : scaled.toFixed(2);
}

/** Runs `fluid-server quota …`; returns the exit status (0 ok, 1 failed, 2 usage error). */
export async function quotaCommand(
  argv: string[],
  env: Env,
  io: CommandIo,
  open: (env: Env, dataDir: string | undefined) => Promise<Database> = openFromEnv,
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.stderr(`fluid-server quota: ${(err as Error).message}\n\n${quotaCommandUsage}`);
    return 2;
  }
  if (parsed === "help") {
    io.stdout(quotaCommandUsage);
    return 0;
  }
  const database = await open(env, parsed.dataDir);
  try {
    const pending = await pendingMigrations(database.db);
    if (pending.length > 0) {
      io.stderr(`fluid-server quota: the database schema is out of date (pending: ${pending.join(", ")})\n`);
      return 1;
    }
    const org = await database.db
      .selectFrom("orgs")
      .select(["id", "slug"])
      .where("slug", "=", parsed.slug)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    if (!org) {
      io.stderr(`fluid-server quota: no organization "${parsed.slug}"\n`);
      return 1;
    }
    if (parsed.action === "set") {
      const values = parsed.values;
      await database.db.transaction().execute(async (tx) => {
        await tx
          .insertInto("org_quotas")
          .values({ org_id: org.id, ...values })
          .onConflict((oc) => oc.column("org_id").doUpdateSet({ ...values, updated_at: new Date() }))
          .execute();
        await appendAuditEvent(tx, {
          orgId: org.id,
          actor: null,
          action: "org.quota_changed",
          target: { type: "org", id: org.id },
          details: values,
        });
      });
    }
    const own = await database.db.selectFrom("org_quotas").selectAll().where("org_id", "=", org.id).executeTakeFirst();
    const lines = (Object.keys(fields) as Field[]).map(
      (field) => `  ${field.padEnd(12)} ${show(field, own?.[fields[field].column])}\n`,
    );
    io.stdout(`${org.slug} (default: the server's --quota-* setting)\n${lines.join("")}`);
    return 0;
  } finally {
    await database.close();
  }
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      sandboxes: { type: "string" },
      vcpus: { type: "string" },
      "memory-mb": { type: "string" },
      "snapshot-gb": { type: "string" },
      "data-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help" as const;
  const [action, slug, ...extra] = positionals;
  if (action !== "show" && action !== "set") throw new UsageError('expected "show" or "set"');
  if (!slug || extra.length > 0) throw new UsageError("expected one organization slug");
  const changes: Partial<Record<(typeof fields)[Field]["column"], number | null>> = {};
  for (const field of Object.keys(fields) as Field[]) {
    const raw = values[field];
    if (raw !== undefined) changes[fields[field].column] = parseValue(field, raw);
  }
  if (action === "set" && Object.keys(changes).length === 0) throw new UsageError("set needs at least one limit");
  if (action === "show" && Object.keys(changes).length > 0) throw new UsageError("show takes no limits");
  return { action, slug, values: changes, dataDir: values["data-dir"] };
}
