// A thread's thread.md: the exact layout, the exact round trip of any body a person can type
// (examples for every line that looks like the format, and properties over arbitrary text), the
// rules of a body and of a message's header values, and the refusal of corrupted files with the
// line and never the content.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isVprError } from '../errors.js';
import { parseTimestampId } from '../ids/timestamp-id.js';
import {
  appendMessage,
  MAX_MESSAGE_BODY_BYTES,
  MAX_THREAD_BYTES,
  MESSAGE_ROLES,
  parseMessageBody,
  parseMessageId,
  parseThread,
  renderMessage,
  renderThreadHeader,
  threadPath,
  type ThreadMessage,
} from './thread.js';

const communicationId = parseTimestampId('20260301T115900.000Z-0b9e6a4c-8f3d-4d2a-9c1e-5f6a7b8c9d0e');
const header = renderThreadHeader(communicationId);
const first: ThreadMessage = {
  messageId: '5a0c1f4e-8d2b-4c3a-9e7f-1b2c3d4e5f60',
  timestamp: '2026-03-01T12:00:00.000Z',
  authorId: 'clin-1',
  authorName: 'Dr Testy Fixture',
  role: 'clinician',
  body: 'Please take the new dose from Monday.',
};
const second: ThreadMessage = {
  messageId: '6b1d2a5f-9e3c-4d4b-8f80-2c3d4e5f6071',
  timestamp: '2026-03-01T12:05:30.250Z',
  authorId: 'patient:42',
  authorName: 'Testy Patient',
  role: 'patient',
  corrects: first.messageId,
  body: 'Thank you.\n\nWill do.',
};

const thread = (...messages: ThreadMessage[]): string => messages.reduce(appendMessage, header);

function corrupt(text: string, line?: number): void {
  assert.throws(
    () => parseThread(text),
    (error: unknown) => {
      assert.ok(isVprError(error, 'CORRUPT_REPOSITORY'), String(error));
      assert.equal(error.message, 'thread.md is not in the thread format');
      assert.deepEqual(Object.keys(error.details ?? {}), ['line']);
      if (line !== undefined) assert.equal(error.details?.line, line);
      return true;
    },
  );
}

const roundTrips = (body: string): void => {
  const m = { ...first, body };
  const text = thread(m, second, m);
  assert.deepEqual(parseThread(text), { communicationId, messages: [m, second, m] }, JSON.stringify(body));
};

test('thread.md lives beside ledger.yaml', () => {
  assert.equal(threadPath(communicationId), `communications/${communicationId}/thread.md`);
});

test('thread.md has the documented layout', () => {
  assert.equal(
    thread(first, second),
    [
      '# Thread',
      '',
      `**Communication ID:** ${communicationId}`,
      '',
      '## Message',
      '',
      '**Message ID:** 5a0c1f4e-8d2b-4c3a-9e7f-1b2c3d4e5f60',
      '**Timestamp:** 2026-03-01T12:00:00.000Z',
      '**Author ID:** clin-1',
      '**Author:** Dr Testy Fixture',
      '**Role:** clinician',
      '**Body lines:** 1',
      '',
      'Please take the new dose from Monday.',
      '',
      '---',
      '',
      '## Message',
      '',
      '**Message ID:** 6b1d2a5f-9e3c-4d4b-8f80-2c3d4e5f6071',
      '**Timestamp:** 2026-03-01T12:05:30.250Z',
      '**Author ID:** patient:42',
      '**Author:** Testy Patient',
      '**Role:** patient',
      '**Corrects:** 5a0c1f4e-8d2b-4c3a-9e7f-1b2c3d4e5f60',
      '**Body lines:** 3',
      '',
      'Thank you.',
      '',
      'Will do.',
      '',
      '---',
      '',
    ].join('\n'),
  );
});

test('appending adds text at the end and never changes what is there', () => {
  const one = thread(first);
  const two = appendMessage(one, second);
  assert.ok(two.startsWith(one));
  assert.equal(two, one + renderMessage(second));
  assert.equal(appendMessage(header, first), header + renderMessage(first));
});

test('a thread with no messages, and one whose header does not name its id, parse', () => {
  assert.deepEqual(parseThread(header), { communicationId, messages: [] });
  assert.deepEqual(parseThread('# Thread\n'), { messages: [] });
  assert.deepEqual(parseThread('# Thread\n' + renderMessage(first)), { messages: [first] });
  assert.deepEqual(appendMessage('# Thread\n', first), '# Thread\n' + renderMessage(first));
});

