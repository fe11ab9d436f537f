// The thread the embedded database runs in. PGlite is PostgreSQL compiled to WebAssembly: every
// statement it runs (parsing, planning, executing, its page reads) is CPU on the thread that
// owns it. Profiled under the clinic mix of bench:load it was about a third of the server's
// main thread's busy time, so it lives here, beside the thread that serves requests and reads
// Git, and gets a core of its own (docs/adr/0014-embedded-database-in-its-own-thread.md).
//
// The protocol is small: the opening thread sends `{ id, sql, params }` and gets back
// `{ id, rows }` or `{ id, error }`; `{ id, close: true }` closes the database and ends the
// thread. Statements run one at a time, in the order they arrive; transactions are plain
// BEGIN / COMMIT / ROLLBACK statements, kept apart from other work by the opening side
// (pglite-client.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, types } from '@electric-sql/pglite';
import { SESSION_SETTINGS } from './sql-client.js';

/** What the opening thread asks. */
export type WorkerRequest =
  | { readonly id: number; readonly sql: string; readonly params: readonly unknown[] }
  | { readonly id: number; readonly close: true };

/** A database error as it crosses threads: its message and PostgreSQL's SQLSTATE. */
export interface WorkerFailure {
  readonly message: string;
  readonly code?: string;
}

export type WorkerReply =
  | { readonly id: number; readonly rows: readonly Record<string, unknown>[] }
  | { readonly id: number; readonly error: WorkerFailure };

/** What the thread is started with: the data directory, or undefined to keep it in memory. */
export interface WorkerOptions {
  readonly dir: string | undefined;
}

function failureOf(error: unknown): WorkerFailure {
  const e = error as { message?: unknown; code?: unknown };
  return {
    message: typeof e.message === 'string' ? e.message : String(error),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
  };
}

async function serve(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('pglite-worker runs only as a worker thread');
  const { dir } = workerData as WorkerOptions;
  // Calendar dates stay 'YYYY-MM-DD' strings, as with the pg client.
  const options = { parsers: { [types.DATE]: (value: string) => value } };
  const db = dir === undefined ? new PGlite(options) : new PGlite(dir, options);
  let opened: WorkerFailure | undefined;
  try {
    await db.waitReady;
    for (const [key, value] of Object.entries(SESSION_SETTINGS)) await db.query(`SET ${key} TO ${value}`);
  } catch (error) {
    opened = failureOf(error);
  }
  // Statements run strictly in arrival order: each waits for the one before it.
  let previous: Promise<unknown> = Promise.resolve();
  port.on('message', (request: WorkerRequest) => {
    previous = previous.then(async () => {
      if ('close' in request) {
        await db.close().catch(() => undefined);
        port.postMessage({ id: request.id, rows: [] } satisfies WorkerReply);
        port.close();
        return;
      }
      if (opened !== undefined) {
        port.postMessage({ id: request.id, error: opened } satisfies WorkerReply);
        return;
      }
      try {
        const result = await db.query(request.sql, [...request.params]);
        port.postMessage({
          id: request.id,
          rows: result.rows as Record<string, unknown>[],
        } satisfies WorkerReply);
      } catch (error) {
        port.postMessage({ id: request.id, error: failureOf(error) } satisfies WorkerReply);
      }
    });
  });
}

await serve();
