// The cross-process write lock of one repository: `.git/vpr-write.lock`, created with O_EXCL
// and holding the owner's host, pid and start time. It is held for a whole write (objects,
// ref, working tree, index) so processes never interleave their working-tree updates; the ref
// CAS stays the last line of defence. A lock whose owner process is dead on this host, or
// that is older than `staleAfterMs`, is broken under a short-lived breaker lock so that two
// breakers can never remove a live lock. Waiting is bounded.
import { hostname } from 'node:os';
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VprError } from '../errors.js';
import { isErrno } from '../fs/durable-file.js';

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
  readonly acquiredAt: number;
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

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
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
    const { mtimeMs } = statSync(path);
    return Date.now() - mtimeMs > staleAfterMs;
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
): Promise<WriteLock> {
  const lockPath = join(gitDir, LOCK_FILE);
  const content = JSON.stringify({
    host: HOST,
    pid: process.pid,
    acquiredAt: Date.now(),
  } satisfies LockOwner);
  const deadline = Date.now() + options.timeoutMs;
  let brokeStaleLock = false;
  let delayMs = 1;
  for (;;) {
    if (tryCreate(lockPath, content)) {
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
