// The embedded default: PGlite (PostgreSQL compiled to WebAssembly) with its data under the data
// directory, so a fresh machine needs no database server.
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

/** Opens (creating if needed) a PGlite database in `dir`; `undefined` keeps it in memory. */
export async function openPglite(dir: string | undefined): Promise<SqlClient> {
  if (dir !== undefined) await mkdir(dir, { recursive: true });
  // Calendar dates stay 'YYYY-MM-DD' strings, as with the pg client.
  const options = { parsers: { [types.DATE]: (value: string) => value } };
  const db = dir === undefined ? new PGlite(options) : new PGlite(dir, options);
  await db.waitReady;
  for (const [key, value] of Object.entries(SESSION_SETTINGS)) await db.query(`SET ${key} TO ${value}`);
  return wrap(db, db);
}
