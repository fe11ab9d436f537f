// Keeping the working tree and `.git/index` equal to HEAD, so that people can open the folder
// and read the files and `git status` is clean. The working tree is derived data: it is written
// without fsync and rebuilt from Git by recovery after a crash (docs/adr/0003). The index is
// replaced through git's own `index.lock` protocol. Paths are checked component by component so
// a symlink planted in the working tree can never redirect a write outside the repository.
//
// After a commit only the changed paths are touched, when this process knows the index still
// holds the parent commit (it wrote it, and the file is unchanged since); otherwise the whole
// tree is compared with the index. File calls are synchronous (small page-cache operations),
// except the rename that swaps the new index in: under load that waits on the filesystem's
// journal, so it goes to the thread pool (docs/adr/0015).
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VprError } from '../errors.js';
import { isErrno, unlinkQuietly } from '../fs/durable-file.js';
import type { ObjectId } from './git-object.js';
import { decodeIndex, encodeIndex, indexStatFrom, type IndexEntry } from './index-file.js';
import type { ObjectStore } from './object-store.js';
import { pathSegments, type RepoPath } from './repo-path.js';
import type { FileChange, TreeFile } from './tree-edit.js';

const INDEX_LOCK_WAIT_MS = 2_000;
/** Working-tree temp files of earlier versions; recovery still removes any left behind. */
const TEMP_PREFIX = '.vpr_tmp_';

function lstatOrUndefined(path: string): BigIntStats | undefined {
  return lstatSync(path, { bigint: true, throwIfNoEntry: false });
}

function unsafe(message: string): VprError {
  return new VprError('UNSAFE_PATH', message);
}

/**
 * Checks, before anything is written, that each path can be written in the working tree: every
 * existing parent is a real directory and the file itself, if present, is a regular file.
 */
export function assertWorktreePathsSafe(root: string, paths: readonly RepoPath[]): void {
  for (const path of paths) {
    let dir = root;
    for (const segment of pathSegments(path).slice(0, -1)) {
      dir = join(dir, segment);
      const info = lstatOrUndefined(dir);
      if (info === undefined) break;
      if (!info.isDirectory()) throw unsafe('a working-tree directory is a symlink or a file');
    }
    const existing = lstatOrUndefined(join(root, path));
    if (existing !== undefined && !existing.isFile())
      throw unsafe('a working-tree path is not a regular file');
  }
}

/** Creates the parent directories of `path` inside `root`, refusing symlinks and files on the way. */
function ensureParents(root: string, path: RepoPath): void {
  let dir = root;
  for (const segment of pathSegments(path).slice(0, -1)) {
    dir = join(dir, segment);
    const info = lstatOrUndefined(dir);
    if (info === undefined) mkdirSync(dir);
    else if (!info.isDirectory()) throw unsafe('a working-tree directory is not a directory');
  }
}

/**
 * Writes a working-tree file in place: an existing file is truncated and rewritten, a new one is
 * created directly. No temp file and rename: the working tree is derived data (a crash is
 * repaired from HEAD), and each new inode costs ~0.4 ms of CPU here (docs/benchmarks.md).
 * O_NOFOLLOW and O_EXCL mean a symlink swapped in after the checks is never followed.
 */
function writeWorktreeFile(root: string, path: RepoPath, content: Buffer): IndexEntry['stat'] {
  ensureParents(root, path);
  const target = join(root, path);
  const existing = lstatOrUndefined(target);
  if (existing !== undefined && !existing.isFile()) throw unsafe('a working-tree path is not a regular file');
  const flags =
    existing === undefined
      ? constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL
      : constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW;
  const fd = openSync(target, flags, 0o644);
  try {
    let written = 0;
    while (written < content.length) written += writeSync(fd, content, written, content.length - written);
    return indexStatFrom(fstatSync(fd, { bigint: true }));
  } finally {
    closeSync(fd);
  }
}

function removeWorktreeFile(root: string, path: RepoPath): void {
  const target = join(root, path);
  const existing = lstatOrUndefined(target);
  if (existing === undefined) return;
  if (existing.isDirectory()) throw unsafe('a working-tree path is not a regular file');
  unlinkSync(target);
  // Remove directories the file leaves empty, up to (not including) the repository root.
  for (let dir = dirname(target); dir.length > root.length; dir = dirname(dir)) {
    try {
      rmdirSync(dir);
    } catch {
      break;
    }
  }
}

async function lockIndex(gitDir: string): Promise<{ path: string; fd: number }> {
  const path = join(gitDir, 'index.lock');
  const deadline = Date.now() + INDEX_LOCK_WAIT_MS;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    try {
      return { path, fd: openSync(path, 'wx', 0o644) };
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
      if (Date.now() >= deadline)
        throw new VprError('REPOSITORY_BUSY', 'the index is locked by another process');
      await sleep(delay);
    }
  }
}

