// Record identifiers: the 32-lowercase-hex UUID that names each patient repository, and the
// sharding rule that places it on disk as <s1>/<s2>/<uuid>. Parse at the edge, trust after.
import { randomUUID } from 'node:crypto';
import { VprError } from '../errors.js';

/** A canonical repository id: a UUID written as 32 lowercase hex characters, no hyphens. */
export type RecordId = string & { readonly __brand: 'RecordId' };

const CANONICAL = /^[0-9a-f]{32}$/;

export function parseRecordId(value: unknown, field = 'id'): RecordId {
  if (typeof value !== 'string' || !CANONICAL.test(value)) {
    throw new VprError('INVALID_ID', `${field} must be 32 lowercase hexadecimal characters without hyphens`, {
      details: { field },
    });
  }
  return value as RecordId;
}

export function newRecordId(): RecordId {
  return randomUUID().replaceAll('-', '') as RecordId;
}

/** The sharded relative location of a repository: `<s1>/<s2>/<uuid>`. */
export function shardSegments(id: RecordId): readonly [string, string, RecordId] {
  return [id.slice(0, 2), id.slice(2, 4), id];
}
