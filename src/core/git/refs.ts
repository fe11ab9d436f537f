// Branch refs: reading `refs/heads/main` whether loose or packed, and moving it through git's
// own lock-file protocol (`main.lock`, O_EXCL) with a compare-and-swap on the expected parent.
// The lock can be taken and its content fsynced while the commit's objects are still being
// written (`lockRef`), and only then swapped in (`RefLock.commit`), so a commit pays one fsync
// round fewer. The swap (a rename) goes to the thread pool: under load it waits on the
// filesystem's journal, which must not stall the main thread (docs/adr/0015).
import { readFileSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { VprError } from '../errors.js';
import { isErrno, syncDirectory, unlinkQuietly, writeNewFile, type Durability } from '../fs/durable-file.js';
import { isObjectId, type ObjectId } from './git-object.js';

export const MAIN_REF = 'refs/heads/main';

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

async function readOptionalAsync(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** The id `ref` has in the text of a `packed-refs` file. */
function packedRefIn(text: string | undefined, ref: string): string | undefined {
  if (text === undefined) return undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.startsWith('^')) continue;
    const [id, name] = line.split(' ');
    if (name === ref) return id;
  }
  return undefined;
}

/** A ref's value checked to be an object id (CORRUPT_REPOSITORY if it is not). */
function refValue(value: string | undefined, ref: string): ObjectId | undefined {
  if (value === undefined) return undefined;
  if (!isObjectId(value)) {
    throw new VprError('CORRUPT_REPOSITORY', 'a branch ref does not hold an object id', { details: { ref } });
  }
  return value;
}

/** The commit a ref points at, or undefined while the branch is unborn. */
export function readRef(gitDir: string, ref: string = MAIN_REF): ObjectId | undefined {
  const loose = readOptional(join(gitDir, ref))?.trim();
  return refValue(loose ?? packedRefIn(readOptional(join(gitDir, 'packed-refs')), ref), ref);
}

/**
 * As `readRef`, through the thread pool: for scans of many repositories, whose reads on a cold
 * disk go many times faster side by side than one after another (docs/adr/0019).
 */
export async function readRefAsync(gitDir: string, ref: string = MAIN_REF): Promise<ObjectId | undefined> {
  const loose = (await readOptionalAsync(join(gitDir, ref)))?.trim();
  return refValue(loose ?? packedRefIn(await readOptionalAsync(join(gitDir, 'packed-refs')), ref), ref);
}

/** A held `<ref>.lock` whose new content is already durable. */
export interface RefLock {
  /** Checks the ref still holds `expected`, then renames the lock over it and fsyncs the directory. */
  commit(expected: ObjectId | undefined): Promise<void>;
  /** Gives the lock up without touching the ref. */
  abort(): void;
}

/** Takes `<ref>.lock` (REPOSITORY_BUSY if held) and writes and fsyncs `next` into it. */
export async function lockRef(
  gitDir: string,
  next: ObjectId,
  durability: Durability,
  ref: string = MAIN_REF,
): Promise<RefLock> {
  const refPath = join(gitDir, ref);
  const lockPath = `${refPath}.lock`;
  try {
    await writeNewFile(lockPath, `${next}\n`, durability);
  } catch (error) {
    if (isErrno(error, 'EEXIST')) {
      throw new VprError('REPOSITORY_BUSY', 'the branch is locked by another writer', { details: { ref } });
    }
    throw error;
  }
  let done = false;
  const abort = () => {
    if (done) return;
    done = true;
    unlinkQuietly(lockPath);
  };
  return {
    abort,
    commit: async (expected) => {
      try {
        const current = readRef(gitDir, ref);
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
        done = true;
      } finally {
        abort();
      }
      await syncDirectory(dirname(refPath), durability);
    },
  };
}

/**
 * Moves `ref` from `expected` (undefined: the branch must be unborn) to `next`. A stale parent
 * is a VERSION_CONFLICT; a lock held by someone else is REPOSITORY_BUSY. Either way the ref is
 * untouched.
 */
export async function updateRef(
  gitDir: string,
  next: ObjectId,
  expected: ObjectId | undefined,
  durability: Durability,
  ref: string = MAIN_REF,
): Promise<void> {
  const lock = await lockRef(gitDir, next, durability, ref);
  await lock.commit(expected);
}
