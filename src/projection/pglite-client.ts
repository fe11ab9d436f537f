// The embedded default: PGlite (PostgreSQL compiled to WebAssembly) with its data under the data
// directory, so a fresh machine needs no database server. The database runs in a worker thread
// of its own (pglite-worker.ts); this side is the SqlClient the rest of VPR uses. PGlite is one
// session, so a transaction has it to itself: statements from outside a transaction wait until
// no transaction is open, and transactions take turns.
import { mkdir } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { Row, SqlClient } from './sql-client.js';
import type { WorkerFailure, WorkerOptions, WorkerReply, WorkerRequest } from './pglite-worker.js';

/** A statement the embedded database refused, with PostgreSQL's SQLSTATE as `code`. */
export class EmbeddedDatabaseError extends Error {
  readonly code: string | undefined;

  constructor(failure: WorkerFailure) {
    super(failure.message);
    this.name = 'EmbeddedDatabaseError';
    this.code = failure.code;
  }
}

class EmbeddedDatabase {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (rows: Row[]) => void; reject: (e: Error) => void }>();
  #next = 1;
  /** Why the thread can no longer answer, once it cannot. */
  #stopped: Error | undefined;
  /** The transaction open now, settled when it ends; undefined when none is. */
  #transaction: Promise<void> | undefined;

  constructor(dir: string | undefined) {
    this.#worker = new Worker(new URL('./pglite-worker.js', import.meta.url), {
      workerData: { dir } satisfies WorkerOptions,
    });
    // The thread keeps the process alive only while it owes an answer.
    this.#worker.unref();
    this.#worker.on('message', (reply: WorkerReply) => {
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) return;
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) this.#worker.unref();
      if ('error' in reply) pending.reject(new EmbeddedDatabaseError(reply.error));
      else pending.resolve(reply.rows as Row[]);
    });
    const stop = (error: Error) => {
      this.#stopped ??= error;
      for (const pending of this.#pending.values()) pending.reject(this.#stopped);
      this.#pending.clear();
    };
    this.#worker.on('error', stop);
    this.#worker.on('exit', () => stop(new Error('the embedded database has stopped')));
  }

  #send(request: Omit<WorkerRequest, 'id'>): Promise<Row[]> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    const id = this.#next++;
    return new Promise<Row[]>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) this.#worker.ref();
      this.#worker.postMessage({ ...request, id } as WorkerRequest);
    });
  }

  /** Waits until no transaction is open (one that opens meanwhile is waited for too). */
  async #outsideTransactions(): Promise<void> {
    while (this.#transaction !== undefined) await this.#transaction;
  }

  run(sql: string, params: readonly unknown[]): Promise<Row[]> {
    return this.#send({ sql, params });
  }

  async query(sql: string, params: readonly unknown[]): Promise<Row[]> {
    await this.#outsideTransactions();
    return this.run(sql, params);
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.#outsideTransactions();
    let end!: () => void;
    this.#transaction = new Promise<void>((resolve) => (end = resolve));
    try {
      await this.run('BEGIN', []);
      let result: T;
      try {
        result = await fn();
      } catch (error) {
        await this.run('ROLLBACK', []).catch(() => undefined);
        throw error;
      }
      await this.run('COMMIT', []);
      return result;
    } finally {
      this.#transaction = undefined;
      end();
    }
  }

  async close(): Promise<void> {
    if (this.#stopped === undefined) {
      await this.#outsideTransactions();
      await this.#send({ close: true }).catch(() => undefined);
    }
    await this.#worker.terminate();
  }
}

/** The client of one open transaction: its statements go straight in; a nested one joins it. */
function transactionClient(db: EmbeddedDatabase): SqlClient {
  const tx: SqlClient = {
    query: async <R extends Row>(sql: string, params: readonly unknown[] = []) =>
      (await db.run(sql, params)) as R[],
    transaction: (fn) => fn(tx),
    close: async () => undefined,
  };
  return tx;
}

/** Opens (creating if needed) a PGlite database in `dir`; `undefined` keeps it in memory. */
export async function openPglite(dir: string | undefined): Promise<SqlClient> {
  if (dir !== undefined) await mkdir(dir, { recursive: true });
  const db = new EmbeddedDatabase(dir);
  try {
    // Opening fails here, not at the first real statement, when the database cannot start.
    await db.query('SELECT 1', []);
  } catch (error) {
    await db.close();
    throw error;
  }
  return {
    query: async <R extends Row>(sql: string, params: readonly unknown[] = []) =>
      (await db.query(sql, params)) as R[],
    transaction: (fn) => db.transaction(() => fn(transactionClient(db))),
    close: () => db.close(),
  };
}
