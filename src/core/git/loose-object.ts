// Reading loose objects (`.git/objects/ab/cdef…`): inflate, check the header, return the body.
// VPR itself writes packs; loose objects come from people using the stock git CLI.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { VprError } from '../errors.js';
import { isErrno } from '../fs/durable-file.js';
import type { GitObject, ObjectId, ObjectType } from './git-object.js';

const TYPES = new Set<string>(['commit', 'tree', 'blob', 'tag']);

export function looseObjectPath(gitDir: string, id: ObjectId): string {
  return join(gitDir, 'objects', id.slice(0, 2), id.slice(2));
}

export function readLooseObject(gitDir: string, id: ObjectId): GitObject | undefined {
  let compressed: Buffer;
  try {
    compressed = readFileSync(looseObjectPath(gitDir, id));
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
  let raw: Buffer;
  try {
    raw = inflateSync(compressed);
  } catch (cause) {
    throw new VprError('CORRUPT_REPOSITORY', 'a loose object cannot be decompressed', {
      cause,
      details: { id },
    });
  }
  const nul = raw.indexOf(0);
  const [type, size] = raw.toString('latin1', 0, Math.max(nul, 0)).split(' ');
  const body = raw.subarray(nul + 1);
  if (nul < 0 || type === undefined || !TYPES.has(type) || Number(size) !== body.length) {
    throw new VprError('CORRUPT_REPOSITORY', 'a loose object has a malformed header', { details: { id } });
  }
  return { type: type as ObjectType, body };
}
