// One patient Git repository and every operation on it: create, commit (with CAS on the
// parent), read a file at any commit, history of the repository or of one path, diff of two
// versions of a file, recovery after a crash and maintenance (repack). Writers are serialised
// in the process by a queue and across processes by the write lock; the ref CAS is the last
// line of defence. No git process is spawned per request; only maintenance runs `git repack`.
import { execFile } from 'node:child_process';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTwoFilesPatch } from 'diff';
import { VprError } from '../errors.js';
import { syncDirectory, type Durability } from '../fs/durable-file.js';
import {
  decodeCommit,
  encodeCommit,
  type CommitData,
  type CommitHeader,
  type GitSignature,
} from './commit-object.js';
import { hashObject, type ObjectId } from './git-object.js';
import { ObjectStore } from './object-store.js';
import { MAIN_REF, readRef, updateRef } from './refs.js';
import type { RepoPath } from './repo-path.js';
import { applyChanges, findEntry, listTreeFiles, type FileChange } from './tree-edit.js';
import { isTreeEntry } from './tree-object.js';
import {
  assertWorktreePathsSafe,
  removeStaleIndexLock,
  removeWorktreeTempFiles,
  syncWorktree,
} from './worktree.js';
import { DEFAULT_WRITE_LOCK_OPTIONS, acquireWriteLock, type WriteLockOptions } from './write-lock.js';

const run = promisify(execFile);

export interface RepositoryOptions {
  readonly durability: Durability;
  readonly writeLock: WriteLockOptions;
  /** Repack once a repository holds more packs than this; 0 turns automatic maintenance off. */
  readonly maintenancePackLimit: number;
}

export const DEFAULT_REPOSITORY_OPTIONS: RepositoryOptions = {
  durability: 'fsync',
  writeLock: DEFAULT_WRITE_LOCK_OPTIONS,
  maintenancePackLimit: 50,
};

/** Git's name and email for a commit's author and committer. */
export interface GitIdentity {
  readonly name: string;
  readonly email: string;
}

export interface CommitRequest {
  /** The commit this change is based on; 'current' takes the head as found under the lock. */
  readonly parent: ObjectId | 'unborn' | 'current';
  readonly changes: readonly FileChange[];
  readonly identity: GitIdentity;
  readonly message: string;
  readonly extraHeaders?: readonly CommitHeader[];
  /** Commit time in milliseconds; defaults to now. */
  readonly time?: number;
}

export interface CommitResult {
  readonly id: ObjectId;
  readonly parent: ObjectId | undefined;
  /**
   * False when the commit landed but the working tree could not be brought up to date; the
   * next write (or `recover`) repairs it. The commit itself is durable either way.
   */
  readonly worktreeSynced: boolean;
}

export interface CommitRecord extends CommitData {
  readonly id: ObjectId;
}

export interface HistoryQuery {
  /** Only commits that changed this file. */
  readonly path?: RepoPath;
  /** Start after this commit (the `next` cursor of a previous page). */
  readonly after?: ObjectId;
  readonly limit?: number;
}

export interface HistoryPage {
  readonly commits: CommitRecord[];
  /** Pass as `after` for the next page; absent when the history is exhausted. */
  readonly next?: ObjectId;
}

export const MAX_HISTORY_PAGE = 500;
/** The most commits one history call examines, so a rarely changed path cannot cause an unbounded walk. */
export const MAX_HISTORY_SCAN = 20_000;

const GIT_CONFIG = [
  '[core]',
  '\trepositoryformatversion = 0',
  '\tfilemode = true',
  '\tbare = false',
  '\tlogallrefupdates = false',
  '\tfsync = committed',
  '\tfsyncMethod = fsync',
  '[gc]',
  '\tauto = 0',
  '[maintenance]',
  '\tauto = false',
  '',
].join('\n');

