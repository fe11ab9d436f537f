// Keeping the working tree and `.git/index` equal to a commit, so that people can open the
// folder and read the files and `git status` is clean. The working tree is derived data: it is
// written without fsync and rebuilt from Git by recovery after a crash. The index is replaced
// through git's own `index.lock` protocol; paths are checked component by component so a
// symlink planted in the working tree can never redirect a write outside the repository.
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rmdir,
  stat,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VprError } from '../errors.js';
import { isErrno, writeTempFile } from '../fs/durable-file.js';
import { decodeIndex, encodeIndex, indexStatFrom, type IndexEntry } from './index-file.js';
import type { ObjectStore } from './object-store.js';
import { pathSegments, type RepoPath } from './repo-path.js';
import type { TreeFile } from './tree-edit.js';

const INDEX_LOCK_WAIT_MS = 2_000;

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

function unsafe(message: string): VprError {
  return new VprError('UNSAFE_PATH', message);
}

/** Creates the parent directories of `path` inside `root`, refusing symlinks and files on the way. */
async function ensureParents(root: string, path: RepoPath): Promise<void> {
  let dir = root;
  for (const segment of pathSegments(path).slice(0, -1)) {
    dir = join(dir, segment);
    const info = await lstatOrUndefined(dir);
    if (info === undefined) await mkdir(dir);
    else if (!info.isDirectory() || info.isSymbolicLink())
      throw unsafe('a working-tree directory is not a directory');
  }
}

/**
 * Checks, before anything is written, that each path can be written in the working tree: every
 * existing parent is a real directory and the file itself, if present, is a regular file.
 */
export async function assertWorktreePathsSafe(root: string, paths: readonly RepoPath[]): Promise<void> {
  for (const path of paths) {
    let dir = root;
    for (const segment of pathSegments(path).slice(0, -1)) {
      dir = join(dir, segment);
      const info = await lstatOrUndefined(dir);
      if (info === undefined) break;
      if (!info.isDirectory()) throw unsafe('a working-tree directory is a symlink or a file');
    }
    const existing = await lstatOrUndefined(join(root, path));
    if (existing !== undefined && !existing.isFile())
      throw unsafe('a working-tree path is not a regular file');
  }
}

async function writeWorktreeFile(root: string, path: RepoPath, content: Buffer): Promise<IndexEntry['stat']> {
  await ensureParents(root, path);
  const target = join(root, path);
  const existing = await lstatOrUndefined(target);
  if (existing !== undefined && !existing.isFile()) throw unsafe('a working-tree path is not a regular file');
  const tmp = await writeTempFile(target, content, 'none', '.vpr_tmp_');
  await rename(tmp, target);
  return indexStatFrom(await lstat(target, { bigint: true }));
}

async function removeWorktreeFile(root: string, path: RepoPath): Promise<void> {
  const target = join(root, path);
  const existing = await lstatOrUndefined(target);
  if (existing === undefined) return;
  if (!existing.isFile() && !existing.isSymbolicLink())
    throw unsafe('a working-tree path is not a regular file');
  await unlink(target);
  // Remove directories the file leaves empty, up to (not including) the repository root.
  for (let dir = dirname(target); dir.length > root.length; dir = dirname(dir)) {
    try {
      await rmdir(dir);
    } catch {
      break;
    }
  }
}

async function lockIndex(gitDir: string): Promise<{ path: string; handle: FileHandle }> {
  const path = join(gitDir, 'index.lock');
  const deadline = Date.now() + INDEX_LOCK_WAIT_MS;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    try {
      return { path, handle: await open(path, 'wx', 0o644) };
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
      if (Date.now() >= deadline)
        throw new VprError('REPOSITORY_BUSY', 'the index is locked by another process');
      await sleep(delay);
    }
  }
}

export async function readIndex(gitDir: string): Promise<IndexEntry[]> {
  try {
    return decodeIndex(await readFile(join(gitDir, 'index')));
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    if (error instanceof VprError) throw error;
    throw new VprError('CORRUPT_REPOSITORY', 'the Git index cannot be read', { cause: error });
  }
}

/** Removes an index.lock left by a crashed writer; only call while holding the write lock. */
export async function removeStaleIndexLock(gitDir: string): Promise<void> {
  await unlink(join(gitDir, 'index.lock')).catch(() => undefined);
}

/**
 * Makes the working tree and index hold exactly `files`. Files whose content id already matches
 * the index (and whose working copy still exists) are left alone.
 */
export async function syncWorktree(
  repoDir: string,
  gitDir: string,
  store: ObjectStore,
  files: readonly TreeFile[],
): Promise<void> {
  const lock = await lockIndex(gitDir);
  let committed = false;
  try {
    const current = new Map((await readIndex(gitDir)).map((entry) => [entry.path, entry]));
    const wanted = new Map(files.map((file) => [file.path as string, file]));
    for (const path of current.keys()) {
      if (!wanted.has(path)) await removeWorktreeFile(repoDir, path as RepoPath);
    }
    const entries: IndexEntry[] = [];
    for (const file of files) {
      const known = current.get(file.path);
      const mode = file.mode === '100755' ? 0o100755 : 0o100644;
      if (known !== undefined && known.id === file.id && known.mode === mode) {
        const onDisk = await lstatOrUndefined(join(repoDir, file.path));
        if (onDisk?.isFile()) {
          entries.push(known);
          continue;
        }
      }
      const blob = await store.read(file.id, 'blob');
      entries.push({
        path: file.path,
        id: file.id,
        mode,
        stat: await writeWorktreeFile(repoDir, file.path, blob.body),
      });
    }
    await lock.handle.writeFile(encodeIndex(entries));
    await lock.handle.close();
    await rename(lock.path, join(gitDir, 'index'));
    committed = true;
  } finally {
    if (!committed) {
      await lock.handle.close().catch(() => undefined);
      await unlink(lock.path).catch(() => undefined);
    }
  }
}

/** Removes working-tree temp files a crashed writer left behind (bounded by MAX_TREE_FILES entries). */
export async function removeWorktreeTempFiles(repoDir: string, maxEntries = 100_000): Promise<void> {
  const pending = [repoDir];
  let seen = 0;
  while (pending.length > 0 && seen < maxEntries) {
    const dir = pending.pop()!;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      seen++;
      if (dir === repoDir && entry.name === '.git') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile() && entry.name.startsWith('.vpr_tmp_'))
        await unlink(path).catch(() => undefined);
    }
  }
}
