// The durable-write primitives every on-disk change goes through: write to a temp file,
// fsync it, rename it into place, fsync the directory. With durability off (throwaway test
// data only) the fsyncs are skipped and everything else stays the same.
//
// Small calls (open, write of a few KB, close) are synchronous: they complete in the page cache
// in microseconds, while a libuv thread-pool round trip for each cost more than the call itself
// and made a commit ten times slower (docs/adr/0002-one-pack-per-commit.md). fsync, which waits
// for the disk, goes to the thread pool, so writers to different patients overlap their fsyncs;
// so do the callers' renames and links, which under load wait on the filesystem's journal behind
// those fsyncs (docs/adr/0015-write-path-under-load.md).
import { closeSync, fsync, openSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

export type Durability = 'fsync' | 'none';

const fsyncAsync = promisify(fsync);

/** fsyncs an open descriptor when durability asks for it. */
export async function syncDescriptor(fd: number, durability: Durability): Promise<void> {
  if (durability === 'fsync') await fsyncAsync(fd);
}

/** Creates `path` (which must not exist), writes `data`, fsyncs and closes it. */
export async function writeNewFile(
  path: string,
  data: Buffer | string,
  durability: Durability,
): Promise<void> {
  const fd = openSync(path, 'wx', 0o644);
  try {
    writeAll(fd, data);
    await syncDescriptor(fd, durability);
  } catch (error) {
    closeSync(fd);
    unlinkQuietly(path);
    throw error;
  }
  closeSync(fd);
}

function writeAll(fd: number, data: Buffer | string): void {
  const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let written = 0;
  while (written < buffer.length) written += writeSync(fd, buffer, written, buffer.length - written);
}

/** Writes `data` to a fresh temp file beside `finalPath` (never overwriting), fsyncs it, returns its path. */
export async function writeTempFile(
  finalPath: string,
  data: Buffer | string,
  durability: Durability,
  prefix = 'tmp_vpr_',
): Promise<string> {
  const tmp = join(dirname(finalPath), `${prefix}${randomBytes(6).toString('hex')}`);
  await writeNewFile(tmp, data, durability);
  return tmp;
}

/** fsyncs an existing file or directory by path. */
export async function syncFile(path: string, durability: Durability): Promise<void> {
  if (durability === 'none') return;
  const fd = openSync(path, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a rename or creation inside `directory` durable. */
export async function syncDirectory(directory: string, durability: Durability): Promise<void> {
  await syncFile(directory, durability);
}

/** Removes a file if it is there; used for temp and lock files whose absence is the goal. */
export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