/** The stock git CLI with the user's global and system configuration ignored. */
export async function runGit(cwd: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run('git', args, {
    cwd,
    env: {
      ...process.env,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_TERMINAL_PROMPT: '0',
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

export class GitRepository {
  readonly dir: string;
  readonly gitDir: string;
  readonly #options: RepositoryOptions;
  readonly #objects: ObjectStore;
  #queue: Promise<unknown> = Promise.resolve();
  /** Set when a commit landed but its working-tree update failed; the next write repairs first. */
  #worktreeStale = false;

  constructor(dir: string, options: RepositoryOptions = DEFAULT_REPOSITORY_OPTIONS) {
    this.dir = dir;
    this.gitDir = join(dir, '.git');
    this.#options = options;
    this.#objects = new ObjectStore(this.gitDir, options.durability);
  }

  /**
   * Lays out an empty repository (HEAD on `main`, config, object and ref directories) in `dir`,
   * which must not exist. The caller commits the first files and makes the directories durable.
   */
  static async layOut(
    dir: string,
    options: RepositoryOptions = DEFAULT_REPOSITORY_OPTIONS,
  ): Promise<GitRepository> {
    const gitDir = join(dir, '.git');
    await mkdir(dir);
    await Promise.all(
      ['objects/pack', 'objects/info', 'refs/heads', 'refs/tags'].map((p) =>
        mkdir(join(gitDir, p), { recursive: true }),
      ),
    );
    const writeNew = async (name: string, text: string) => {
      const handle = await open(join(gitDir, name), 'wx', 0o644);
      try {
        await handle.writeFile(text);
        if (options.durability === 'fsync') await handle.sync();
      } finally {
        await handle.close();
      }
    };
    await Promise.all([writeNew('HEAD', 'ref: refs/heads/main\n'), writeNew('config', GIT_CONFIG)]);
    return new GitRepository(dir, options);
  }

  /** fsyncs every directory `layOut` created, so the new repository survives a power cut. */
  async syncLayout(): Promise<void> {
    const dirs = ['objects/pack', 'objects/info', 'objects', 'refs/heads', 'refs/tags', 'refs', ''];
    await Promise.all(dirs.map((d) => syncDirectory(join(this.gitDir, d), this.#options.durability)));
    await syncDirectory(this.dir, this.#options.durability);
  }

  /** Runs `task` after every earlier write of this repository in this process has finished. */
  #serialise<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(task, task);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #withWriteLock<T>(task: () => Promise<T>): Promise<T> {
    return this.#serialise(async () => {
      const lock = await acquireWriteLock(this.gitDir, this.#options.writeLock);
      try {
        if (lock.brokeStaleLock || this.#worktreeStale) await this.#recoverLocked();
        return await task();
      } finally {
        await lock.release();
      }
    });
  }

  async head(): Promise<ObjectId | undefined> {
    return readRef(this.gitDir, MAIN_REF);
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    return this.#withWriteLock(async () => {
      const head = await this.head();
      const expected = request.parent;
      if (expected === 'unborn' ? head !== undefined : expected !== 'current' && expected !== head) {
        throw new VprError(
          'VERSION_CONFLICT',
          'the record changed since the version this change was based on',
          {
            details: { expected: expected === 'unborn' ? null : expected, current: head ?? null },
          },
        );
      }
      await assertWorktreePathsSafe(
        this.dir,
        request.changes.map((c) => c.path),
      );
      const baseTree = head === undefined ? undefined : (await this.readCommit(head)).tree;
      const { root, objects } = await applyChanges(this.#objects, baseTree, request.changes);
      const time = request.time ?? Date.now();
      const signature: GitSignature = { ...request.identity, timestamp: time, timezoneOffset: 0 };
      const commit = hashObject({
        type: 'commit',
        body: encodeCommit({
          tree: root,
          parents: head === undefined ? [] : [head],
          author: signature,
          committer: signature,
          extraHeaders: request.extraHeaders ?? [],
          message: request.message,
        }),
      });
      await this.#objects.write([...objects, commit]);
      await updateRef(this.gitDir, commit.id, head, this.#options.durability);
      let worktreeSynced = true;
      try {
        await syncWorktree(this.dir, this.gitDir, this.#objects, await listTreeFiles(this.#objects, root));
      } catch {
        // The commit is durable and acknowledged; only the derived working tree lags behind.
        this.#worktreeStale = true;
        worktreeSynced = false;
      }
      const limit = this.#options.maintenancePackLimit;
      if (limit > 0 && this.#objects.packCount > limit) await this.#repackLocked();
      return { id: commit.id, parent: head, worktreeSynced };
    });
  }

  async readCommit(id: ObjectId): Promise<CommitRecord> {
    return { id, ...decodeCommit((await this.#objects.read(id, 'commit')).body) };
  }

  async #resolve(at: ObjectId | undefined): Promise<ObjectId> {
    const id = at ?? (await this.head());
    if (id === undefined) throw new VprError('NOT_FOUND', 'the repository has no commits');
    if (at !== undefined && !(await this.#objects.has(at))) {
      throw new VprError('NOT_FOUND', 'no such version in this repository', { details: { version: at } });
    }
    return id;
  }

  /** The content of `path` at commit `at` (default: HEAD). */
  async readFile(path: RepoPath, at?: ObjectId): Promise<Buffer> {
    const commit = await this.readCommit(await this.#resolve(at));
    const entry = await findEntry(this.#objects, commit.tree, path);
    if (entry === undefined || isTreeEntry(entry)) {
      throw new VprError('NOT_FOUND', 'no such file at this version', { details: { path } });
    }
    if (entry.mode !== '100644' && entry.mode !== '100755') {
      throw new VprError('UNSAFE_PATH', 'the path names a symlink or submodule', { details: { path } });
    }
    return (await this.#objects.read(entry.id, 'blob')).body;
  }

  /** Every file path at commit `at` (default: HEAD). */
  async listFiles(at?: ObjectId): Promise<RepoPath[]> {
    const commit = await this.readCommit(await this.#resolve(at));
    return (await listTreeFiles(this.#objects, commit.tree)).map((file) => file.path);
  }

  async #blobAt(tree: ObjectId | undefined, path: RepoPath): Promise<ObjectId | undefined> {
    if (tree === undefined) return undefined;
    const entry = await findEntry(this.#objects, tree, path);
    return entry === undefined || isTreeEntry(entry) ? undefined : entry.id;
  }

  /** Commits newest first along first parents, optionally only those that changed `path`. */
  async history(query: HistoryQuery = {}): Promise<HistoryPage> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), MAX_HISTORY_PAGE);
    let cursor: ObjectId | undefined;
    if (query.after === undefined) cursor = await this.head();
    else cursor = (await this.readCommit(await this.#resolve(query.after))).parents[0];
    const commits: CommitRecord[] = [];
    for (let scanned = 0; cursor !== undefined && scanned < MAX_HISTORY_SCAN; scanned++) {
      const commit = await this.readCommit(cursor);
      let include = true;
      if (query.path !== undefined) {
        const parent = commit.parents[0];
        const parentTree = parent === undefined ? undefined : (await this.readCommit(parent)).tree;
        include =
          (await this.#blobAt(commit.tree, query.path)) !== (await this.#blobAt(parentTree, query.path));
      }
      if (include) {
        if (commits.length === limit) return { commits, next: commits.at(-1)!.id };
        commits.push(commit);
      }
      cursor = commit.parents[0];
    }
    return cursor === undefined ? { commits } : { commits, next: commits.at(-1)?.id ?? cursor };
  }

  /** A unified diff of `path` between two versions (absent on either side counts as empty). */
  async diffFile(path: RepoPath, from: ObjectId, to: ObjectId): Promise<string> {
    const read = async (at: ObjectId) => {
      try {
        return (await this.readFile(path, at)).toString('utf8');
      } catch (error) {
        if (error instanceof VprError && error.code === 'NOT_FOUND' && (await this.#objects.has(at)))
          return '';
        throw error;
      }
    };
    const [before, after] = await Promise.all([read(from), read(to)]);
    return createTwoFilesPatch(`a/${path}`, `b/${path}`, before, after, from, to);
  }

  async #recoverLocked(): Promise<void> {
    await unlink(join(this.gitDir, `${MAIN_REF}.lock`)).catch(() => undefined);
    await removeStaleIndexLock(this.gitDir);
    await removeWorktreeTempFiles(this.dir);
    const packDir = join(this.gitDir, 'objects', 'pack');
    for (const name of await readdir(packDir).catch(() => [] as string[])) {
      if (name.startsWith('tmp_')) await unlink(join(packDir, name)).catch(() => undefined);
    }
    await this.#objects.close();
    const head = await this.head();
    const files =
      head === undefined ? [] : await listTreeFiles(this.#objects, (await this.readCommit(head)).tree);
    await syncWorktree(this.dir, this.gitDir, this.#objects, files);
    this.#worktreeStale = false;
  }

  /**
   * Brings the repository back to a clean state after a crash: removes abandoned locks and temp
   * files and rewrites the working tree and index from HEAD. Acknowledged commits are never
   * touched; safe to run at any time.
   */
  async recover(): Promise<void> {
    await this.#withWriteLock(() => this.#recoverLocked());
  }

  async #repackLocked(): Promise<void> {
    await this.#objects.close();
    await runGit(this.dir, ['repack', '-a', '-d', '-q']);
    await runGit(this.dir, ['pack-refs', '--all', '--prune']);
  }

  /** Repacks every object into one pack and packs the refs, under the write lock. */
  async maintain(): Promise<void> {
    await this.#withWriteLock(() => this.#repackLocked());
  }

  /** Releases open pack files; the repository can still be used afterwards. */
  async close(): Promise<void> {
    await this.#objects.close();
  }
}
