// One repository's history as a full projection reads it: each commit and the files it changed,
// read from Git at most once however many rows need them (the documents' first and last change,
// and the audit log's row per commit both walk the same history).
import type { ObjectId } from '../core/git/git-object.js';
import type { CommitRecord, GitRepository } from '../core/git/repository.js';
import type { PathChange } from '../core/git/tree-edit.js';

export interface HistoryReader {
  readonly repository: GitRepository;
  commit(id: ObjectId): Promise<CommitRecord>;
  changes(id: ObjectId): Promise<readonly PathChange[]>;
}

export function historyReader(repository: GitRepository, head: CommitRecord): HistoryReader {
  const commits = new Map<ObjectId, Promise<CommitRecord>>([[head.id, Promise.resolve(head)]]);
  const changes = new Map<ObjectId, Promise<readonly PathChange[]>>();
  const once = <T>(cache: Map<ObjectId, Promise<T>>, id: ObjectId, read: () => Promise<T>) => {
    let value = cache.get(id);
    if (value === undefined) cache.set(id, (value = read()));
    return value;
  };
  return {
    repository,
    commit: (id) => once(commits, id, () => repository.readCommit(id)),
    changes: (id) => once(changes, id, () => repository.changedFiles(id)),
  };
}
