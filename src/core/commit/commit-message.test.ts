import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isVprError } from '../errors.js';
import { parseAuthor } from './author.js';
import { formatCommitMessage, parseCommitMessage, type CommitMessage } from './commit-message.js';

const author = parseAuthor({
  name: 'Dr Ada Example',
  email: 'ada@example.invalid',
  role: 'Clinician',
  registrations: [
    { authority: 'NMC', number: '99A0001' },
    { authority: 'GMC', number: '0000001' },
  ],
});

const base: CommitMessage = {
  domain: 'clinical',
  action: 'update',
  summary: 'Corrected a typo',
  author,
  careLocation: 'Example Clinic',
  trailers: [
    { key: 'Zeta-Ref', value: 'z' },
    { key: 'Letter-Id', value: 'abc' },
  ],
};

test('messages have the subject and trailers in the fixed order', () => {
  assert.equal(
    formatCommitMessage(base),
    [
      'clinical:update: Corrected a typo',
      '',
      'Author-Name: Dr Ada Example',
      'Author-Role: Clinician',
      'Author-Registration: GMC 0000001',
      'Author-Registration: NMC 99A0001',
      'Care-Location: Example Clinic',
      'Letter-Id: abc',
      'Zeta-Ref: z',
      '',
    ].join('\n'),
  );
});

test('a formatted message parses back', () => {
  const parsed = parseCommitMessage(formatCommitMessage(base));
  assert.equal(parsed?.domain, 'clinical');
  assert.equal(parsed?.action, 'update');
  assert.equal(parsed?.summary, 'Corrected a typo');
  assert.deepEqual(
    parsed?.trailers.map((t) => t.key),
    [
      'Author-Name',
      'Author-Role',
      'Author-Registration',
      'Author-Registration',
      'Care-Location',
      'Letter-Id',
      'Zeta-Ref',
    ],
  );
  assert.equal(parseCommitMessage('Merge branch x'), undefined);
});

test('bad vocabulary, multi-line fields and reserved trailers are refused', () => {
  const bad: Partial<CommitMessage>[] = [
    { action: 'delete' as never },
    { domain: 'billing' as never },
    { summary: '' },
    { summary: 'two\nlines' },
    { careLocation: '  ' },
    { careLocation: 'a\rb' },
    { trailers: [{ key: 'Author-Name', value: 'Someone Else' }] },
    { trailers: [{ key: 'care-location', value: 'x' }] },
    { trailers: [{ key: 'Bad Key', value: 'x' }] },
    { trailers: [{ key: 'Note', value: 'a\nb' }] },
    {
      trailers: [
        { key: 'Note', value: 'a' },
        { key: 'Note', value: 'b' },
      ],
    },
  ];
  for (const change of bad) {
    assert.throws(
      () => formatCommitMessage({ ...base, ...change }),
      (e: unknown) => isVprError(e, 'INVALID_INPUT'),
      JSON.stringify(change),
    );
  }
});

test('authors are validated field by field', () => {
  const good = { name: 'A B', email: 'a@example.invalid', role: 'Nurse' };
  assert.deepEqual(parseAuthor(good).registrations, []);
  for (const bad of [
    null,
    { ...good, name: '' },
    { ...good, name: 'A <B>' },
    { ...good, email: 'not-an-email' },
    { ...good, role: 'x\ny' },
    { ...good, extra: 1 },
    { ...good, registrations: [{ authority: 'gmc', number: '1' }] },
    { ...good, registrations: [{ authority: 'GMC', number: '1 2' }] },
    {
      ...good,
      registrations: [
        { authority: 'GMC', number: '1' },
        { authority: 'GMC', number: '1' },
      ],
    },
  ]) {
    assert.throws(
      () => parseAuthor(bad),
      (e: unknown) => isVprError(e, 'INVALID_INPUT'),
      JSON.stringify(bad),
    );
  }
});