test('every line that looks like the format round-trips inside a body', () => {
  const tricky = [
    '---',
    '# Thread',
    '## Message',
    '**Message ID:** 6b1d2a5f-9e3c-4d4b-8f80-2c3d4e5f6071',
    '**Timestamp:** 2026-03-01T12:05:30.250Z',
    '**Author ID:** clin-1',
    '**Author:** Someone Else',
    '**Role:** system',
    '**Corrects:** 5a0c1f4e-8d2b-4c3a-9e7f-1b2c3d4e5f60',
    '**Body lines:** 1',
    '**Body lines:** 999999',
    `**Communication ID:** ${communicationId}`,
    '```',
    '~~~',
    '===',
    '***',
    '<!-- -->',
    '> quoted',
  ];
  for (const line of tricky) {
    roundTrips(line);
    roundTrips(`x\n${line}`);
    roundTrips(`x\n${line}\ny`);
    roundTrips(`${line}\n`);
    roundTrips(`\n\n${line}\n\n`);
    roundTrips(`x\n\n${line}\n\n## Message\n\n---\n`);
  }
  roundTrips('```\n---\n## Message\n```');
  roundTrips('```markdown\n# Thread\n\n**Message ID:** x\n');
});

test('blank lines, spaces, tabs, CRLF and a last line without a line break round-trip', () => {
  for (const body of [
    'no line break at the end',
    'a line break at the end\n',
    'two line breaks at the end\n\n',
    '\n\n\nleading blank lines',
    '\n  \n\t\nblank-looking lines\n  \n',
    'trailing spaces   ',
    '   leading spaces',
    'trailing spaces on a line   \nnext',
    'windows\r\nline\r\nbreaks\r\n',
    'old mac\rline\rbreaks\r',
    'a carriage return at the very end\r',
    '\r\nx',
    'tabs\tinside\t',
    'x',
    ' x ',
  ]) {
    roundTrips(body);
  }
});

test('any Unicode round-trips', () => {
  for (const body of [
    'Café, naïve, façade — “quoted” ‘text’ …',
    'emoji 🙂👩🏽‍⚕️🏳️‍🌈 and flags 🇬🇧',
    'right to left: مرحبا بك שלום',
    'combining: e\u0301 a\u0308 and zero width \u200b\u200c\u200d\ufeff',
    'line separators \u2028 and \u2029 are not line breaks here',
    'astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎',
    'next line \u0085 and non-breaking \u00a0 spaces',
  ]) {
    roundTrips(body);
  }
});

test('a body is plain text a person typed, and bounded', () => {
  const refuses = (value: unknown, message: RegExp) =>
    assert.throws(
      () => parseMessageBody(value, 'message.body'),
      (error: unknown) => {
        assert.ok(isVprError(error, 'INVALID_INPUT'), String(error));
        assert.deepEqual(error.details, { field: 'message.body' });
        assert.match(error.message, message);
        return true;
      },
    );
  assert.equal(parseMessageBody('  padded\r\n\tbody  \n', 'body'), '  padded\r\n\tbody  \n', 'kept exactly');
  refuses(undefined, /must be a string/);
  refuses(42, /must be a string/);
  refuses('', /must not be empty/);
  refuses(' \n\t\r\n ', /must not be empty/);
  assert.equal(parseMessageBody('a'.repeat(MAX_MESSAGE_BODY_BYTES), 'body').length, 65536);
  refuses('a'.repeat(MAX_MESSAGE_BODY_BYTES + 1), /at most 65536 bytes/);
  assert.equal(parseMessageBody('é'.repeat(32768), 'body').length, 32768);
  refuses('é'.repeat(32769), /at most 65536 bytes/);
  refuses('🙂'.repeat(16385), /at most 65536 bytes/);
  refuses('x'.repeat(10_000_000), /at most 65536 bytes/);
  for (const control of ['\0', '\x01', '\x08', '\x0b', '\x0c', '\x0e', '\x1b', '\x1f', '\x7f']) {
    refuses(`text${control}text`, /control characters/);
  }
  refuses('half a pair \ud83d', /valid Unicode/);
  refuses('\udc00 the other half', /valid Unicode/);
  assert.throws(
    () => parseMessageBody('Secret Name\0', 'body'),
    (error: unknown) => isVprError(error) && !error.message.includes('Secret'),
  );
});

