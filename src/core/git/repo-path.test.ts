import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isVprError } from '../errors.js';
import { parseRepoPath } from './repo-path.js';

test('ordinary relative paths are accepted', () => {
  for (const ok of ['patient.yaml', 'correspondence/letter/x/body.md', 'a b/c.d', 'ünïcode/ß.md']) {
    assert.equal(parseRepoPath(ok), ok);
  }
});

test('absolute, escaping, .git, empty-segment and control-character paths are refused', () => {
  for (const bad of [
    '/etc/passwd',
    '../x',
    'a/../b',
    './a',
    'a//b',
    'a/',
    '.git/config',
    'a/.GIT/x',
    'a\\b',
    'a\0b',
    'a\nb',
    '',
    7,
  ]) {
    assert.throws(
      () => parseRepoPath(bad),
      (e: unknown) => isVprError(e, 'UNSAFE_PATH'),
      JSON.stringify(bad),
    );
  }
});
