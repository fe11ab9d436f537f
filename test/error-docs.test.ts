// Documentation kept true by tests: docs/errors.md, the error list in src/core/errors.ts and the
// status table of src/transport/error-statuses.ts must agree (the same codes in the same order,
// with the same meaning, HTTP status, gRPC status and exit code), and the README's configuration
// table must list exactly the settings the configuration reads, in its order.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ERROR_CODES } from '../src/core/errors.js';
import { ERROR_STATUSES } from '../src/transport/error-statuses.js';
import { SETTINGS } from '../src/config/config.js';

test('docs/errors.md documents exactly the defined error codes and their statuses', async () => {
  const doc = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [
    ...doc.matchAll(/^\| `([A-Z_]+)` +\| ([^|]+) \| +(\d+) \| `([A-Z_]+)` +\| +(\d+) \|/gm),
  ].map((m) => [m[1], m[2]!.trim(), Number(m[3]), m[4], Number(m[5])]);
  assert.deepEqual(
    documented,
    Object.entries(ERROR_CODES).map(([code, meaning]) => {
      const status = ERROR_STATUSES[code as keyof typeof ERROR_CODES];
      return [code, meaning, status.http, status.grpc, status.exit];
    }),
  );
});

test('the README configuration table lists exactly the settings the configuration reads', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Architecture'));
  const documented = [...table.matchAll(/^\| `([A-Z_]+)` +\|/gm)].map((m) => m[1]);
  assert.deepEqual(documented, [...SETTINGS]);
});