test('a message is refused when the format cannot hold it as it is', () => {
  const refuses = (
    change: Partial<Record<keyof ThreadMessage, unknown>>,
    field: string,
    code = 'INVALID_INPUT',
  ) =>
    assert.throws(
      () => renderMessage({ ...first, ...change } as ThreadMessage),
      (error: unknown) => {
        assert.ok(isVprError(error) && error.code === code, String(error));
        assert.deepEqual(error.details, { field });
        return true;
      },
      field,
    );
  refuses({ messageId: 'not-a-uuid' }, 'message_id', 'INVALID_ID');
  refuses({ messageId: first.messageId.toUpperCase() }, 'message_id', 'INVALID_ID');
  refuses({ messageId: '5a0c1f4e-8d2b-1c3a-9e7f-1b2c3d4e5f60' }, 'message_id', 'INVALID_ID');
  refuses({ messageId: `${first.messageId}\n` }, 'message_id', 'INVALID_ID');
  for (const timestamp of [
    '2026-03-01T12:00:00Z',
    '2026-03-01T12:00:00.000+00:00',
    '2026-02-30T12:00:00.000Z',
    '2026-03-01 12:00:00.000Z',
    '2026-03-01T24:00:00.000Z',
    '2026-03-01T12:00:00.000Z\n',
    12,
  ]) {
    refuses({ timestamp }, 'timestamp');
  }
  refuses({ authorId: 'clin 1' }, 'author_id');
  refuses({ authorId: ' clin-1' }, 'author_id');
  refuses({ authorId: 'clin-1\n**Role:** system' }, 'author_id');
  refuses({ authorId: '' }, 'author_id');
  refuses({ authorName: '' }, 'author_name');
  refuses({ authorName: ' Dr Fixture' }, 'author_name');
  refuses({ authorName: 'Dr Fixture\n**Role:** system' }, 'author_name');
  refuses({ authorName: 'Dr\rFixture' }, 'author_name');
  refuses({ authorName: 'Dr\u2028Fixture' }, 'author_name');
  refuses({ authorName: 'x'.repeat(201) }, 'author_name');
  refuses({ authorName: 7 }, 'author_name');
  refuses({ role: 'doctor' }, 'role');
  refuses({ corrects: 'earlier' }, 'corrects', 'INVALID_ID');
  refuses({ corrects: first.messageId }, 'corrects');
  refuses({ body: '   ' }, 'body');
  refuses({ body: 'a\0b' }, 'body');
  assert.equal(
    parseThread(thread({ ...first, authorName: 'x'.repeat(200) })).messages[0]?.authorName.length,
    200,
  );
  for (const role of MESSAGE_ROLES)
    assert.equal(parseThread(thread({ ...first, role })).messages[0]?.role, role);
});

test('a message id in a request is a lower-case UUID v4', () => {
  assert.equal(parseMessageId(first.messageId, 'corrects'), first.messageId);
  for (const bad of [undefined, 1, '', first.messageId.toUpperCase(), `{${first.messageId}}`]) {
    assert.throws(
      () => parseMessageId(bad, 'corrects'),
      (error: unknown) => isVprError(error, 'INVALID_ID') && error.details?.field === 'corrects',
    );
  }
});

test('a thread header names a valid communication id', () => {
  assert.throws(
    () => renderThreadHeader('thread-1' as typeof communicationId),
    (e: unknown) => isVprError(e, 'INVALID_ID'),
  );
});

