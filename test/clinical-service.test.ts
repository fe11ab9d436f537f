// The clinical services called directly (no HTTP): every form of letter (body, attachments,
// both) written and read back, attachments streamed from async sources, two requests racing to
// store the same bytes where one fails after its upload (the bytes the other committed stay),
// and the letters projection built live equal to one rebuilt from Git by a reindex.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { MemoryReadCache } from '../src/cache/read-cache.js';
import { isVprError } from '../src/core/errors.js';
import { repositoryDir } from '../src/core/record/record-layout.js';
import { RecordStore } from '../src/core/record/record-store.js';
import { Projection } from '../src/projection/projection.js';
import { reindex } from '../src/projection/reindex.js';
import { ClinicalRecord } from '../src/services/record-access.js';
import { LetterService, type Upload } from '../src/services/letter-service.js';
import type { Actor } from '../src/services/patient-service.js';
import { RecordLinks } from '../src/services/record-links.js';
import { WriteSwitch } from '../src/services/write-switch.js';
import { careLocation, clinician, demographics } from './support/fixtures.js';
import { assertCleanAndSound } from './support/git-check.js';
import { tempDir } from './support/temp-dir.js';

const actor: Actor = { principal: 'test-clinician', keyId: 'clinician', author: clinician, careLocation };

async function setUp(t: TestContext) {
  const dataDir = await tempDir(t);
  const store = new RecordStore({ dataDir });
  await store.open();
  const cache = new MemoryReadCache();
  const projection = await Projection.open({ dataDir, cache }, store);
  t.after(async () => {
    await projection.close();
    await store.close();
  });
  const record = new ClinicalRecord({
    store,
    projection,
    cache,
    writes: new WriteSwitch(false),
    links: new RecordLinks(projection, cache),
    maxUploadBytes: 1024 * 1024,
  });
  const patient = await store.createFullRecord({ demographics, author: clinician, careLocation });
  return { store, projection, letters: new LetterService(record), patient, dataDir };
}

/** A source that yields `bytes` in small chunks, as a network upload would. */
async function* chunks(bytes: Buffer, size = 1000): AsyncIterable<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function* uploads(...files: [string, Buffer][]): AsyncIterable<Upload> {
  for (const [filename, bytes] of files) yield { filename, stream: chunks(bytes) };
}

async function storedHashes(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(d, entry.name));
      else found.push(entry.name);
    }
  };
  await walk(join(dir, 'files', 'sha256'));
  return found.sort();
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('every form of letter through the service: body, attachments, both', async (t) => {
  const { letters, patient, store } = await setUp(t);
  const id = patient.demographicsId;
  const scan = Buffer.concat([Buffer.from('%PDF-1.5\n'), Buffer.alloc(20_000, 3)]);
  // A PNG signature and IHDR chunk (1×1 pixel), then filler: enough for the type to be sniffed.
  const photo = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    Buffer.from('IHDR'),
    Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xde]),
    Buffer.alloc(5_000, 9),
  ]);

  const bodyOnly = await letters.create(actor, id, { body: 'Body only.\n' });
  assert.equal(bodyOnly.body, 'Body only.\n');
  assert.deepEqual(bodyOnly.attachments, []);

  const filesOnly = await letters.create(
    actor,
    id,
    { title: 'Scans' },
    uploads(['scan.pdf', scan], ['photo.png', photo]),
  );
  assert.equal(filesOnly.body, null);
  assert.deepEqual(
    filesOnly.attachments.map((a) => [a.original_filename, a.media_type, a.size_bytes, a.hash]),
    [
      ['scan.pdf', 'application/pdf', scan.length, sha256(scan)],
      ['photo.png', 'image/png', photo.length, sha256(photo)],
    ],
  );

  const both = await letters.create(actor, id, { body: 'With a scan.\n' }, uploads(['again.pdf', scan]));
  assert.equal(both.body, 'With a scan.\n');
  assert.equal(both.attachments[0]!.hash, sha256(scan));

  for (const letter of [bodyOnly, filesOnly, both]) {
    assert.deepEqual(await letters.get(id, letter.letter_id, letter.commit), letter, 'read back as written');
    const atHead = await letters.get(id, letter.letter_id);
    assert.deepEqual(
      { ...atHead, commit: letter.commit },
      letter,
      'unchanged at HEAD but for the commit read at',
    );
  }
  const download = await letters.attachment(id, filesOnly.letter_id, sha256(photo));
  const received: Buffer[] = [];
  for await (const chunk of download.stream) received.push(chunk as Buffer);
  assert.deepEqual(Buffer.concat(received), photo);

  const neither = await letters.create(actor, id, { title: 'Nothing' }).catch((e: unknown) => e);
  assert.ok(isVprError(neither, 'INVALID_INPUT'));
  const dir = repositoryDir(store.dataDir, 'clinical', patient.clinicalId);
  assert.deepEqual(await storedHashes(dir), [sha256(scan), sha256(photo)].sort(), 'stored once each');
  await assertCleanAndSound(dir);
});

