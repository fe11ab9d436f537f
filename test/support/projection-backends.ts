// The projection backends every projection test runs on: embedded PGlite always, and the real
// PostgreSQL of this machine when reachable (in its own schema, dropped afterwards). Without
// PostgreSQL the suite says loudly that it skipped it, unless VPR_REQUIRE_SERVICES=1, when the
// absence is a failure.
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { openPglite } from '../../src/projection/pglite-client.js';
import { openPostgres } from '../../src/projection/pg-client.js';
import { migrate } from '../../src/projection/migrations.js';
import type { SqlClient } from '../../src/projection/sql-client.js';
import { reachable } from './reachable.js';

export const DATABASE_URL = process.env.VPR_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/** A new PostgreSQL schema name for one test's projection. */
export function testSchema(): string {
  return `vpr_test_${randomBytes(6).toString('hex')}`;
}

export interface Backend {
  readonly name: 'pglite' | 'postgres';
  open(t: TestContext): Promise<SqlClient>;
}

/** Whether PostgreSQL answers (5 s per try, see reachable.ts). */
function postgresReachable(): Promise<boolean> {
  return reachable(async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } finally {
      await client.end().catch(() => undefined);
    }
  });
}

export const pgliteBackend: Backend = {
  name: 'pglite',
  open: async (t) => {
    const client = await openPglite(undefined);
    t.after(() => client.close());
    await migrate(client);
    return client;
  },
};

export const postgresBackend: Backend = {
  name: 'postgres',
  open: async (t) => {
    const schema = testSchema();
    const client = await openPostgres({ connectionString: DATABASE_URL, schema, max: 4 });
    t.after(async () => {
      await client.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
      await client.close();
    });
    await migrate(client);
    return client;
  },
};

/** The backends to run on; PostgreSQL only when reachable (required when VPR_REQUIRE_SERVICES=1). */
export async function projectionBackends(): Promise<{ backends: Backend[]; skipped?: string }> {
  if (await postgresReachable()) return { backends: [pgliteBackend, postgresBackend] };
  const why = `PostgreSQL at ${DATABASE_URL} is not reachable`;
  if (process.env.VPR_REQUIRE_SERVICES === '1')
    throw new Error(`${why}, and VPR_REQUIRE_SERVICES=1 requires it`);
  console.warn(`\n*** SKIPPED: the PostgreSQL projection tests — ${why}. They run in CI. ***\n`);
  return { backends: [pgliteBackend], skipped: why };
}

/** Every projection row, sorted, without the wall-clock `projected_at`: two equal snapshots mean equal projections. */
export async function snapshot(client: SqlClient): Promise<Record<string, unknown[]>> {
  const tables: Record<string, string> = {
    repositories: 'SELECT kind, id, head_commit FROM repositories ORDER BY kind, id',
    patients: 'SELECT * FROM patients ORDER BY patient_id',
    clinical_links: 'SELECT * FROM clinical_links ORDER BY clinical_id',
    coordination_links: 'SELECT * FROM coordination_links ORDER BY coordination_id',
    documents: 'SELECT * FROM documents ORDER BY kind, repo_id, path',
    audit_log: 'SELECT * FROM audit_log ORDER BY patient_id, commit_sha',
  };
  const result: Record<string, unknown[]> = {};
  for (const [name, sql] of Object.entries(tables)) {
    result[name] = (await client.query(sql)).map((row) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v])),
    );
  }
  return result;
}