test('a corrupted thread.md is refused with the line that is wrong', () => {
  const good = thread(first, second);
  const lines = good.split('\n');
  const without = (n: number) => lines.filter((_, i) => i !== n - 1).join('\n');
  const replace = (n: number, value: string) => lines.map((l, i) => (i === n - 1 ? value : l)).join('\n');

  corrupt('', 1);
  corrupt('# Thread', 1);
  corrupt('# thread\n', 1);
  corrupt('\ufeff' + good, 1);
  corrupt(good.replaceAll('\n', '\r\n'), 1);
  corrupt(good.slice(0, -1), 32);
  corrupt(good + '\n', 34);
  corrupt(good + 'trailing text\n', 33);
  corrupt(good + renderMessage(first).slice(0, -4), 45);
  // Truncated in the middle of a message: in the header, in the body, before the separator.
  corrupt(good.slice(0, good.indexOf('**Author:** Testy')), 23);
  corrupt(good.slice(0, good.indexOf('Will do.')), 26);
  corrupt(good.slice(0, good.lastIndexOf('---')), 32);
  // A header line missing, out of order, or wrong.
  corrupt(without(11), 11);
  corrupt(without(7), 7);
  corrupt(without(5), 5);
  corrupt(without(12), 12);
  corrupt(without(16), 16);
  corrupt(replace(9, '**Author:** clin-1'), 9);
  corrupt(replace(10, '**Author ID:** Dr Testy Fixture'), 10);
  corrupt(replace(11, '**Role:** doctor'), 11);
  corrupt(replace(7, '**Message ID:** 5A0C1F4E-8D2B-4C3A-9E7F-1B2C3D4E5F60'), 7);
  corrupt(replace(8, '**Timestamp:** 2026-03-01T12:00:00Z'), 8);
  corrupt(replace(25, '**Corrects:** first'), 25);
  corrupt(replace(3, '**Communication ID:** thread-1'), 3);
  corrupt(replace(5, '## Message '), 5);
  corrupt(replace(16, '***'), 16);
  // A body line count that is not a count, too small or larger than the file.
  for (const count of ['0', '01', '-1', '1.0', ' 1', 'one', '1e3', ''])
    corrupt(replace(26, `**Body lines:** ${count}`), 26);
  corrupt(replace(26, '**Body lines:** 2'), 30);
  corrupt(replace(26, '**Body lines:** 4'), 32);
  corrupt(replace(26, '**Body lines:** 99'), 26);
  corrupt(replace(26, '**Body lines:** 999999999'), 26);
  corrupt(replace(12, '**Body lines:** 3'), 18);
});

test('a corrupt thread is refused without its content in the error', () => {
  const text = thread({ ...first, body: 'Secret diagnosis' }).replace(
    '**Body lines:** 1',
    '**Body lines:** 5',
  );
  assert.throws(
    () => parseThread(text),
    (error: unknown) =>
      isVprError(error, 'CORRUPT_REPOSITORY') &&
      !error.message.includes('Secret') &&
      !JSON.stringify(error.details).includes('Secret'),
  );
});

test('a thread.md over the size limit is refused at once, and is never written', () => {
  corrupt(header + 'x'.repeat(MAX_THREAD_BYTES), 0);
  corrupt(header + '€'.repeat(Math.ceil(MAX_THREAD_BYTES / 3)), 0);
  const full = header + '\n'.repeat(MAX_THREAD_BYTES - header.length - 100);
  assert.throws(
    () => appendMessage(full, first),
    (error: unknown) => isVprError(error, 'INVALID_STATE'),
  );
});

test('appending to something that is not a thread is refused', () => {
  for (const existing of ['', 'hello\n', '# Thread', header.slice(0, -1), thread(first).slice(0, -1)]) {
    assert.throws(
      () => appendMessage(existing, second),
      (error: unknown) => isVprError(error, 'CORRUPT_REPOSITORY'),
    );
  }
});

test('a thread of 10,000 messages, and a body of 30,000 lines, parse', () => {
  const messages = Array.from({ length: 10_000 }, (_, i): ThreadMessage => ({
    ...first,
    messageId: `${i.toString(16).padStart(8, '0')}-8d2b-4c3a-9e7f-1b2c3d4e5f60`,
    body: i % 2 === 0 ? `Message ${i}\n---\n## Message\n` : `Reply ${i}`,
  }));
  const text = header + messages.map(renderMessage).join('');
  const parsed = parseThread(text);
  assert.equal(parsed.messages.length, 10_000);
  assert.deepEqual(parsed.messages[9_999], messages[9_999]);
  assert.deepEqual(parsed.messages, messages);

  const long = { ...first, body: '---\n'.repeat(10_000) + '\n'.repeat(20_000) + 'end' };
  assert.deepEqual(parseThread(thread(long)).messages, [long]);
});

// Properties: any messages with any bodies a person may type come back exactly, and any
// truncation is either a whole number of messages or refused.

