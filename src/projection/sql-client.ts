// The one small interface every projection query goes through, so the embedded PGlite default
// and a PostgreSQL pool share all SQL: `query(sql, params)` and `transaction(fn)`.
export type Row = Record<string, unknown>;

export interface SqlClient {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
