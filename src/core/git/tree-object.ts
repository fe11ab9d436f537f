// Tree objects: decoding and encoding git's binary tree format, with git's own entry order
// (names compared byte-wise as if directories ended in "/").
import { VprError } from '../errors.js';
import type { ObjectId } from './git-object.js';

export const FILE_MODE = '100644';
export const TREE_MODE = '40000';

export interface TreeEntry {
  readonly name: string;
  readonly mode: string;
  readonly id: ObjectId;
}

export function isTreeEntry(entry: TreeEntry): boolean {
  return entry.mode === TREE_MODE;
}

export function decodeTree(body: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let offset = 0;
  while (offset < body.length) {
    const space = body.indexOf(0x20, offset);
    const nul = body.indexOf(0x00, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > body.length) {
      throw new VprError('CORRUPT_REPOSITORY', 'a tree object is malformed');
    }
    entries.push({
      mode: body.toString('latin1', offset, space),
      name: body.toString('utf8', space + 1, nul),
      id: body.toString('hex', nul + 1, nul + 21) as ObjectId,
    });
    offset = nul + 21;
  }
  return entries;
}

function sortKey(entry: TreeEntry): Buffer {
  return Buffer.from(isTreeEntry(entry) ? `${entry.name}/` : entry.name, 'utf8');
}

export function encodeTree(entries: readonly TreeEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(sortKey(a), sortKey(b)));
  return Buffer.concat(
    sorted.flatMap((entry) => [
      Buffer.from(`${entry.mode} ${entry.name}\0`, 'utf8'),
      Buffer.from(entry.id, 'hex'),
    ]),
  );
}