// eslint-disable-next-line no-control-regex -- the control characters a body may not hold
const REFUSED = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
const notBlank = (s: string) => (s.trim() === '' ? `${s}x` : s);
const markupPiece = fc.constantFrom(
  '---',
  '## Message',
  '# Thread',
  '**Message ID:** x',
  '**Message ID:** 5a0c1f4e-8d2b-4c3a-9e7f-1b2c3d4e5f60',
  '**Body lines:** 1',
  '**Body lines:** 3',
  '**Role:** patient',
  '**Corrects:** ',
  '**Communication ID:** ',
  '```',
  '~~~',
  '# Thread\n\n',
  '',
  ' ',
  '  ',
  '\t',
  '\r',
  '\n',
  '\r\n',
  '\n\n',
  'text',
  'é',
  '🙂',
  '\u2028',
);
const markupBody = fc
  .array(markupPiece, { minLength: 1, maxLength: 40 })
  .map((pieces) => notBlank(pieces.join('')));
const binaryBody = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 300 })
  .map((s) => notBlank(s.replace(REFUSED, '')));
const graphemeBody = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 200 })
  .map((s) => notBlank(s.replace(REFUSED, '')));
const linesBody = fc
  .array(
    fc.oneof(
      markupPiece,
      fc.string({ unit: 'binary', maxLength: 20 }).map((s) => s.replace(REFUSED, '')),
    ),
    {
      minLength: 1,
      maxLength: 20,
    },
  )
  .map((lines) => notBlank(lines.join('\n')));
const body = fc.oneof(markupBody, binaryBody, graphemeBody, linesBody);

const idChar = fc.constantFrom(...'ABCXYZabcxyz0123456789._:@-'.split(''));
const displayName = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
  .map((s) =>
    s
      .replace(REFUSED, '')
      .replace(/[\n\r\u2028\u2029]/g, '')
      .trim(),
  )
  .filter((s) => s.length > 0 && s.length <= 200);
const message: fc.Arbitrary<ThreadMessage> = fc
  .record({
    messageId: fc.uuid({ version: 4 }),
    timestamp: fc
      .date({
        min: new Date('1970-01-01T00:00:00Z'),
        max: new Date('9999-12-31T23:59:59.999Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString()),
    authorId: fc.string({ unit: idChar, minLength: 1, maxLength: 128 }),
    authorName: displayName,
    role: fc.constantFrom(...MESSAGE_ROLES),
    corrects: fc.option(fc.uuid({ version: 4 }), { nil: undefined }),
    body,
  })
  .map(({ corrects, ...m }) => (corrects === undefined || corrects === m.messageId ? m : { ...m, corrects }));

test('property: a thread of any messages parses back to exactly those messages', () => {
  fc.assert(
    fc.property(fc.array(message, { maxLength: 8 }), fc.boolean(), (messages, named) => {
      const start = named ? header : '# Thread\n';
      const text = messages.reduce(appendMessage, start);
      const parsed = parseThread(text);
      assert.deepEqual(parsed, named ? { communicationId, messages } : { messages });
      assert.equal(parsed.messages.reduce(appendMessage, start), text, 'and renders back to the same text');
    }),
    { numRuns: 500 },
  );
});

test('property: a thread cut short is a whole number of messages, or refused', () => {
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), fc.nat(), (messages, at) => {
      const boundaries = new Map<number, number>([['# Thread\n'.length, 0]]);
      let text = header;
      boundaries.set(text.length, 0);
      messages.forEach((m, i) => {
        text = appendMessage(text, m);
        boundaries.set(text.length, i + 1);
      });
      const cut = at % text.length;
      const kept = boundaries.get(cut);
      if (kept === undefined) {
        corrupt(text.slice(0, cut));
      } else {
        assert.deepEqual(parseThread(text.slice(0, cut)).messages, messages.slice(0, kept));
      }
    }),
    { numRuns: 500 },
  );
});

test('property: any text parses or is refused as corrupt, never anything else', () => {
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 400 }),
    fc.array(markupPiece, { maxLength: 60 }).map((p) => `# Thread\n${p.join('\n')}`),
    fc
      .tuple(fc.array(message, { minLength: 1, maxLength: 3 }), fc.nat(), fc.string({ maxLength: 5 }))
      .map(([messages, at, insert]) => {
        const text = messages.reduce(appendMessage, header);
        const i = at % text.length;
        return text.slice(0, i) + insert + text.slice(i);
      }),
  );
  fc.assert(
    fc.property(anyText, (text) => {
      try {
        parseThread(text);
      } catch (error) {
        assert.ok(isVprError(error, 'CORRUPT_REPOSITORY'), String(error));
      }
    }),
    { numRuns: 500 },
  );
});
