// PostgreSQL through a pg connection pool, for deployments that name DATABASE_URL.
import pg from 'pg';
import { SESSION_SETTINGS, type Row, type SqlClient } from './sql-client.js';

const DATE_OID = 1082;

export interface PgOptions {
  readonly connectionString: string;
  /** Schema to use (tests isolate themselves in their own); created if missing. */
  readonly schema?: string;
  readonly max?: number;
  /** Shown in pg_stat_activity, so operators (and tests) can find this pool's connections. */
  readonly applicationName?: string;
}

/**
 * A connection the server closed (restart, administrator, failover) is detected only when used.
 * Work that had not started on it is safe to try once more on a fresh connection.
 */
function isBrokenConnection(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : '';
  return (
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    /Connection terminated|Client has encountered a connection error|not queryable/.test(message)
  );
}

async function onceMoreIfBroken<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isBrokenConnection(error)) throw error;
    return work();
  }
}

function clientOf(runner: pg.Pool | pg.PoolClient, pool: pg.Pool): SqlClient {
  return {
    query: async <R extends Row>(sql: string, params: readonly unknown[] = []) =>
      runner === pool
        ? onceMoreIfBroken(async () => (await pool.query<R>(sql, [...params])).rows)
        : (await runner.query<R>(sql, [...params])).rows,
    transaction: async (fn) => {
      if (runner !== pool) return fn(clientOf(runner, pool));
      const connection = await onceMoreIfBroken(async () => {
        const candidate = await pool.connect();
        try {
          await candidate.query('BEGIN');
          return candidate;
        } catch (error) {
          candidate.release(true);
          throw error;
        }
      });
      let broken = false;
      try {
        const result = await fn(clientOf(connection, pool));
        await connection.query('COMMIT');
        return result;
      } catch (error) {
        broken = isBrokenConnection(error);
        await connection.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        connection.release(broken);
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
    // Bounded waits: a projection that is down answers PROJECTION_UNAVAILABLE instead of hanging.
    connectionTimeoutMillis: 3_000,
    query_timeout: 10_000,
    application_name: options.applicationName ?? 'vpr',
    options: [
      ...Object.entries(SESSION_SETTINGS).map(([key, value]) => `-c ${key}=${value}`),
      ...(schema === undefined ? [] : [`-c search_path=${schema}`]),
    ].join(' '),
  });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on('error', () => undefined);
  if (schema !== undefined) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  return clientOf(pool, pool);
}
