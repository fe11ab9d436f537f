// Rebuilding every projection from Git alone while the service keeps serving: the rows are
// built into shadow tables (`<table>__next`, same columns and indexes), swapped in with renames
// in one short transaction, and then a catch-up projects whatever was written during the build.
import type { RecordStore } from '../core/record/record-store.js';
import { REPOSITORY_KINDS } from '../core/record/record-layout.js';
import { Projector } from './projector.js';
import type { Row, SqlClient } from './sql-client.js';

export const PROJECTION_TABLES = [
  'repositories',
  'documents',
  'patients',
  'clinical_links',
  'coordination_links',
];

const TABLE_NAME = new RegExp(`\\b(${PROJECTION_TABLES.join('|')})\\b`, 'g');

/** A client whose statements address the projection tables under `<name><suffix>`. */
export function withTableSuffix(client: SqlClient, suffix: string): SqlClient {
  const rewrite = (sql: string) => sql.replace(TABLE_NAME, `$1${suffix}`);
  return {
    query: <R extends Row>(sql: string, params?: readonly unknown[]) => client.query<R>(rewrite(sql), params),
    transaction: (fn) => client.transaction((tx) => fn(withTableSuffix(tx, suffix))),
    close: () => client.close(),
  };
}

export interface ReindexResult {
  readonly repositories: number;
  readonly patients: number;
  readonly seconds: number;
  /** Repositories written while the rebuild ran and projected again after the swap. */
  readonly caughtUp: number;
}

/** How many repositories a reindex will visit (for a progress bar's total). */
export async function countRepositories(store: RecordStore): Promise<number> {
  let count = 0;
  for (const kind of REPOSITORY_KINDS) {
    const ids = store.listRecordIds(kind);
    while (!(await ids.next()).done) count++;
  }
  return count;
}

export async function reindex(
  client: SqlClient,
  store: RecordStore,
  onProgress?: (repositories: number) => void,
): Promise<ReindexResult> {
  const started = performance.now();
  for (const table of PROJECTION_TABLES) {
    await client.query(`DROP TABLE IF EXISTS ${table}__next`);
    await client.query(`CREATE TABLE ${table}__next (LIKE ${table} INCLUDING ALL)`);
  }
  const shadow = new Projector(withTableSuffix(client, '__next'), store);
  const checked = await shadow.projectAll(onProgress);
  await client.transaction(async (tx) => {
    for (const table of PROJECTION_TABLES) {
      await tx.query(`ALTER TABLE ${table} RENAME TO ${table}__old`);
      await tx.query(`ALTER TABLE ${table}__next RENAME TO ${table}`);
      await tx.query(`DROP TABLE ${table}__old`);
    }
  });
  // Fresh tables have no planner statistics; without them PostgreSQL may scan instead of seek.
  for (const table of PROJECTION_TABLES) await client.query(`ANALYZE ${table}`);
  const { projected } = await new Projector(client, store).catchUp();
  const [row] = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM patients');
  return {
    repositories: checked,
    patients: row?.n ?? 0,
    seconds: (performance.now() - started) / 1000,
    caughtUp: projected,
  };
}
