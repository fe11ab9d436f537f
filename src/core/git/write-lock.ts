// The cross-process write lock of one repository: `.git/vpr-write.lock`, created with O_EXCL
// and holding the owner's host, pid and start time. It is held for a whole write (objects,
// ref, working tree, index) so processes never interleave their working-tree updates; the ref
// CAS stays the last line of defence. A lock whose owner process is dead on this host, or
// that is older than `staleAfterMs`, is broken under a short-lived breaker lock so that two
// breakers can never remove a live lock. Waiting is bounded.
import { hostname } from 'node:os';
import { open, readFile, stat, unlink } from 'node:fs/promises';
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
  release(): Promise<void>;
}

const LOCK_FILE = 'vpr-write.lock';
const BREAKER_STALE_MS = 5_000;
const HOST = hostname();

interface LockOwner {
  readonly host: string;
  readonly pid: number;
  readonly acquiredAt: number;
}

async function tryCreate(path: string, content: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx', 0o644);
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    throw error;
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

async function readOwner(path: string): Promise<{ raw: string; owner: LockOwner | undefined } | undefined> {
  try {
    const raw = await readFile(path, 'utf8');
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

async function isStale(path: string, owner: LockOwner | undefined, staleAfterMs: number): Promise<boolean> {
  if (owner !== undefined && owner.host === HOST && owner.pid !== process.pid && !isProcessAlive(owner.pid)) {
    return true;
  }
  try {
    const { mtimeMs } = await stat(path);
    return Date.now() - mtimeMs > staleAfterMs;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

/** Removes an abandoned lock, re-checking under the breaker lock that it is still the same one. */
async function breakIfStale(gitDir: string, staleAfterMs: number): Promise<boolean> {
  const lockPath = join(gitDir, LOCK_FILE);
  const seen = await readOwner(lockPath);
  if (seen === undefined || !(await isStale(lockPath, seen.owner, staleAfterMs))) return false;
  const breakerPath = `${lockPath}.break`;
  if (!(await tryCreate(breakerPath, String(process.pid)))) {
    const breaker = await stat(breakerPath).catch(() => undefined);
    if (breaker !== undefined && Date.now() - breaker.mtimeMs > BREAKER_STALE_MS) {
      await unlink(breakerPath).catch(() => undefined);
    }
    return false;
  }
  try {
    const again = await readOwner(lockPath);
    if (again === undefined || again.raw !== seen.raw) return false;
    await unlink(lockPath);
    return true;
  } finally {
    await unlink(breakerPath).catch(() => undefined);
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
    if (await tryCreate(lockPath, content)) {
      let released = false;
      return {
        brokeStaleLock,
        release: async () => {
          if (released) return;
          released = true;
          await unlink(lockPath);
        },
      };
    }
    if (await breakIfStale(gitDir, options.staleAfterMs)) {
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
