// Git object identity and framing: the object types VPR reads and writes, the branded
// 40-hex object id, and hashing of an object body exactly as git does ("<type> <size>\0<body>").
// Nothing here touches the filesystem.
import { createHash } from 'node:crypto';

export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';

/** A SHA-1 Git object id: 40 lowercase hex characters. */
export type ObjectId = string & { readonly __brand: 'ObjectId' };

/** A Git object held in memory: its type and raw body (without the "<type> <size>\0" header). */
export interface GitObject {
  readonly type: ObjectType;
  readonly body: Buffer;
}

/** A Git object together with its id, ready to be written. */
export interface HashedObject extends GitObject {
  readonly id: ObjectId;
}

const OBJECT_ID = /^[0-9a-f]{40}$/;

export function isObjectId(value: string): value is ObjectId {
  return OBJECT_ID.test(value);
}

/** The loose-object header git prefixes to a body before hashing and compressing. */
export function objectHeader(type: ObjectType, size: number): Buffer {
  return Buffer.from(`${type} ${size}\0`, 'latin1');
}

export function hashObject(object: GitObject): HashedObject {
  const id = createHash('sha1')
    .update(objectHeader(object.type, object.body.length))
    .update(object.body)
    .digest('hex') as ObjectId;
  return { id, type: object.type, body: object.body };
}
