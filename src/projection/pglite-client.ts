// The embedded default: PGlite (PostgreSQL compiled to WebAssembly) with its data under the data
// directory, so a fresh machine needs no database server. Its buffer pool is bounded
// (PGLITE_SHARED_BUFFERS): PostgreSQL's default of 128 MB lives in the WebAssembly heap, which
// never gives memory back, and made the server's RSS grow past 550 MB under load (ADR 0017).
import { mkdir } from 'node:fs/promises';
import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import { SESSION_SETTINGS, type Row, type SqlClient } from './sql-client.js';

function wrap(target: PGlite | Transaction, root: PGlite): SqlClient {
  return {
    query: async <R extends Row>(sql: string, params: readonly unknown[] = []) =>
      (await target.query<R>(sql, [...params])).rows,
    transaction: async (fn) =>
      target === root ? root.transaction((tx) => fn(wrap(tx, root))) : fn(wrap(target, root)),
    close: async () => {
      if (target === root) await root.close();
    },
  };
}

/** PostgreSQL's buffer pool inside PGlite; pages beyond it are read from the data directory's files. */
export const PGLITE_SHARED_BUFFERS = '16MB';

/** Opens (creating if needed) a PGlite database in `dir`; `undefined` keeps it in memory. */
export async function openPglite(dir: string | undefined): Promise<SqlClient> {
  if (dir !== undefined) await mkdir(dir, { recursive: true });
  // Calendar dates stay 'YYYY-MM-DD' strings, as with the pg client.
  const options = {
    parsers: { [types.DATE]: (value: string) => value },
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`],
  };
  const db = dir === undefined ? new PGlite(options) : new PGlite(dir, options);
  await db.waitReady;
  for (const [key, value] of Object.entries(SESSION_SETTINGS)) await db.query(`SET ${key} TO ${value}`);
  return wrap(db, db);
}
