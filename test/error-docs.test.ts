// docs/errors.md and the error list in src/core/errors.ts must name the same codes in the same order.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ERROR_CODES } from '../src/core/errors.js';

test('docs/errors.md documents exactly the defined error codes', async () => {
  const doc = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| `([A-Z_]+)` +\| ([^|]+) \|/gm)].map((m) => [m[1], m[2]!.trim()]);
  assert.deepEqual(documented, Object.entries(ERROR_CODES));
});
