// The body of a reindex worker thread: given a batch of repository ids of one kind, reads each
// repository from Git and builds its rows (repository-rows.ts), touching no database. Reading
// Git objects and parsing YAML is the CPU-heavy part of a reindex, so it runs here, one thread
// per core, while the main thread writes the rows (see row-builder-pool.ts).
import type { RecordId } from '../core/ids/record-id.js';
import { repositoryDir, type RepositoryKind } from '../core/record/record-layout.js';
import { DEFAULT_REPOSITORY_OPTIONS, GitRepository, type RepositoryOptions } from '../core/git/repository.js';
import { buildRepositoryRows, type RepositoryRows } from './repository-rows.js';

export interface RowBuildTask {
  readonly dataDir: string;
  readonly kind: RepositoryKind;
  readonly ids: readonly RecordId[];
}

/** Each repository is read once and closed: small packs are read whole, one system call each. */
const READ_ONCE: RepositoryOptions = { ...DEFAULT_REPOSITORY_OPTIONS, wholePackBytes: 1024 * 1024 };

/** The rows of every repository in the task that has a commit, in the task's order. */
export async function buildRowBatch(task: RowBuildTask): Promise<RepositoryRows[]> {
  const rows: RepositoryRows[] = [];
  for (const id of task.ids) {
    const repository = new GitRepository(repositoryDir(task.dataDir, task.kind, id), READ_ONCE);
    try {
      const head = await repository.head();
      if (head === undefined) continue;
      rows.push(await buildRepositoryRows(task.kind, id, repository, await repository.readCommit(head)));
    } finally {
      await repository.close();
    }
  }
  return rows;
}

export default buildRowBatch;
