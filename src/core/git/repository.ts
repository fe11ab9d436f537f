// One patient Git repository and every operation on it: create, commit (with CAS on the
// parent), read a file at any commit, history of the repository or of one path, diff of two
// versions of a file, recovery after a crash and maintenance (repack). Writers are serialised
// in the process by a queue and across processes by the write lock; the ref CAS is the last
// line of defence. No git process is spawned per request; only maintenance runs `git repack`.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTwoFilesPatch } from 'diff';
import { VprError } from '../errors.js';
import { syncDirectory, syncFile, unlinkQuietly, writeNewFile, type Durability } from '../fs/durable-file.js';
import {
  decodeCommit,
  encodeCommit,
  type CommitData,
  type CommitHeader,
  type GitSignature,
} from './commit-object.js';
import { hashObject, type HashedObject, type ObjectId } from './git-object.js';
import { ObjectStore, type StagedPack } from './object-store.js';
import { MAIN_REF, lockRef, readRef, type RefLock } from './refs.js';
import type { RepoPath } from './repo-path.js';
import {
  applyChanges,
  diffTrees,
  findEntry,
  listTreeFiles,
  type EditOutput,
  type FileChange,
  type PathChange,
} from './tree-edit.js';
import { isTreeEntry } from './tree-object.js';
import { Worktree, assertWorktreePathsSafe, removeWorktreeTempFiles } from './worktree.js';
import { DEFAULT_WRITE_LOCK_OPTIONS, acquireWriteLock, type WriteLockOptions } from './write-lock.js';

const run = promisify(execFile);