test('two letters racing to store the same bytes: the one that fails leaves what the other committed', async (t) => {
  const { letters, patient, store } = await setUp(t);
  const id = patient.demographicsId;
  const dir = repositoryDir(store.dataDir, 'clinical', patient.clinicalId);
  const shared = Buffer.from('%PDF-1.4\nbytes both letters attach\n');
  const sharedPath = join(
    dir,
    'files',
    'sha256',
    sha256(shared).slice(0, 2),
    sha256(shared).slice(2, 4),
    sha256(shared),
  );
  let openGate!: () => void;
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  // A: stores the shared bytes first (so it created them), waits, then sends one file too many.
  async function* tooMany(): AsyncIterable<Upload> {
    yield { filename: 'shared.pdf', stream: chunks(shared) };
    await gate;
    for (let i = 0; i < 32; i++)
      yield { filename: `extra-${i}.txt`, stream: chunks(Buffer.from(`extra ${i}\n`)) };
  }
  const failing = letters.create(actor, id, { title: 'Too many files' }, tooMany()).catch((e: unknown) => e);
  for (let i = 0; i < 200 && (await stat(sharedPath).catch(() => undefined)) === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  // B: attaches the same bytes (stored already, so it did not create them) and commits.
  const committed = await letters.create(actor, id, { title: 'Same bytes' }, uploads(['same.pdf', shared]));
  openGate();
  const error = await failing;
  assert.ok(isVprError(error, 'INVALID_INPUT'), String(error));
  assert.deepEqual(
    await storedHashes(dir),
    [sha256(shared)],
    'A’s own extra files are gone; the shared bytes stay',
  );
  const download = await letters.attachment(id, committed.letter_id, sha256(shared));
  const received: Buffer[] = [];
  for await (const chunk of download.stream) received.push(chunk as Buffer);
  assert.deepEqual(Buffer.concat(received), shared);
});

test('letters projected live equal letters rebuilt from Git', async (t) => {
  const { letters, patient, projection, store } = await setUp(t);
  const id = patient.demographicsId;
  const first = await letters.create(actor, id, { title: 'First', body: 'One.\n' });
  const second = await letters.create(actor, id, {
    title: 'Second',
    body: 'Two.\n',
    references: first.letter_id,
  });
  await letters.signOff(actor, id, second.letter_id, second.version);
  const edited = await letters.edit(actor, id, first.letter_id, first.version, {
    title: 'First, edited',
    body: 'One, edited.\n',
  });
  assert.equal(edited.title, 'First, edited');
  const rows = () =>
    projection.client.query(
      `SELECT letter_id, title, snippet, status, composer_email, care_location, references_letter, has_body,
              attachment_count, created_at, updated_at, commit_sha FROM letters ORDER BY letter_id`,
    );
  const live = await rows();
  assert.equal(live.length, 2);
  await reindex(projection.client, store, { threads: 0 });
  assert.deepEqual(await rows(), live);
});
