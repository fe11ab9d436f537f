// PostgreSQL through a pg connection pool, for deployments that name DATABASE_URL.
import pg from 'pg';
import type { Row, SqlClient } from './sql-client.js';

const DATE_OID = 1082;

export interface PgOptions {
  readonly connectionString: string;
  /** Schema to use (tests isolate themselves in their own); created if missing. */
  readonly schema?: string;
  readonly max?: number;
}

function clientOf(runner: pg.Pool | pg.PoolClient, pool: pg.Pool): SqlClient {
  return {
    query: async <R extends Row>(sql: string, params: readonly unknown[] = []) =>
      (await runner.query<R>(sql, [...params])).rows,
    transaction: async (fn) => {
      if (runner !== pool) return fn(clientOf(runner, pool));
      const connection = await pool.connect();
      try {
        await connection.query('BEGIN');
        const result = await fn(clientOf(connection, pool));
        await connection.query('COMMIT');
        return result;
      } catch (error) {
        await connection.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        connection.release();
      }
    },
    close: async () => {
      if (runner === pool) await pool.end();
    },
  };
}

export async function openPostgres(options: PgOptions): Promise<SqlClient> {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error('invalid schema name');
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    // Calendar dates stay 'YYYY-MM-DD' strings: a birth date is not an instant in any time zone.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === DATE_OID
          ? (value: string) => value
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on('error', () => undefined);
  if (schema !== undefined) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  return clientOf(pool, pool);
}
