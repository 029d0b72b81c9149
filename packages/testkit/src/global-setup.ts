import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { createPgConfig } from "@electric-sql/pglite/node-postgres";
import { migrateToLatest } from "@fluid/server/testing-api";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { TestProject } from "vitest/node";

/**
 * Migrates one template per database kind for the whole run: PGlite as a data-dir dump (loading
 * one takes ~0.4 s, creating one ~2.5 s), PostgreSQL as a template database that `CREATE DATABASE
 * … TEMPLATE` copies in milliseconds. Runs against PostgreSQL only when FLUID_TEST_DATABASE_URL is set.
 */
export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), "fluid-test-"));
  const pglite = await PGlite.create();
  const pgliteDb = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool(createPgConfig(pglite)) }) });
  await migrateToLatest(pgliteDb);
  await pgliteDb.destroy();
  const dumpPath = join(dir, "pglite-template.tar");
  await writeFile(dumpPath, Buffer.from(await (await pglite.dumpDataDir("none")).arrayBuffer()));
  await pglite.close();
  project.provide("pgliteTemplate", dumpPath);

  const adminUrl = process.env.FLUID_TEST_DATABASE_URL;
  let template: string | undefined;
  if (adminUrl) {
    template = `fluid_template_${process.pid}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${template}`);
    await admin.query(`CREATE DATABASE ${template}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${template}`;
    const db = new Kysely({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.toString(), max: 1 }) }),
    });
    await migrateToLatest(db);
    await db.destroy();
    project.provide("postgres", { adminUrl, template, prefix: `fluid_test_${process.pid}_` });
  } else if (process.env.FLUID_TEST_REQUIRE_POSTGRES === "1") {
    throw new Error("FLUID_TEST_REQUIRE_POSTGRES=1 but FLUID_TEST_DATABASE_URL is not set");
  } else {
    project.provide("postgres", null);
  }

  return async () => {
    await rm(dir, { recursive: true, force: true });
    if (adminUrl && template) {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      const leftovers = await admin.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE starts_with(datname, $1) OR datname = $2",
        [`fluid_test_${process.pid}_`, template],
      );
      for (const { datname } of leftovers.rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      await admin.end();
    }
  };
}
