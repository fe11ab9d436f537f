import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isVprError } from '../errors.js';
import { newRecordId, parseRecordId, shardSegments } from './record-id.js';

test('new record ids are canonical and shard on their first two pairs', () => {
  const id = newRecordId();
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(parseRecordId(id), id);
  assert.deepEqual(shardSegments(parseRecordId('ab12cdef0123456789abcdef01234567')), [
    'ab',
    '12',
    'ab12cdef0123456789abcdef01234567',
  ]);
});

test('hyphenated, uppercase, short and non-string ids are refused with INVALID_ID', () => {
  for (const bad of [
    '550e8400-e29b-41d4-a716-446655440000',
    'AB12CDEF0123456789ABCDEF01234567',
    'ab12',
    'zz12cdef0123456789abcdef01234567',
    '../12cdef0123456789abcdef0123456',
    42,
    undefined,
  ]) {
    assert.throws(
      () => parseRecordId(bad),
      (e: unknown) => isVprError(e, 'INVALID_ID'),
      String(bad),
    );
  }
});
