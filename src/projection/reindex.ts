// Rebuilding every projection from Git alone while the service keeps serving: the rows are
// built into shadow tables (`<table>__next`, same columns and indexes) by worker threads that
// read Git (row-builder-pool.ts), swapped in with renames in one short transaction, and then
// every repository projected live while the build ran is projected again into the new tables.
import type { RecordStore } from '../core/record/record-store.js';
import type { RecordId } from '../core/ids/record-id.js';
import { REPOSITORY_KINDS, type RepositoryKind } from '../core/record/record-layout.js';
import { Projector } from './projector.js';
import { rowBuilder } from './row-builder-pool.js';
import type { Row, SqlClient } from './sql-client.js';

export const PROJECTION_TABLES = [
  'repositories',
  'documents',
  'patients',
  'clinical_links',
  'coordination_links',
  'audit_log',
  'letters',
  'clinical_entries',
  'threads',
  'thread_participants',
  'care_events',
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

/**
 * The statements that give `target` the indexes and key constraints `table` has now, whatever
 * migrations made them: constraints (primary keys) by their definition, other indexes by theirs
 * with the name left for PostgreSQL to choose and the table replaced.
 */
async function indexStatements(client: SqlClient, table: string, target: string): Promise<string[]> {
  const rows = await client.query<{ index_def: string; constraint_def: string | null }>(
    `SELECT pg_get_indexdef(i.indexrelid) AS index_def, pg_get_constraintdef(c.oid) AS constraint_def
       FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
      WHERE i.indrelid = $1::regclass
      ORDER BY c.oid IS NULL, i.indexrelid`,
    [table],
  );
  return rows.map(({ index_def, constraint_def }) => {
    if (constraint_def !== null) return `ALTER TABLE ${target} ADD ${constraint_def}`;
    const statement = index_def.replace(
      /^CREATE (UNIQUE )?INDEX \S+ ON \S+ /,
      `CREATE $1INDEX ON ${target} `,
    );
    if (statement === index_def) throw new Error(`reindex: cannot read the index definition of ${table}`);
    return statement;
  });
}

export interface ReindexResult {
  readonly repositories: number;
  readonly patients: number;
  readonly seconds: number;
  /** Repositories written while the rebuild ran that were projected again after the swap. */
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

export interface ReindexOptions {
  readonly onProgress?: (repositories: number) => void;
  /** Threads that read Git and build rows; 0 builds them on the calling thread. Default: one per core. */
  readonly threads?: number;
}

export async function reindex(
  client: SqlClient,
  store: RecordStore,
  options: ReindexOptions = {},
): Promise<ReindexResult> {
  const started = performance.now();
  // Checks the thread count before anything is written, and starts the threads meanwhile.
  const builder = rowBuilder(store.dataDir, options.threads);
  let checked: number;
  let clock: { at: string } | undefined;
  try {
    // On the database's clock, as the projected_at of every live projection is.
    [clock] = await client.query<{ at: string }>('SELECT clock_timestamp()::text AS at');
    const indexes: string[] = [];
    for (const table of PROJECTION_TABLES) {
      await client.query(`DROP TABLE IF EXISTS ${table}__next`);
      await client.query(`CREATE TABLE ${table}__next (LIKE ${table} INCLUDING ALL EXCLUDING INDEXES)`);
      indexes.push(...(await indexStatements(client, table, `${table}__next`)));
    }
    checked = await new Projector(withTableSuffix(client, '__next'), store).projectAll(
      builder,
      options.onProgress,
    );
    // Built once over the loaded rows: faster than keeping every index up to date row by row.
    for (const statement of indexes) await client.query(statement);
  } catch (error) {
    // The live tables were never touched; the half-built shadows go.
    for (const table of PROJECTION_TABLES) {
      await client.query(`DROP TABLE IF EXISTS ${table}__next`).catch(() => undefined);
    }
    throw error;
  } finally {
    await builder.close();
  }
  const changedMeanwhile = await client.transaction(async (tx) => {
    // Waits for live projections in flight; any that start later find the new tables.
    await tx.query(`LOCK TABLE ${PROJECTION_TABLES.join(', ')} IN ACCESS EXCLUSIVE MODE`);
    const changed = await tx.query<{ kind: RepositoryKind; id: RecordId }>(
      'SELECT kind, id FROM repositories WHERE projected_at >= $1::timestamptz',
      [clock?.at],
    );
    for (const table of PROJECTION_TABLES) {
      await tx.query(`ALTER TABLE ${table} RENAME TO ${table}__old`);
      await tx.query(`ALTER TABLE ${table}__next RENAME TO ${table}`);
      await tx.query(`DROP TABLE ${table}__old`);
    }
    return changed;
  });
  // Fresh tables have no planner statistics; without them PostgreSQL may scan instead of seek.
  for (const table of PROJECTION_TABLES) await client.query(`ANALYZE ${table}`);
  // A commit that landed after the start and that the build may have missed was projected live
  // into the old tables after it landed, so with a projected_at after the start (the clock is
  // read when the rows are written, after HEAD is read): project those repositories again.
  const live = new Projector(client, store);
  let caughtUp = 0;
  for (const { kind, id } of changedMeanwhile) {
    if ((await live.project(kind, id)) !== 'unchanged') caughtUp++;
  }
  const [row] = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM patients');
  return {
    repositories: checked,
    patients: row?.n ?? 0,
    seconds: (performance.now() - started) / 1000,
    caughtUp,
  };
}
