// Who builds rows for a bulk reindex: worker threads (one per core by default, through
// piscina), or the calling thread when there is only one core to use or the caller asks for it.
// Either way the rows come from the same function (row-builder-worker.ts), so the two cannot
// disagree; the threaded builder only moves the CPU-heavy reading of Git off the thread that
// writes to the database.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { invalidInput } from '../core/errors.js';
import type { RecordId } from '../core/ids/record-id.js';
import type { RepositoryKind } from '../core/record/record-layout.js';
import type { RepositoryRows } from './repository-rows.js';
import { buildRowBatch, rowsOrThrow, type RowBuildResult, type RowBuildTask } from './row-builder-worker.js';

export interface RowBuilder {
  /** How many batches may be in flight at once to keep every thread busy. */
  readonly parallelism: number;
  build(kind: RepositoryKind, ids: readonly RecordId[]): Promise<RepositoryRows[]>;
  close(): Promise<void>;
}

/** More threads than this only add memory: each holds its own copy of the Git and YAML code. */
export const MAX_REINDEX_THREADS = 64;

/** The default number of row-building threads: one per core the process may use. */
export const defaultReindexThreads = (): number => availableParallelism();

/** Builds rows in `threads` worker threads; 0 builds them in the calling thread. */
export function rowBuilder(dataDir: string, threads: number = defaultReindexThreads()): RowBuilder {
  if (!Number.isInteger(threads) || threads < 0 || threads > MAX_REINDEX_THREADS) {
    throw invalidInput('threads', `must be a whole number from 0 to ${MAX_REINDEX_THREADS}`);
  }
  if (threads === 0) {
    return {
      parallelism: 1,
      build: async (kind, ids) => rowsOrThrow(await buildRowBatch({ dataDir, kind, ids })),
      close: async () => undefined,
    };
  }
  const pool = new Piscina<RowBuildTask, RowBuildResult>({
    filename: new URL('./row-builder-worker.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
  });
  return {
    parallelism: threads,
    build: async (kind, ids) => rowsOrThrow(await pool.run({ dataDir, kind, ids })),
    close: () => pool.destroy(),
  };
}
