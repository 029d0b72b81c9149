import pg from "pg";

/** A PostgreSQL database of the bench's own on the cluster `adminUrl` names, so a run never touches real data. */
export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

async function asAdmin(adminUrl: string, sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** Creates database `name` (a fixed identifier the bench builds from its pid, never user input). */
export async function createBenchDatabase(adminUrl: string, name: string): Promise<BenchDatabase> {
  await asAdmin(adminUrl, `CREATE DATABASE ${name}`);
  const target = new URL(adminUrl);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    drop: () => asAdmin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