export interface RepositoryOptions {
  readonly durability: Durability;
  readonly writeLock: WriteLockOptions;
  /** Repack once a repository holds more packs than this; 0 turns automatic maintenance off. */
  readonly maintenancePackLimit: number;
  /** This process's lock owner file (see write-lock.ts); without it each lock is a new file. */
  readonly lockOwnerFile?: string;
  /**
   * Packs of at most this many bytes are read into memory whole when first used, instead of one
   * positional read per object: for bulk scans that read each repository once (reindex). The
   * server keeps repositories open and leaves this at 0.
   */
  readonly wholePackBytes?: number;
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
  /**
   * Signs the commit: given the commit's bytes as they would be unsigned, answers a header that
   * is added last, over which it does not sign (src/core/signing: `vpr-signature`).
   */
  readonly sign?: (unsigned: Buffer) => CommitHeader;
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

/** A commit built but not landed (see GitRepository.prepare). */
export interface PreparedCommit {
  readonly parent: ObjectId | undefined;
  readonly data: CommitData;
  /** The commit's bytes exactly as they are without a signature: what a signer signs. */
  readonly unsigned: Buffer;
  readonly objects: readonly HashedObject[];
  readonly blobs: EditOutput['blobs'];
  readonly changes: readonly FileChange[];
}

/** VERSION_CONFLICT unless the head is what the change expects. */
function assertParent(expected: CommitRequest['parent'], head: ObjectId | undefined): void {
  if (expected === 'unborn' ? head !== undefined : expected !== 'current' && expected !== head) {
    throw new VprError('VERSION_CONFLICT', 'the record changed since the version this change was based on', {
      details: { expected: expected === 'unborn' ? null : expected, current: head ?? null },
    });
  }
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
  readonly #worktree: Worktree;
  /** A background repack in flight, awaited by `close`. */
  #maintenance: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Set when a commit landed but its working-tree update failed; the next write repairs first. */
  #worktreeStale = false;

  constructor(dir: string, options: RepositoryOptions = DEFAULT_REPOSITORY_OPTIONS) {
    this.dir = dir;
    this.gitDir = join(dir, '.git');
    this.#options = options;
    // Read whole, a repository is scanned object by object, so every pack is opened at once;
    // otherwise a pack is opened on its first read (most reads touch few of a repository's packs).
    const wholeFileBytes = options.wholePackBytes ?? 0;
    this.#objects = new ObjectStore(this.gitDir, options.durability, {
      wholeFileBytes,
      lazy: wholeFileBytes === 0,
    });
    this.#worktree = new Worktree(dir, this.gitDir, this.#objects);
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
    mkdirSync(dir);
    for (const sub of ['', 'objects', 'objects/pack', 'refs', 'refs/heads']) mkdirSync(join(gitDir, sub));
    // Not fsynced here: syncLayout makes these durable with the directories, in one round.
    await Promise.all([
      writeNewFile(join(gitDir, 'HEAD'), 'ref: refs/heads/main\n', 'none'),
      writeNewFile(join(gitDir, 'config'), GIT_CONFIG, 'none'),
    ]);
    return new GitRepository(dir, options);
  }

  /**
   * fsyncs, in one parallel round, the files and directories `layOut` created, so the new
   * repository survives a power cut. Call before the repository becomes visible (renamed into place).
   */
  async syncLayout(): Promise<void> {
    const durability = this.#options.durability;
    const dirs = ['objects/pack', 'objects', 'refs/heads', 'refs', ''].map((d) => join(this.gitDir, d));
    await Promise.all([
      ...[...dirs, this.dir].map((d) => syncDirectory(d, durability)),
      ...['HEAD', 'config'].map((f) => syncFile(join(this.gitDir, f), durability)),
    ]);
  }

  /** Runs `task` after every earlier write of this repository in this process has finished. */
  #serialise<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(task, task);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #withWriteLock<T>(task: () => Promise<T>): Promise<T> {
    return this.#serialise(async () => {
      const lock = await acquireWriteLock(this.gitDir, this.#options.writeLock, this.#options.lockOwnerFile);
      try {
        if (lock.brokeStaleLock || this.#worktreeStale) await this.#recoverLocked();
        return await task();
      } finally {
        lock.release();
      }
    });
  }

  async head(): Promise<ObjectId | undefined> {
    return readRef(this.gitDir, MAIN_REF);
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    return this.#withWriteLock(async () => {
      const head = await this.head();
      assertParent(request.parent, head);
      const built = await this.#build(request, head);
      const body =
        request.sign === undefined
          ? built.unsigned
          : encodeCommit({
              ...built.data,
              extraHeaders: [...built.data.extraHeaders, request.sign(built.unsigned)],
            });
      return this.#landBuilt(built, body, head);
    });
  }

  /**
   * Builds a commit on top of `parent` without landing it: its objects and its exact unsigned
   * bytes, for a signer elsewhere to sign (the two-step signing API). Nothing is written; the
   * result lands with `commitPrepared` only while `parent` is still the head.
   */
  async prepare(request: CommitRequest & { readonly parent: ObjectId }): Promise<PreparedCommit> {
    const head = await this.head();
    assertParent(request.parent, head);
    return this.#build(request, head);
  }

  /**
   * Lands a prepared commit with `header` (its signature) added last: VERSION_CONFLICT, and
   * nothing written, when the head has moved since it was prepared.
   */
  async commitPrepared(prepared: PreparedCommit, header: CommitHeader): Promise<CommitResult> {
    return this.#withWriteLock(async () => {
      const head = await this.head();
      assertParent(prepared.parent ?? 'unborn', head);
      const body = encodeCommit({ ...prepared.data, extraHeaders: [...prepared.data.extraHeaders, header] });
      return this.#landBuilt(prepared, body, head);
    });
  }

  async #build(request: CommitRequest, head: ObjectId | undefined): Promise<PreparedCommit> {
    assertWorktreePathsSafe(
      this.dir,
      request.changes.map((c) => c.path),
    );
    const baseTree = head === undefined ? undefined : (await this.readCommit(head)).tree;
    const { root, objects, blobs } = await applyChanges(this.#objects, baseTree, request.changes);
    const time = request.time ?? Date.now();
    const signature: GitSignature = { ...request.identity, timestamp: time, timezoneOffset: 0 };
    const data: CommitData = {
      tree: root,
      parents: head === undefined ? [] : [head],
      author: signature,
      committer: signature,
      extraHeaders: request.extraHeaders ?? [],
      message: request.message,
    };
    return { parent: head, data, unsigned: encodeCommit(data), objects, blobs, changes: request.changes };
  }

  /** Writes a built commit with the given body and brings the working tree along. */
  async #landBuilt(built: PreparedCommit, body: Buffer, head: ObjectId | undefined): Promise<CommitResult> {
    const commit = hashObject({ type: 'commit', body });
    await this.#land([...built.objects, commit], commit.id, head);
    let worktreeSynced = true;
    try {
      if (this.#worktree.holds(head)) await this.#worktree.apply(commit.id, built.changes, built.blobs);
      else await this.#worktree.sync(commit.id, await listTreeFiles(this.#objects, built.data.tree));
    } catch {
      // The commit is durable and acknowledged; only the derived working tree lags behind.
      this.#worktreeStale = true;
      worktreeSynced = false;
    }
    const limit = this.#options.maintenancePackLimit;
    if (limit > 0 && this.#objects.packCount > limit) this.#scheduleMaintenance();
    return { id: commit.id, parent: head, worktreeSynced };
  }

  /**
   * Makes a commit durable and moves the branch to it: the pack, its index and the ref lock are
   * written and fsynced in parallel; then the pack is published; then the ref is swapped in with
   * its compare-and-swap. Any failure removes what was written and leaves the ref untouched.
   */
  async #land(objects: readonly HashedObject[], id: ObjectId, parent: ObjectId | undefined): Promise<void> {
    const durability = this.#options.durability;
    const [staged, locked] = await Promise.allSettled([
      this.#objects.stage(objects),
      lockRef(this.gitDir, id, durability),
    ]);
    const pack: StagedPack | undefined = staged.status === 'fulfilled' ? staged.value : undefined;
    const ref: RefLock | undefined = locked.status === 'fulfilled' ? locked.value : undefined;
    try {
      if (staged.status === 'rejected') throw staged.reason;
      if (locked.status === 'rejected') throw locked.reason;
      await pack?.publish();
      await ref!.commit(parent);
    } catch (error) {
      pack?.discard();
      ref?.abort();
      throw error;
    }
  }

  #scheduleMaintenance(): void {
    this.#maintenance ??= this.#withWriteLock(() =>
      this.#repackLocked(['repack', '-d', '-q', '--geometric=2']),
    )
      .catch(() => undefined)
      .finally(() => {
        this.#maintenance = undefined;
      });
  }

  /** A commit object's bytes exactly as stored (what `git cat-file commit` prints). */
  async readCommitBytes(id: ObjectId): Promise<Buffer> {
    return (await this.#objects.read(id, 'commit')).body;
  }

  async readCommit(id: ObjectId): Promise<CommitRecord> {
    return { id, ...decodeCommit((await this.#objects.read(id, 'commit')).body) };
  }

  async #resolve(at: ObjectId | undefined): Promise<ObjectId> {
    const id = at ?? (await this.head());
    if (id === undefined) throw new VprError('NOT_FOUND', 'the repository has no commits');
    // A version a caller names must be a commit of this repository (not a blob or tree id).
    if (
      at !== undefined &&
      (!(await this.#objects.has(at)) || (await this.#objects.read(at)).type !== 'commit')
    ) {
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

  /** The files commit `id` changed relative to its first parent (all its files for a root commit). */
  async changedFiles(id: ObjectId): Promise<PathChange[]> {
    const commit = await this.readCommit(id);
    const parent = commit.parents[0];
    const parentTree = parent === undefined ? undefined : (await this.readCommit(parent)).tree;
    return diffTrees(this.#objects, parentTree, commit.tree);
  }

  /** Every file of commit `at` (default: HEAD) with its content id. */
  async listFileIds(at?: ObjectId): Promise<{ path: RepoPath; id: ObjectId }[]> {
    const commit = await this.readCommit(await this.#resolve(at));
    return (await listTreeFiles(this.#objects, commit.tree)).map(({ path, id }) => ({ path, id }));
  }

  /** Reads a blob by id (for projections that already know the id from a tree listing). */
  async readBlob(id: ObjectId): Promise<Buffer> {
    return (await this.#objects.read(id, 'blob')).body;
  }

  /** The object at `path` in a tree: a file's blob or a folder's tree (so a folder's history works too). */
  async #entryAt(tree: ObjectId | undefined, path: RepoPath): Promise<ObjectId | undefined> {
    if (tree === undefined) return undefined;
    return (await findEntry(this.#objects, tree, path))?.id;
  }

  /** Commits newest first along first parents, optionally only those that changed `path` (a file or a folder). */
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
          (await this.#entryAt(commit.tree, query.path)) !== (await this.#entryAt(parentTree, query.path));
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
    unlinkQuietly(join(this.gitDir, `${MAIN_REF}.lock`));
    this.#worktree.removeStaleLock();
    removeWorktreeTempFiles(this.dir);
    const packDir = join(this.gitDir, 'objects', 'pack');
    for (const name of readdirSync(packDir)) if (name.startsWith('tmp_')) unlinkQuietly(join(packDir, name));
    await this.#objects.close();
    this.#worktree.forget();
    const head = await this.head();
    if (head !== undefined) {
      await this.#worktree.sync(head, await listTreeFiles(this.#objects, (await this.readCommit(head)).tree));
    }
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

  async #repackLocked(repack: readonly string[] = ['repack', '-a', '-d', '-q']): Promise<void> {
    await this.#objects.close();
    await runGit(this.dir, repack);
    await runGit(this.dir, ['pack-refs', '--all', '--prune']);
  }

  /** Repacks every object into one pack and packs the refs, under the write lock. */
  async maintain(): Promise<void> {
    await this.#withWriteLock(() => this.#repackLocked());
  }

  /** Waits for background maintenance and releases open pack files; the repository can still be used. */
  async close(): Promise<void> {
    await this.#maintenance;
    await this.#objects.close();
  }
}
