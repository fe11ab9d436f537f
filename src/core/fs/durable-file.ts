// The durable-write primitives every on-disk change goes through: write to a temp file,
// fsync it, rename it into place, fsync the directory. With durability off (throwaway test
// data only) the fsyncs are skipped and everything else stays the same.
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

export type Durability = 'fsync' | 'none';

/** Writes `data` to a fresh temp file beside `finalPath` (never overwriting), fsyncs it, returns its path. */
export async function writeTempFile(
  finalPath: string,
  data: Buffer | string,
  durability: Durability,
  prefix = 'tmp_vpr_',
): Promise<string> {
  const tmp = join(dirname(finalPath), `${prefix}${randomBytes(6).toString('hex')}`);
  const handle = await open(tmp, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    if (durability === 'fsync') await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return tmp;
}

/** Makes a rename or creation inside `directory` durable. */
export async function syncDirectory(directory: string, durability: Durability): Promise<void> {
  if (durability === 'none') return;
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Temp file + fsync + rename + fsync of the directory: the floor every durable write pays. */
export async function writeFileDurably(
  path: string,
  data: Buffer | string,
  durability: Durability,
): Promise<void> {
  const tmp = await writeTempFile(path, data, durability);
  try {
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(path), durability);
}

export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