function indexStamp(gitDir: string): string | undefined {
  const info = statSync(join(gitDir, 'index'), { bigint: true, throwIfNoEntry: false });
  return info === undefined ? undefined : `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

function readIndexEntries(gitDir: string): IndexEntry[] {
  let data: Buffer;
  try {
    data = readFileSync(join(gitDir, 'index'));
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
  try {
    return decodeIndex(data);
  } catch (error) {
    if (error instanceof VprError) throw error;
    throw new VprError('CORRUPT_REPOSITORY', 'the Git index cannot be read', { cause: error });
  }
}

/** Removes working-tree temp files a crashed writer left behind (bounded walk). */
export function removeWorktreeTempFiles(repoDir: string, maxEntries = 100_000): void {
  const pending = [repoDir];
  let seen = 0;
  while (pending.length > 0 && seen < maxEntries) {
    const dir = pending.pop()!;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      seen++;
      if (dir === repoDir && entry.name === '.git') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile() && entry.name.startsWith(TEMP_PREFIX)) unlinkQuietly(path);
    }
  }
}

const modeOf = (file: TreeFile): number => (file.mode === '100755' ? 0o100755 : 0o100644);

/** The working tree and index of one repository. Use only while holding the repository's write lock. */
export class Worktree {
  readonly #dir: string;
  readonly #gitDir: string;
  readonly #objects: ObjectStore;
  /** What this process last wrote to the index: valid while the index file is unchanged. */
  #known: { commit: ObjectId; stamp: string; entries: Map<string, IndexEntry> } | undefined;

  constructor(dir: string, gitDir: string, objects: ObjectStore) {
    this.#dir = dir;
    this.#gitDir = gitDir;
    this.#objects = objects;
  }

  /** Takes index.lock, lets `edit` change the entries and the files, then swaps the new index in. */
  async #withIndex(
    commit: ObjectId,
    edit: (entries: Map<string, IndexEntry>) => Promise<void>,
    fromKnown: boolean,
  ): Promise<void> {
    const lock = await lockIndex(this.#gitDir);
    let swapped = false;
    try {
      const known = fromKnown ? this.#known : undefined;
      const entries = known?.entries ?? new Map(readIndexEntries(this.#gitDir).map((e) => [e.path, e]));
      this.#known = undefined;
      await edit(entries);
      const data = encodeIndex([...entries.values()]);
      let written = 0;
      while (written < data.length) written += writeSync(lock.fd, data, written, data.length - written);
      closeSync(lock.fd);
      await rename(lock.path, join(this.#gitDir, 'index'));
      swapped = true;
      const stamp = indexStamp(this.#gitDir);
      if (stamp !== undefined) this.#known = { commit, stamp, entries };
    } finally {
      if (!swapped) {
        try {
          closeSync(lock.fd);
        } catch {
          // closed already
        }
        unlinkQuietly(lock.path);
      }
    }
  }

  /** True when the index is known to hold exactly `commit`, so a change can be applied path by path. */
  holds(commit: ObjectId | undefined): boolean {
    return (
      commit !== undefined && this.#known?.commit === commit && this.#known.stamp === indexStamp(this.#gitDir)
    );
  }

  /**
   * Applies one commit's changes on top of its parent, which the index must hold (see `holds`);
   * `blobs` gives the content id of each written path, as the tree edit computed it.
   */
  async apply(
    commit: ObjectId,
    changes: readonly FileChange[],
    blobs: ReadonlyMap<RepoPath, ObjectId>,
  ): Promise<void> {
    await this.#withIndex(
      commit,
      async (entries) => {
        for (const change of changes) {
          if ('remove' in change) {
            removeWorktreeFile(this.#dir, change.path);
            entries.delete(change.path);
          } else {
            const id = blobs.get(change.path);
            if (id === undefined) throw new VprError('INTERNAL', 'a written path has no blob id');
            const stat = writeWorktreeFile(this.#dir, change.path, change.content);
            entries.set(change.path, { path: change.path, id, mode: 0o100644, stat });
          }
        }
      },
      true,
    );
  }

  /** Makes the working tree and index hold exactly `files`, the tree of `commit`. */
  async sync(commit: ObjectId, files: readonly TreeFile[]): Promise<void> {
    await this.#withIndex(
      commit,
      async (entries) => {
        const wanted = new Map(files.map((file) => [file.path as string, file]));
        for (const path of [...entries.keys()]) {
          if (!wanted.has(path)) {
            removeWorktreeFile(this.#dir, path as RepoPath);
            entries.delete(path);
          }
        }
        for (const file of files) {
          const known = entries.get(file.path);
          if (known !== undefined && known.id === file.id && known.mode === modeOf(file)) {
            if (lstatOrUndefined(join(this.#dir, file.path))?.isFile()) continue;
          }
          const blob = await this.#objects.read(file.id, 'blob');
          const stat = writeWorktreeFile(this.#dir, file.path, blob.body);
          entries.set(file.path, { path: file.path, id: file.id, mode: modeOf(file), stat });
        }
      },
      false,
    );
  }

  /** Forgets what this process knew of the index (after recovery or maintenance by others). */
  forget(): void {
    this.#known = undefined;
  }

  /** Removes an index.lock left by a crashed writer; only call while holding the write lock. */
  removeStaleLock(): void {
    unlinkQuietly(join(this.#gitDir, 'index.lock'));
  }
}
