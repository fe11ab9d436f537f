// The one small interface every projection query goes through, so the embedded PGlite default
// and a PostgreSQL pool share all SQL: `query(sql, params)` and `transaction(fn)`.
//
// Both backends open their sessions with asynchronous commit (SESSION_SETTINGS): the projection
// is rebuilt from Git by catch-up if a crash loses its last commits, so it need not wait for the
// WAL to reach the disk. The service state kept in the same database that Git cannot rebuild
// (contact claims, idempotency keys) asks for a synchronous commit in its own transactions
// (`durably`).
export type Row = Record<string, unknown>;

export interface SqlClient {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Settings of every session: asynchronous commit (see above). */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = { synchronous_commit: 'off' };

/** Runs `fn` in a transaction whose commit waits for the disk, for state Git cannot rebuild. */
export function durably<T>(client: SqlClient, fn: (tx: SqlClient) => Promise<T>): Promise<T> {
  return client.transaction(async (tx) => {
    await tx.query('SET LOCAL synchronous_commit TO on');
    return fn(tx);
  });
}
