import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isVprError } from '../errors.js';
import { TimestampIdGenerator, parseTimestampId, timestampOf } from './timestamp-id.js';

test('a generated TimestampId parses and records its instant', () => {
  const at = Date.UTC(2026, 0, 11, 14, 35, 22, 45);
  const id = new TimestampIdGenerator(() => at).next();
  assert.match(
    id,
    /^20260111T143522\.045Z-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.equal(parseTimestampId(id), id);
  assert.equal(timestampOf(id).getTime(), at);
});

test('ids increase strictly even when the clock stands still or steps back', () => {
  const times = [1000, 1000, 1000, 900, 5000, 4000];
  const generator = new TimestampIdGenerator(() => times.shift() ?? 0);
  const ids = Array.from({ length: 6 }, () => generator.next());
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
  assert.equal(timestampOf(ids[3]!).getTime(), 1003);
});

test('malformed TimestampIds are refused', () => {
  for (const bad of [
    '20260111T143522.045Z-550e8400e29b41d4a716446655440000',
    '20260111T143522Z-550e8400-e29b-41d4-a716-446655440000',
    '20260231T143522.045Z-550e8400-e29b-41d4-a716-446655440000',
    '20260111T143522.045Z-550e8400-e29b-11d4-a716-446655440000',
    '20260111T143522.045Z-550E8400-E29B-41D4-A716-446655440000',
    null,
  ]) {
    assert.throws(
      () => parseTimestampId(bad),
      (e: unknown) => isVprError(e, 'INVALID_ID'),
      String(bad),
    );
  }
});
