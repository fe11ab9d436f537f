// The cross-process write lock of one repository: `.git/vpr-write.lock`, created with O_EXCL
// and holding the owner's host, pid and start time. It is held for a whole write (objects,
// ref, working tree, index) so processes never interleave their working-tree updates; the ref
// CAS stays the last line of defence. A lock whose owner process is dead on this host, or
// that is older than `staleAfterMs`, is broken under a short-lived breaker lock so that two
// breakers can never remove a live lock. Waiting is bounded.
import { hostname } from 'node:os';
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { link } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VprError } from '../errors.js';
import { isErrno, unlinkQuietly } from '../fs/durable-file.js';

export interface WriteLockOptions {
  /** How long to wait for another writer before REPOSITORY_BUSY. */
  readonly timeoutMs: number;
  /** A lock older than this is taken to be abandoned even if its owner cannot be checked. */
  readonly staleAfterMs: number;
}

export const DEFAULT_WRITE_LOCK_OPTIONS: WriteLockOptions = { timeoutMs: 10_000, staleAfterMs: 120_000 };

export interface WriteLock {
  /** True when this acquisition broke an abandoned lock: the previous write may be unfinished. */
  readonly brokeStaleLock: boolean;
  release(): void;
}

const LOCK_FILE = 'vpr-write.lock';
const BREAKER_STALE_MS = 5_000;
const HOST = hostname();

interface LockOwner {
  readonly host: string;
  readonly pid: number;
}

function tryCreate(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    throw error;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Takes the lock by hard-linking the process's owner file to the lock path: as exclusive as
 * O_EXCL, and it allocates no inode, which costs ~0.4 ms of CPU on this machine's filesystem
 * (docs/benchmarks.md). Falls back to creating the file when the owner file is unusable. The
 * link goes to the thread pool: under load it waits on the filesystem's journal (docs/adr/0015).
 */
async function tryLink(ownerFile: string, path: string, content: string): Promise<boolean> {
  try {
    await link(ownerFile, path);
    return true;
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    if (isErrno(error, 'ENOENT') || isErrno(error, 'EXDEV') || isErrno(error, 'EPERM'))
      return tryCreate(path, content);
    throw error;
  }
}

/** The content of a lock taken by this process: who holds it. */
export function lockOwnerContent(): string {
  return JSON.stringify({ host: HOST, pid: process.pid } satisfies LockOwner);
}

/** Writes this process's owner file, to be hard-linked as the lock of any repository on the same filesystem. */
export function writeLockOwnerFile(path: string): void {
  writeFileSync(path, lockOwnerContent(), { mode: 0o644 });
}

/** True when an owner file (or lock) names a process on this host that no longer runs. */
export function isOwnerDead(path: string): boolean {
  const seen = readOwner(path);
  return (
    seen?.owner !== undefined &&
    seen.owner.host === HOST &&
    seen.owner.pid !== process.pid &&
    !isProcessAlive(seen.owner.pid)
  );
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !isErrno(error, 'ESRCH');
  }
}

function readOwner(path: string): { raw: string; owner: LockOwner | undefined } | undefined {
  try {
    const raw = readFileSync(path, 'utf8');
    try {
      return { raw, owner: JSON.parse(raw) as LockOwner };
    } catch {
      return { raw, owner: undefined };
    }
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

function isStale(path: string, owner: LockOwner | undefined, staleAfterMs: number): boolean {
  if (owner !== undefined && owner.host === HOST && owner.pid !== process.pid && !isProcessAlive(owner.pid)) {
    return true;
  }
  try {
    // ctime moves when the lock is created or linked, i.e. when it was taken.
    const { ctimeMs } = statSync(path);
    return Date.now() - ctimeMs > staleAfterMs;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

/** Removes an abandoned lock, re-checking under the breaker lock that it is still the same one. */
function breakIfStale(gitDir: string, staleAfterMs: number): boolean {
  const lockPath = join(gitDir, LOCK_FILE);
  const seen = readOwner(lockPath);
  if (seen === undefined || !isStale(lockPath, seen.owner, staleAfterMs)) return false;
  const breakerPath = `${lockPath}.break`;
  if (!tryCreate(breakerPath, String(process.pid))) {
    const breaker = statSync(breakerPath, { throwIfNoEntry: false });
    if (breaker !== undefined && Date.now() - breaker.mtimeMs > BREAKER_STALE_MS) unlinkQuietly(breakerPath);
    return false;
  }
  try {
    const again = readOwner(lockPath);
    if (again === undefined || again.raw !== seen.raw) return false;
    unlinkSync(lockPath);
    return true;
  } finally {
    unlinkQuietly(breakerPath);
  }
}

export async function acquireWriteLock(
  gitDir: string,
  options: WriteLockOptions = DEFAULT_WRITE_LOCK_OPTIONS,
  ownerFile?: string,
): Promise<WriteLock> {
  const lockPath = join(gitDir, LOCK_FILE);
  const content = lockOwnerContent();
  const deadline = Date.now() + options.timeoutMs;
  let brokeStaleLock = false;
  let delayMs = 1;
  for (;;) {
    if (
      ownerFile === undefined ? tryCreate(lockPath, content) : await tryLink(ownerFile, lockPath, content)
    ) {
      let released = false;
      return {
        brokeStaleLock,
        release: () => {
          if (released) return;
          released = true;
          unlinkSync(lockPath);
        },
      };
    }
    if (breakIfStale(gitDir, options.staleAfterMs)) {
      brokeStaleLock = true;
      continue;
    }
    if (Date.now() >= deadline) {
      throw new VprError(
        'REPOSITORY_BUSY',
        'another writer held the record for longer than the bounded wait',
      );
    }
    await sleep(delayMs + Math.random() * delayMs);
    delayMs = Math.min(delayMs * 2, 50);
  }
}
