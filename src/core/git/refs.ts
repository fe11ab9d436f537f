// Branch refs: reading `refs/heads/main` whether loose or packed, and moving it through git's
// own lock-file protocol (`main.lock`, O_EXCL) with a compare-and-swap on the expected parent.
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { VprError } from '../errors.js';
import { isErrno, syncDirectory, type Durability } from '../fs/durable-file.js';
import { isObjectId, type ObjectId } from './git-object.js';

export const MAIN_REF = 'refs/heads/main';

async function readLooseRef(gitDir: string, ref: string): Promise<string | undefined> {
  try {
    return (await readFile(join(gitDir, ref), 'utf8')).trim();
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

async function readPackedRef(gitDir: string, ref: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(gitDir, 'packed-refs'), 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.startsWith('^')) continue;
    const [id, name] = line.split(' ');
    if (name === ref) return id;
  }
  return undefined;
}

/** The commit a ref points at, or undefined while the branch is unborn. */
export async function readRef(gitDir: string, ref: string = MAIN_REF): Promise<ObjectId | undefined> {
  const value = (await readLooseRef(gitDir, ref)) ?? (await readPackedRef(gitDir, ref));
  if (value === undefined) return undefined;
  if (!isObjectId(value)) {
    throw new VprError('CORRUPT_REPOSITORY', 'a branch ref does not hold an object id', { details: { ref } });
  }
  return value;
}

/**
 * Moves `ref` from `expected` (undefined: the branch must be unborn) to `next`. The lock file is
 * written and fsynced first, the CAS is checked while holding it, and only then is it renamed
 * over the ref and the directory fsynced. A stale parent is a VERSION_CONFLICT; a lock held by
 * someone else is REPOSITORY_BUSY. Either way the ref is untouched.
 */
export async function updateRef(
  gitDir: string,
  next: ObjectId,
  expected: ObjectId | undefined,
  durability: Durability,
  ref: string = MAIN_REF,
): Promise<void> {
  const refPath = join(gitDir, ref);
  const lockPath = `${refPath}.lock`;
  let handle;
  try {
    handle = await open(lockPath, 'wx', 0o644);
  } catch (error) {
    if (isErrno(error, 'EEXIST')) {
      throw new VprError('REPOSITORY_BUSY', 'the branch is locked by another writer', { details: { ref } });
    }
    throw error;
  }
  let renamed = false;
  try {
    await handle.writeFile(`${next}\n`);
    if (durability === 'fsync') await handle.sync();
    await handle.close();
    handle = undefined;
    const current = await readRef(gitDir, ref);
    if (current !== expected) {
      throw new VprError(
        'VERSION_CONFLICT',
        'the record changed since the version this change was based on',
        {
          details: { expected: expected ?? null, current: current ?? null },
        },
      );
    }
    await rename(lockPath, refPath);
    renamed = true;
    await syncDirectory(dirname(refPath), durability);
  } finally {
    await handle?.close().catch(() => undefined);
    if (!renamed) await unlink(lockPath).catch(() => undefined);
  }
}
