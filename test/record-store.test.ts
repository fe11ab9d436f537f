// Full patient records and validated changes through the record store, on real repositories.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { isVprError } from '../src/core/errors.js';
import { repositoryDir } from '../src/core/record/record-layout.js';
import { RecordStore } from '../src/core/record/record-store.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import { careLocation, clinician, demographics } from './support/fixtures.js';
import { tempDir } from './support/temp-dir.js';
import type { TestContext } from 'node:test';

async function openStore(t: TestContext, dataDir?: string): Promise<RecordStore> {
  const store = new RecordStore({ dataDir: dataDir ?? (await tempDir(t)), namespace: 'test.vpr' });
  await store.open();
  t.after(() => store.close());
  return store;
}

async function listAll(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

test('a full record is three sharded repositories, linked, each with one clean commit', async (t) => {
  const store = await openStore(t);
  const record = await store.createFullRecord({ demographics, author: clinician, careLocation });
  const dirs = {
    demographics: repositoryDir(store.dataDir, 'demographics', record.demographicsId),
    clinical: repositoryDir(store.dataDir, 'clinical', record.clinicalId),
    coordination: repositoryDir(store.dataDir, 'coordination', record.coordinationId),
  };
  for (const [kind, dir] of Object.entries(dirs)) {
    const id = dir.split('/').at(-1)!;
    assert.ok(dir.endsWith(`/${kind}/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`));
    await assertCleanAndSound(dir);
    assert.equal(await readFile(join(dir, '.gitignore'), 'utf8'), 'files/\n');
    assert.equal((await git(dir, ['rev-list', '--count', 'HEAD'])).trim(), '1');
    assert.equal(
      await git(dir, ['log', '-1', '--format=%s']),
      `${kind}:create: Created ${kind === 'demographics' ? 'patient demographics' : `${kind} record`}\n`,
    );
    assert.equal(
      await git(dir, ['log', '-1', '--format=%(trailers:key=Care-Location,valueonly)']),
      `${careLocation}\n\n`,
    );
    assert.equal(
      await git(dir, ['log', '-1', '--format=%an <%ae>']),
      `${clinician.name} <${clinician.email}>\n`,
    );
    assert.deepEqual(await readdir(join(dir, '.git', 'hooks')).catch(() => []), [], 'no sample hooks');
  }
  const patient = parse(await readFile(join(dirs.demographics, 'patient.yaml'), 'utf8'));
  assert.equal(patient.resourceType, 'Patient');
  assert.equal(patient.id, record.demographicsId);
  assert.deepEqual(patient.name[0].given, ['Testy', 'Synthia']);
  assert.equal(patient.birthDate, demographics.date_of_birth);
  const ehr = parse(await readFile(join(dirs.clinical, 'ehr_status.yaml'), 'utf8'));
  assert.equal(ehr._type, 'EHR_STATUS');
  assert.equal(ehr.subject.external_ref.id.value, record.demographicsId);
  assert.equal(ehr.subject.external_ref.namespace, 'ehr://test.vpr/mpi');
  const coordination = parse(await readFile(join(dirs.coordination, 'COORDINATION_STATUS.yaml'), 'utf8'));
  assert.equal(coordination.clinical_id, record.clinicalId);
  assert.equal(coordination.status.lifecycle_state, 'active');
  assert.deepEqual(await readdir(join(store.dataDir, '.staging')), []);
});

test('invalid input creates nothing at all', async (t) => {
  const store = await openStore(t);
  const before = await listAll(store.dataDir);
  const bad = [
    { demographics: { ...demographics, date_of_birth: '2999-01-01' }, author: clinician, careLocation },
    { demographics: { ...demographics, given_name: ' ' }, author: clinician, careLocation },
    { demographics, author: { ...clinician, email: 'nope' }, careLocation },
    { demographics, author: clinician, careLocation: 'two\nlines' },
  ];
  for (const input of bad) {
    await assert.rejects(store.createFullRecord(input), (e: unknown) => isVprError(e, 'INVALID_INPUT'));
  }
  assert.deepEqual(await listAll(store.dataDir), before);
});

test('if one repository cannot be placed, no directory of the new patient remains', async (t) => {
  const dataDir = await tempDir(t);
  const store = await openStore(t, dataDir);
  // The coordination tree lives on another filesystem (tmpfs), so its rename fails with EXDEV
  // after the clinical and demographics repositories have already been renamed into place.
  const elsewhere = await mkdtemp(join('/dev/shm', 'vpr-test-'));
  t.after(() => rm(elsewhere, { recursive: true, force: true }));
  await symlink(elsewhere, join(dataDir, 'coordination'));
  await assert.rejects(
    store.createFullRecord({ demographics, author: clinician, careLocation }),
    (e: unknown) => isVprError(e, 'STORAGE_FAILURE'),
  );
  const leftovers = (await listAll(dataDir)).filter(
    (p) => p.split('/').length >= 4 && !p.startsWith('coordination'),
  );
  assert.deepEqual(leftovers, []);
  assert.deepEqual(await readdir(join(dataDir, '.staging')), []);
});

test('a half-made record left in staging by a crash is removed at start-up', async (t) => {
  const dataDir = await tempDir(t);
  await openStore(t, dataDir);
  const orphan = join(dataDir, 'clinical', 'aa', 'bb', 'aabb0000000000000000000000000000');
  await mkdir(orphan, { recursive: true });
  const staging = join(dataDir, '.staging', 'crashed');
  await mkdir(staging, { recursive: true });
  await writeFile(join(staging, 'intent.json'), JSON.stringify({ targets: [orphan] }));
  await openStore(t, dataDir);
  await assert.rejects(readdir(orphan), { code: 'ENOENT' });
  assert.deepEqual(await readdir(join(dataDir, '.staging')), []);
});

test('changes commit with the controlled vocabulary; bad changes write nothing', async (t) => {
  const store = await openStore(t);
  const record = await store.createFullRecord({ demographics, author: clinician, careLocation });
  const dir = repositoryDir(store.dataDir, 'clinical', record.clinicalId);
  const result = await store.commitChange({
    kind: 'clinical',
    id: record.clinicalId,
    parent: record.commits.clinical,
    changes: [
      { path: 'notes/a.md', content: 'A\n' },
      { path: 'notes/b.md', content: Buffer.from('B\n') },
    ],
    author: clinician,
    action: 'update',
    summary: 'Added two notes',
    careLocation,
    trailers: [{ key: 'Note-Kind', value: 'test' }],
  });
  assert.equal(result.parent, record.commits.clinical);
  await assertCleanAndSound(dir);
  assert.equal(
    await git(dir, ['log', '-1', '--format=%B']),
    'clinical:update: Added two notes\n\nAuthor-Name: Dr Test Clinician\nAuthor-Role: Clinician\nAuthor-Registration: GMC 0000001\nCare-Location: Synthetic General Hospital\nNote-Kind: test\n\n',
  );
  assert.equal((await store.readFile('clinical', record.clinicalId, 'notes/a.md')).toString(), 'A\n');
  const history = await store.history('clinical', record.clinicalId);
  assert.deepEqual(
    history.commits.map((c) => c.id),
    [result.id, record.commits.clinical],
  );
  assert.match(
    await store.diffFile('clinical', record.clinicalId, 'notes/b.md', record.commits.clinical, result.id),
    /^\+B$/m,
  );

  const base = {
    kind: 'clinical' as const,
    id: record.clinicalId,
    author: clinician,
    action: 'update' as const,
    summary: 'x',
    careLocation,
  };
  const attempts: [Parameters<RecordStore['commitChange']>[0], string][] = [
    [{ ...base, changes: [{ path: '../escape.md', content: 'x' }] }, 'UNSAFE_PATH'],
    [{ ...base, changes: [{ path: '/abs.md', content: 'x' }] }, 'UNSAFE_PATH'],
    [{ ...base, changes: [{ path: '.git/config', content: 'x' }] }, 'UNSAFE_PATH'],
    [{ ...base, changes: [{ path: '.gitignore', content: '' }] }, 'INVALID_INPUT'],
    [{ ...base, changes: [] }, 'INVALID_INPUT'],
    [{ ...base, summary: 'a\nb', changes: [{ path: 'n.md', content: 'x' }] }, 'INVALID_INPUT'],
    [
      { ...base, trailers: [{ key: 'Author-Name', value: 'x' }], changes: [{ path: 'n.md', content: 'x' }] },
      'INVALID_INPUT',
    ],
    [{ ...base, action: 'delete' as never, changes: [{ path: 'n.md', content: 'x' }] }, 'INVALID_INPUT'],
    [
      { ...base, parent: record.commits.clinical, changes: [{ path: 'n.md', content: 'x' }] },
      'VERSION_CONFLICT',
    ],
    [{ ...base, parent: 'HEAD', changes: [{ path: 'n.md', content: 'x' }] }, 'INVALID_INPUT'],
    [
      { ...base, id: record.clinicalId.toUpperCase(), changes: [{ path: 'n.md', content: 'x' }] },
      'INVALID_ID',
    ],
    [{ ...base, id: 'ab'.repeat(16), changes: [{ path: 'n.md', content: 'x' }] }, 'NOT_FOUND'],
  ];
  for (const [input, code] of attempts) {
    await assert.rejects(store.commitChange(input), (e: unknown) => isVprError(e, code as never), code);
  }
  assert.equal((await git(dir, ['rev-list', '--count', 'HEAD'])).trim(), '2');
  await assertCleanAndSound(dir);
  await assert.rejects(readFile(join(dir, 'n.md')), { code: 'ENOENT' });
});

test('listing and reading the heads of many repositories agree with stock git, packed refs too', async (t) => {
  const store = await openStore(t);
  const records = [];
  for (let i = 0; i < 5; i++) {
    records.push(await store.createFullRecord({ demographics, author: clinician, careLocation }));
  }
  const ids = records.map((r) => r.clinicalId);
  const listed: string[] = [];
  for await (const id of store.listRecordIds('clinical')) listed.push(id);
  assert.deepEqual(listed, [...ids].sort(), 'every clinical repository, in shard order');
  // Two refs packed by git itself: read from packed-refs, not the loose file.
  for (const id of ids.slice(0, 2))
    await git(repositoryDir(store.dataDir, 'clinical', id), ['pack-refs', '--all']);
  const absent = '0'.repeat(32) as (typeof ids)[number];
  const expected = [];
  for (const id of ids) {
    expected.push((await git(repositoryDir(store.dataDir, 'clinical', id), ['rev-parse', 'HEAD'])).trim());
  }
  // Read synchronously (no read counts as slow), and through the thread pool after the first.
  assert.deepEqual(await store.heads('clinical', [...ids, absent], Infinity), [...expected, undefined]);
  assert.deepEqual(await store.heads('clinical', [...ids, absent], -1), [...expected, undefined]);
  assert.deepEqual(
    ids.map((id) => store.head('clinical', id)),
    expected,
  );
});
