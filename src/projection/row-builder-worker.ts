// The body of a reindex worker thread: given a batch of repository ids of one kind, reads each
// repository from Git and builds its rows (repository-rows.ts), touching no database. Reading
// Git objects and parsing YAML is the CPU-heavy part of a reindex, so it runs here, one thread
// per core, while the main thread writes the rows (see row-builder-pool.ts). A repository that
// cannot be read ends the batch with a typed failure naming it; errors do not cross threads
// with their class, so the failure travels as plain data and becomes a VprError again there.
import { VprError, type ErrorCode, type ErrorDetails } from '../core/errors.js';
import { DEFAULT_REPOSITORY_OPTIONS, GitRepository, type RepositoryOptions } from '../core/git/repository.js';
import type { RecordId } from '../core/ids/record-id.js';
import { repositoryDir, type RepositoryKind } from '../core/record/record-layout.js';
import { buildRepositoryRows, type RepositoryRows } from './repository-rows.js';

export interface RowBuildTask {
  readonly dataDir: string;
  readonly kind: RepositoryKind;
  readonly ids: readonly RecordId[];
}

export type RowBuildResult =
  | { readonly rows: RepositoryRows[] }
  | { readonly failure: { code: ErrorCode; message: string; details: ErrorDetails } };

/** Each repository is read once and closed: small packs are read whole, one system call each. */
const READ_ONCE: RepositoryOptions = { ...DEFAULT_REPOSITORY_OPTIONS, wholePackBytes: 1024 * 1024 };

function failureOf(error: unknown, kind: RepositoryKind, id: RecordId): RowBuildResult {
  const where = { kind, id };
  if (error instanceof VprError) {
    return { failure: { code: error.code, message: error.message, details: { ...error.details, ...where } } };
  }
  // A system call that failed (EIO, EACCES…) is storage; anything else is the data itself.
  if (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string') {
    return {
      failure: {
        code: 'STORAGE_FAILURE',
        message: 'a repository could not be read from disk',
        details: { ...where, errno: (error as NodeJS.ErrnoException).code },
      },
    };
  }
  return {
    failure: {
      code: 'CORRUPT_REPOSITORY',
      message: 'a repository failed an integrity check',
      details: where,
    },
  };
}

/** The rows of every repository in the task that has a commit, in the task's order. */
export async function buildRowBatch(task: RowBuildTask): Promise<RowBuildResult> {
  const rows: RepositoryRows[] = [];
  for (const id of task.ids) {
    const repository = new GitRepository(repositoryDir(task.dataDir, task.kind, id), READ_ONCE);
    try {
      const head = await repository.head();
      if (head === undefined) continue;
      rows.push(await buildRepositoryRows(task.kind, id, repository, await repository.readCommit(head)));
    } catch (error) {
      return failureOf(error, task.kind, id);
    } finally {
      await repository.close();
    }
  }
  return { rows };
}

/** The rows of a batch, or its failure thrown as the VprError it was. */
export function rowsOrThrow(result: RowBuildResult): RepositoryRows[] {
  if ('rows' in result) return result.rows;
  const { code, message, details } = result.failure;
  throw new VprError(code, message, { details });
}

export default buildRowBatch;
