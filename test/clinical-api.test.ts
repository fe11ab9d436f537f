// The clinical record through the real server (in-process inject, and over a socket for
// multipart uploads and streamed downloads), on PGlite and on the machine's PostgreSQL + Redis:
// letters (draft, sign-off, edit, versions, history, supersede, the sign-off queue), attachments
// (stored once, checked on read, no orphans), structured entries with their lifecycle and time
// queries, the patient's own contributions, and bad input that must write nothing. Every
// repository is checked with the stock git CLI.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { repositoryDir } from '../src/core/record/record-layout.js';
import { reindex } from '../src/projection/reindex.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import {
  CLINIC,
  CLINICIAN_EMAIL,
  CLINICIAN_KEY,
  PATIENT_KEY,
  READER_KEY,
  WRITER_KEY,
  auth,
  patientBody,
  serviceBackends,
  startService,
  type TestService,
  json,
  type Json,
} from './support/service.js';

const withServices = await serviceBackends();

/** Bytes that start like a PDF, so the media type is sniffed as one. */
const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n%synthetic test document\n'), Buffer.alloc(2048, 7)]);

async function newPatient(service: TestService) {
  const created = await service.inject({
    method: 'POST',
    url: '/api/v1/patients',
    headers: json(WRITER_KEY),
    payload: patientBody(),
  });
  assert.equal(created.statusCode, 201, created.body);
  const patient = created.json() as { patient_id: string; clinical_id: string };
  return { ...patient, base: `/api/v1/patients/${patient.patient_id}` };
}

const clinicalDir = (service: TestService, clinicalId: string) =>
  repositoryDir(service.dataDir, 'clinical', clinicalId as never);

async function subjects(dir: string): Promise<string[]> {
  return (await git(dir, ['log', '--format=%s'])).trim().split('\n');
}

async function storedFiles(dir: string): Promise<string[]> {
  const root = join(dir, 'files', 'sha256');
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(d, entry.name));
      else found.push(entry.name);
    }
  };
  await walk(root);
  return found.sort();
}

const letterBody = {
  title: 'Respiratory clinic letter',
  body: '# Clinic review\n\nDear Dr Placeholder,\n\nBreathing is better since the last review.\n\n---\n\nPlan: review in six months.\n',
  start_time: '2026-03-02T10:14:00Z',
  clinical_lists: [
    {
      kind: 'diagnoses',
      items: [
        { text: 'Hypertension', code: { terminology: 'SNOMED-CT', value: '38341003' } },
        { text: 'Lives alone, independent' },
      ],
    },
    {
      kind: 'medications',
      name: 'Medication summary (snapshot)',
      items: [{ text: 'Amlodipine 10 mg once daily' }],
    },
  ],
};

for (const backend of withServices) {
  test(`[${backend}] letters: draft, list, queue, sign-off, edit, versions, history, supersede`, async (t) => {
    const service = await startService(t, backend);
    const patient = await newPatient(service);
    const dir = clinicalDir(service, patient.clinical_id);
    const openapi = (await service.inject({ url: '/openapi.json' })).json();
    const documented = Object.entries(openapi.paths as Record<string, object>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    for (const route of [
      'POST /api/v1/patients/{patient_id}/letters',
      'GET /api/v1/patients/{patient_id}/letters/{letter_id}',
      'PUT /api/v1/patients/{patient_id}/letters/{letter_id}',
      'POST /api/v1/patients/{patient_id}/letters/{letter_id}:sign-off',
      'GET /api/v1/patients/{patient_id}/letters/{letter_id}/attachments/{hash}',
      'GET /api/v1/letters/sign-off-queue',
      'POST /api/v1/patients/{patient_id}/entries/{kind}',
      'POST /api/v1/patients/{patient_id}/entries/{kind}/{entry_id}:supersede',
      'POST /api/v1/patients/{patient_id}/contributions/{kind}',
    ]) {
      assert.ok(documented.includes(route), `${route} is in /openapi.json`);
    }

    const created = await service.inject({
      method: 'POST',
      url: `${patient.base}/letters`,
      headers: json(CLINICIAN_KEY),
      payload: letterBody,
    });
    assert.equal(created.statusCode, 201, created.body);
    const letter = created.json();
    assert.match(letter.letter_id, /^\d{8}T\d{6}\.\d{3}Z-[0-9a-f-]{36}$/);
    assert.equal(created.headers.etag, `"${letter.version}"`);
    assert.equal(created.headers.location, `${patient.base}/letters/${letter.letter_id}`);
    assert.equal(letter.status, 'draft');
    assert.equal(letter.body, letterBody.body, 'the body round-trips exactly, markup and all');
    assert.deepEqual(letter.composer, { name: 'Dr Ada Synthetic', role: 'Consultant Physician' });
    assert.equal(letter.care_location, CLINIC);
    assert.equal(letter.start_time, '2026-03-02T10:14:00.000Z');
    assert.equal(letter.clinical_lists[0].items[0].code.value, '38341003');
    assert.equal(letter.clinical_lists[1].name, 'Medication summary (snapshot)');
    assert.deepEqual(letter.attachments, []);

    // On disk: composition.yaml and body.md in the letter's folder, committed with the vocabulary.
    const composition = await git(dir, [
      'show',
      `HEAD:correspondence/letter/${letter.letter_id}/composition.yaml`,
    ]);
    assert.match(composition, /^_type: COMPOSITION$/m);
    assert.match(composition, /archetype_node_id: openEHR-EHR-COMPOSITION\.correspondence\.v1/);
    assert.match(composition, /rm_version: 1\.1\.0/);
    assert.match(composition, /path: \.\/body\.md/);
    assert.match(composition, /role: Consultant Physician/);
    assert.equal(
      await git(dir, ['show', `HEAD:correspondence/letter/${letter.letter_id}/body.md`]),
      letterBody.body,
    );
    assert.equal((await subjects(dir))[0], 'clinical:create: Created letter');
    assert.match(
      await git(dir, ['log', '-1', '--format=%B']),
      /Letter-Id: .*\nAuthor-Registration: GMC 7000001|Author-Registration: GMC 7000001/,
    );
    await assertCleanAndSound(dir);

    const url = `${patient.base}/letters/${letter.letter_id}`;
    const read = await service.inject({ url, headers: auth(READER_KEY) });
    assert.equal(read.statusCode, 200);
    assert.deepEqual(read.json(), letter);
    assert.equal(
      (
        await service.inject({
          url,
          headers: { ...auth(READER_KEY), 'if-none-match': `W/"${letter.version}"` },
        })
      ).statusCode,
      304,
    );

    const list = await service.inject({ url: `${patient.base}/letters`, headers: auth(READER_KEY) });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().letters.length, 1);
    assert.equal(list.json().letters[0].title, 'Respiratory clinic letter');
    assert.match(list.json().letters[0].snippet, /^Clinic review Dear Dr Placeholder/);

    const queue = async (query = '') =>
      (
        await service.inject({ url: `/api/v1/letters/sign-off-queue${query}`, headers: auth(READER_KEY) })
      ).json().letters as { letter_id: string; patient_id: string }[];
    assert.deepEqual(
      (await queue()).map((l) => [l.letter_id, l.patient_id]),
      [[letter.letter_id, patient.patient_id]],
    );
    assert.equal((await queue(`?author=${encodeURIComponent(CLINICIAN_EMAIL.toUpperCase())}`)).length, 1);
    assert.equal((await queue(`?author=someone.else%40example.invalid`)).length, 0);
    assert.equal((await queue(`?care_location=${encodeURIComponent(CLINIC)}`)).length, 1);
    assert.equal((await queue('?care_location=Elsewhere')).length, 0);

    // Only a clinician with a registration signs off; a signed letter cannot be signed again.
    const signOff = (key: string, headers: Record<string, string> = {}) =>
      service.inject({ method: 'POST', url: `${url}:sign-off`, headers: { ...auth(key), ...headers } });
    const refused = await signOff(WRITER_KEY);
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().code, 'FORBIDDEN');
    assert.equal((await signOff(CLINICIAN_KEY, { 'if-match': `"${'0'.repeat(40)}"` })).statusCode, 412);
    const signed = await signOff(CLINICIAN_KEY, { 'if-match': created.headers.etag as string });
    assert.equal(signed.statusCode, 200, signed.body);
    assert.equal(signed.json().status, 'signed');
    assert.deepEqual(signed.json().signed_off.registrations, ['GMC 7000001']);
    assert.equal((await subjects(dir))[0], 'clinical:update: Signed off letter');
    assert.equal((await queue()).length, 0, 'a signed letter leaves the queue');
    const again = await signOff(CLINICIAN_KEY);
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, 'INVALID_STATE');

    // Edit: If-Match required; a signed letter becomes a draft again; old versions stay readable.
    const edit = (
      headers: Record<string, string>,
      body: Record<string, unknown> = { ...letterBody, body: 'Amended text.\n' },
    ) =>
      service.inject({ method: 'PUT', url, headers: { ...json(CLINICIAN_KEY), ...headers }, payload: body });
    assert.equal((await edit({})).statusCode, 428);
    assert.equal((await edit({ 'if-match': created.headers.etag as string })).statusCode, 412);
    const edited = await edit({ 'if-match': signed.headers.etag as string });
    assert.equal(edited.statusCode, 200, edited.body);
    assert.equal(edited.json().body, 'Amended text.\n');
    assert.equal(edited.json().status, 'draft');
    assert.equal(edited.json().signed_off, null);
    assert.equal((await queue()).length, 1, 'an edited signed letter needs sign-off again');
    const sameAgain = await edit({ 'if-match': edited.headers.etag as string });
    assert.equal(sameAgain.statusCode, 200);
    assert.equal(
      sameAgain.json().commit,
      edited.json().commit,
      'an edit that changes nothing makes no commit',
    );
    const blobId = (
      await git(dir, ['rev-parse', `HEAD:correspondence/letter/${letter.letter_id}/body.md`])
    ).trim();
    const notACommit = await service.inject({ url: `${url}?version=${blobId}`, headers: auth(READER_KEY) });
    assert.equal(notACommit.statusCode, 404, 'a version must name a commit');
    const original = await service.inject({
      url: `${url}?version=${letter.commit}`,
      headers: auth(READER_KEY),
    });
    assert.equal(original.statusCode, 200);
    assert.equal(original.json().body, letterBody.body);
    assert.equal(original.json().status, 'draft');

    const history = await service.inject({ url: `${url}/history?diff=true`, headers: auth(READER_KEY) });
    assert.equal(history.statusCode, 200, history.body);
    const versions = history.json().history as { action: string; summary: string; diff?: string }[];
    assert.deepEqual(
      versions.map((v) => v.summary),
      ['Edited signed letter (needs sign-off again)', 'Signed off letter', 'Created letter'],
    );
    assert.match(versions[0]!.diff!, /^-Breathing is better/m);
    assert.match(versions[0]!.diff!, /^\+Amended text\./m);

    // Supersede: a new letter that references the old; the old one says who superseded it.
    const follow = await service.inject({
      method: 'POST',
      url: `${patient.base}/letters`,
      headers: json(CLINICIAN_KEY),
      payload: { title: 'Corrected letter', body: 'The corrected letter.\n', references: letter.letter_id },
    });
    assert.equal(follow.statusCode, 201, follow.body);
    assert.equal(follow.json().references, letter.letter_id);
    assert.match((await subjects(dir))[0]!, /^clinical:superseded: Letter superseding /);
    assert.equal(
      (await service.inject({ url, headers: auth(READER_KEY) })).json().superseded_by,
      follow.json().letter_id,
    );
    assert.deepEqual(
      (await queue()).map((l) => l.letter_id),
      [follow.json().letter_id],
      'a superseded draft needs no sign-off',
    );
    const missing = await service.inject({
      method: 'POST',
      url: `${patient.base}/letters`,
      headers: json(CLINICIAN_KEY),
      payload: { body: 'x', references: '20260101T000000.000Z-00000000-0000-4000-8000-000000000000' },
    });
    assert.equal(missing.statusCode, 404);
    const newest = (
      await service.inject({ url: `${patient.base}/letters?limit=1`, headers: auth(READER_KEY) })
    ).json();
    assert.equal(newest.letters[0].letter_id, follow.json().letter_id, 'newest first');
    assert.ok(newest.next_cursor);
    const older = await service.inject({
      url: `${patient.base}/letters?limit=1&cursor=${newest.next_cursor}`,
      headers: auth(READER_KEY),
    });
    assert.equal(older.json().letters[0].letter_id, letter.letter_id);

    // A draft signed off as it is written.
    const signedAtOnce = await service.inject({
      method: 'POST',
      url: `${patient.base}/letters`,
      headers: json(CLINICIAN_KEY),
      payload: { body: 'Short note.\n', sign_off: true },
    });
    assert.equal(signedAtOnce.json().status, 'signed');
    assert.equal(
      (
        await service.inject({
          method: 'POST',
          url: `${patient.base}/letters`,
          headers: json(WRITER_KEY),
          payload: { body: 'x', sign_off: true },
        })
      ).statusCode,
      403,
    );
    await assertCleanAndSound(dir);
  });

  test(`[${backend}] structured entries: kinds, JSON and YAML, correction, supersede, time queries`, async (t) => {
    const service = await startService(t, backend);
    const patient = await newPatient(service);
    const dir = clinicalDir(service, patient.clinical_id);
    const add = (kind: string, payload: unknown, contentType = 'application/json') =>
      service.inject({
        method: 'POST',
        url: `${patient.base}/entries/${kind}`,
        headers: { ...auth(CLINICIAN_KEY), 'content-type': contentType },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
    const readings = [
      ['2025-12-30T09:00:00Z', 150, 95],
      ['2026-01-15T09:00:00Z', 142, 90],
      ['2026-06-01T09:00:00Z', 135, 85],
      ['2026-09-01T09:00:00Z', 128, 82],
    ] as const;
    const ids: string[] = [];
    for (const [at, systolic, diastolic] of readings) {
      const r = await add('blood_pressure', {
        recorded_at: at,
        systolic_mmhg: systolic,
        diastolic_mmhg: diastolic,
        position: 'sitting',
      });
      assert.equal(r.statusCode, 201, r.body);
      ids.push(r.json().entry_id);
    }
    const yamlEntry = await add(
      'heart_rate',
      'recorded_at: 2026-06-01T09:05:00Z\nrate_bpm: 72\nrhythm: regular\n',
      'application/yaml',
    );
    assert.equal(yamlEntry.statusCode, 201, yamlEntry.body);
    assert.equal(yamlEntry.json().data.rate_bpm, 72);
    assert.equal(
      (await add('body_weight', { recorded_at: '2026-06-01T09:06:00Z', weight_kg: 71.4 })).statusCode,
      201,
    );
    const lab = await add('lab_result', {
      recorded_at: '2026-06-02T08:00:00Z',
      test_name: 'Haemoglobin',
      test_code: { system: 'http://loinc.org', code: '718-7' },
      value_quantity: { value: 131, unit: 'g/L' },
      reference_range: { low: 120, high: 160, unit: 'g/L' },
      interpretation: 'normal',
    });
    assert.equal(lab.statusCode, 201, lab.body);
    const problem = await add('problem', {
      name: 'Essential hypertension',
      code: { terminology: 'SNOMED-CT', value: '59621000' },
      status: 'active',
      onset_date: '2025-11-01',
    });
    assert.equal(problem.statusCode, 201, problem.body);

    const file = await git(dir, ['show', `HEAD~3:entries/blood_pressure/${ids[3]}.yaml`]).catch(() =>
      git(dir, ['show', `HEAD:entries/blood_pressure/${ids[3]}.yaml`]),
    );
    assert.match(file, /_type: COMPOSITION/);
    assert.match(file, /openEHR-EHR-OBSERVATION\.blood_pressure\.v2/);
    assert.match(
      await git(dir, ['show', `HEAD:entries/problem/${problem.json().entry_id}.yaml`]),
      /openEHR-EHR-EVALUATION\.problem_diagnosis\.v1/,
    );

    const list = async (query: string) =>
      (await service.inject({ url: `${patient.base}/entries?${query}`, headers: auth(READER_KEY) })).json();
    const in2026 = await list('kind=blood_pressure&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z');
    assert.deepEqual(
      in2026.entries.map((e: { entry_id: string }) => e.entry_id),
      [ids[3], ids[2], ids[1]],
      'blood pressure readings in 2026, newest first',
    );
    assert.match(in2026.entries[0].summary, /128\/82/);
    const paged = await list('kind=blood_pressure&limit=2');
    assert.equal(paged.entries.length, 2);
    const rest = await list(`kind=blood_pressure&limit=2&cursor=${paged.next_cursor}`);
    assert.deepEqual(
      [...paged.entries, ...rest.entries].map((e: { entry_id: string }) => e.entry_id),
      [...ids].reverse(),
    );

    // A correction is a new version of the same file.
    const url = `${patient.base}/entries/blood_pressure/${ids[3]}`;
    const current = await service.inject({ url, headers: auth(READER_KEY) });
    const unchangedEntry = await service.inject({
      url,
      headers: { ...auth(READER_KEY), 'if-none-match': current.headers.etag as string },
    });
    assert.equal(unchangedEntry.statusCode, 304);
    const correction = { recorded_at: '2026-09-01T09:00:00Z', systolic_mmhg: 126, diastolic_mmhg: 82 };
    const put = (headers: Record<string, string>) =>
      service.inject({
        method: 'PUT',
        url,
        headers: { ...json(CLINICIAN_KEY), ...headers },
        payload: correction,
      });
    assert.equal((await put({})).statusCode, 428);
    const corrected = await put({ 'if-match': current.headers.etag as string });
    assert.equal(corrected.statusCode, 200, corrected.body);
    assert.equal(corrected.json().data.systolic_mmhg, 126);
    assert.equal((await put({ 'if-match': current.headers.etag as string })).statusCode, 412);
    assert.equal((await subjects(dir))[0], 'clinical:update: Corrected blood_pressure');
    const before = await service.inject({
      url: `${url}?version=${current.json().commit}`,
      headers: auth(READER_KEY),
    });
    assert.equal(before.json().data.systolic_mmhg, 128, 'the earlier version is still readable');

    // Superseding: a new entry names the old; the old is no longer current but stays as it was.
    const superseding = await service.inject({
      method: 'POST',
      url: `${patient.base}/entries/blood_pressure/${ids[2]}:supersede`,
      headers: json(CLINICIAN_KEY),
      payload: { recorded_at: '2026-06-01T09:00:00Z', systolic_mmhg: 136, diastolic_mmhg: 86 },
    });
    assert.equal(superseding.statusCode, 201, superseding.body);
    assert.equal(superseding.json().supersedes, ids[2]);
    assert.equal(
      superseding.headers.location,
      `${patient.base}/entries/blood_pressure/${superseding.json().entry_id}`,
    );
    assert.match((await subjects(dir))[0]!, /^clinical:superseded: /);
    const old = await service.inject({
      url: `${patient.base}/entries/blood_pressure/${ids[2]}`,
      headers: auth(READER_KEY),
    });
    assert.equal(old.json().superseded_by, superseding.json().entry_id);
    assert.equal(old.json().data.systolic_mmhg, 135);
    const currentOnly = await list('kind=blood_pressure&current=true');
    assert.ok(!currentOnly.entries.some((e: { entry_id: string }) => e.entry_id === ids[2]));
    assert.ok(
      currentOnly.entries.some((e: { entry_id: string }) => e.entry_id === superseding.json().entry_id),
    );
    const twice = await service.inject({
      method: 'POST',
      url: `${patient.base}/entries/blood_pressure/${ids[2]}:supersede`,
      headers: json(CLINICIAN_KEY),
      payload: { recorded_at: '2026-06-01T09:00:00Z', systolic_mmhg: 137, diastolic_mmhg: 86 },
    });
    assert.equal(twice.statusCode, 409);
    assert.equal(twice.json().code, 'INVALID_STATE');

    // The projection built live equals one rebuilt from Git alone.
    const rows = async () =>
      service.runtime.projection.client.query(
        'SELECT entry_id, entry_kind, recorded_at, summary, supersedes FROM clinical_entries ORDER BY entry_id',
      );
    const live = await rows();
    await reindex(service.runtime.projection.client, service.runtime.store, { threads: 0 });
    assert.deepEqual(await rows(), live);
    await assertCleanAndSound(dir);
  });
}

test('attachments: multipart upload, stored once, streamed back checked, tampering and loss reported', async (t) => {
  const service = await startService(t, 'pglite', { VPR_UPLOAD_LIMIT: String(8 * 1024 * 1024) });
  const patient = await newPatient(service);
  const dir = clinicalDir(service, patient.clinical_id);
  const [base] = await service.runtime.listen();
  const upload = async (
    letter: unknown,
    files: { name: string; bytes: Buffer; type?: string }[],
    key = CLINICIAN_KEY,
  ) => {
    const form = new FormData();
    form.append('letter', JSON.stringify(letter));
    for (const f of files)
      form.append('file', new Blob([f.bytes], { type: f.type ?? 'application/octet-stream' }), f.name);
    const response = await fetch(`${base}${patient.base}/letters`, {
      method: 'POST',
      headers: auth(key),
      body: form,
    });
    return { status: response.status, body: (await response.json()) as Json };
  };

  const onlyFile = await upload({ title: 'Scanned referral' }, [{ name: 'referral scan.pdf', bytes: PDF }]);
  assert.equal(onlyFile.status, 201, JSON.stringify(onlyFile.body));
  const [reference] = onlyFile.body.attachments;
  const hash = createHash('sha256').update(PDF).digest('hex');
  assert.equal(reference.hash, hash);
  assert.equal(reference.media_type, 'application/pdf', 'sniffed from the bytes, not the declared type');
  assert.equal(reference.size_bytes, PDF.length);
  assert.equal(reference.original_filename, 'referral scan.pdf');
  assert.equal(reference.relative_path, `files/sha256/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`);
  assert.equal(onlyFile.body.body, null);
  assert.deepEqual(await readFile(join(dir, reference.relative_path)), PDF);
  assert.match(
    await git(dir, ['show', `HEAD:correspondence/letter/${onlyFile.body.letter_id}/composition.yaml`]),
    new RegExp(`hash: ${hash}`),
  );
  await assertCleanAndSound(dir); // files/ is ignored by Git

  const both = await upload({ body: 'See the attached scan.\n' }, [
    { name: 'same-bytes.pdf', bytes: PDF },
    { name: 'notes.txt', bytes: Buffer.from('plain synthetic notes\n') },
  ]);
  assert.equal(both.status, 201, JSON.stringify(both.body));
  assert.equal(both.body.attachments.length, 2);
  assert.equal(both.body.attachments[1].media_type, 'text/plain');
  assert.equal((await storedFiles(dir)).length, 2, 'identical bytes are stored once');

  const download = await fetch(
    `${base}${patient.base}/letters/${onlyFile.body.letter_id}/attachments/${hash}`,
    {
      headers: auth(READER_KEY),
    },
  );
  assert.equal(download.status, 200);
  assert.equal(download.headers.get('content-type'), 'application/pdf');
  assert.deepEqual(Buffer.from(await download.arrayBuffer()), PDF);

  // A large file streams through (8 MiB limit; 6 MiB sent in one part).
  const big = Buffer.alloc(6 * 1024 * 1024, 0xab);
  const large = await upload({ title: 'Large export' }, [{ name: 'export.bin', bytes: big }]);
  assert.equal(large.status, 201, JSON.stringify(large.body));
  const bigBack = await fetch(
    `${base}${patient.base}/letters/${large.body.letter_id}/attachments/${large.body.attachments[0].hash}`,
    { headers: auth(READER_KEY) },
  );
  assert.equal(
    createHash('sha256')
      .update(Buffer.from(await bigBack.arrayBuffer()))
      .digest('hex'),
    large.body.attachments[0].hash,
  );

  // Over the limit: 413, no commit, no orphan bytes.
  const head = await git(dir, ['rev-parse', 'HEAD']);
  const filesBefore = await storedFiles(dir);
  const tooBig = await upload({ title: 'Too big' }, [
    { name: 'huge.bin', bytes: Buffer.alloc(8 * 1024 * 1024 + 10, 1) },
  ]);
  assert.equal(tooBig.status, 413);
  assert.equal(tooBig.body.code, 'PAYLOAD_TOO_LARGE');
  // A file name that is a path: refused before a byte is stored.
  const pathName = await upload({ title: 'Sneaky' }, [
    { name: '../../escape.pdf', bytes: Buffer.from('%PDF-1.4 other') },
  ]);
  assert.equal(pathName.status, 400);
  assert.equal(pathName.body.code, 'UNSAFE_PATH');
  // A letter with neither body nor attachment, and a letter that is not the first part.
  assert.equal((await upload({ title: 'Empty' }, [])).status, 400);
  const form = new FormData();
  form.append('file', new Blob([PDF]), 'first.pdf');
  const wrongOrder = await fetch(`${base}${patient.base}/letters`, {
    method: 'POST',
    headers: auth(CLINICIAN_KEY),
    body: form,
  });
  assert.equal(wrongOrder.status, 400);
  assert.equal(await git(dir, ['rev-parse', 'HEAD']), head, 'nothing was committed');
  assert.deepEqual(await storedFiles(dir), filesBefore, 'no orphan bytes');

  // A commit that fails after the bytes are stored leaves none of them behind.
  await writeFile(join(dir, '.git', 'refs', 'heads', 'main.lock'), 'held by a test\n');
  const blocked = await upload({ title: 'Blocked' }, [
    { name: 'new.bin', bytes: Buffer.from('bytes never committed') },
  ]);
  assert.equal(blocked.status, 503, JSON.stringify(blocked.body));
  await rm(join(dir, '.git', 'refs', 'heads', 'main.lock'));
  assert.deepEqual(await storedFiles(dir), filesBefore, 'the failed commit left no orphan bytes');

  // Tampered bytes are never served; missing bytes are reported as missing.
  const stored = join(dir, reference.relative_path);
  const pristine = await readFile(stored);
  await rm(stored, { force: true });
  await writeFile(
    stored,
    Buffer.concat([pristine.subarray(0, 100), Buffer.from('tampered'), pristine.subarray(108)]),
  );
  const tampered = await fetch(
    `${base}${patient.base}/letters/${onlyFile.body.letter_id}/attachments/${hash}`,
    {
      headers: auth(READER_KEY),
    },
  );
  assert.equal(tampered.status, 500);
  assert.equal(((await tampered.json()) as { code: string }).code, 'CORRUPT_REPOSITORY');
  await rm(stored);
  const gone = await fetch(`${base}${patient.base}/letters/${onlyFile.body.letter_id}/attachments/${hash}`, {
    headers: auth(READER_KEY),
  });
  assert.equal(gone.status, 404);
  assert.equal(((await gone.json()) as { code: string }).code, 'NOT_FOUND');

  // A symlink planted where the bytes go: refused, nothing written through it.
  const outside = join(service.dataDir, 'outside');
  await mkdir(outside);
  await rm(join(dir, 'files'), { recursive: true, force: true });
  await symlink(outside, join(dir, 'files'));
  const viaLink = await upload({ title: 'Via link' }, [{ name: 'x.pdf', bytes: PDF }]);
  assert.equal(viaLink.status, 400);
  assert.equal(viaLink.body.code, 'UNSAFE_PATH');
  assert.deepEqual(await readdir(outside), []);
});

test('the patient’s voice: contributions under patient/, never touching clinical content', async (t) => {
  const service = await startService(t);
  const patient = await newPatient(service);
  const dir = clinicalDir(service, patient.clinical_id);
  const letter = (
    await service.inject({
      method: 'POST',
      url: `${patient.base}/letters`,
      headers: json(CLINICIAN_KEY),
      payload: letterBody,
    })
  ).json();
  const letterTree = await git(dir, ['rev-parse', `HEAD:correspondence/letter/${letter.letter_id}`]);
  const contribute = (kind: string, payload: Record<string, unknown>) =>
    service.inject({
      method: 'POST',
      url: `${patient.base}/contributions/${kind}`,
      headers: json(PATIENT_KEY),
      payload,
    });
  const symptom = await contribute('symptom', {
    symptom: 'Breathlessness on stairs',
    severity: 4,
    notes: 'Worse in the cold.',
  });
  assert.equal(symptom.statusCode, 201, symptom.body);
  assert.match(symptom.json().path, /^patient\/symptoms\/\d{8}T.*\.yaml$/);
  const outcome = await contribute('outcome', {
    instrument: 'Synthetic wellbeing scale',
    score: 7,
    max_score: 10,
    answers: [{ question: 'How are you today?', answer: 'Better' }],
  });
  assert.equal(outcome.statusCode, 201, outcome.body);
  const comment = await contribute('comment', {
    letter_id: letter.letter_id,
    text: 'I take the tablets in the evening.\n',
  });
  assert.equal(comment.statusCode, 201, comment.body);
  assert.equal(comment.json().about_letter, letter.letter_id);
  assert.equal(
    await git(dir, ['rev-parse', `HEAD:correspondence/letter/${letter.letter_id}`]),
    letterTree,
    'a comment leaves the letter exactly as it was',
  );
  const changed = (await git(dir, ['log', '-3', '--name-only', '--format=']))
    .trim()
    .split('\n')
    .filter(Boolean);
  assert.ok(
    changed.every((path) => path.startsWith('patient/')),
    changed.join(', '),
  );
  assert.equal((await subjects(dir))[0], 'clinical:create: Patient contribution: comment');
  assert.match(await git(dir, ['log', '-1', '--format=%B']), /Contribution-Source: patient/);
  const listed = await service.inject({ url: `${patient.base}/contributions`, headers: auth(READER_KEY) });
  assert.deepEqual(
    listed.json().contributions.map((c: { title: string }) => c.title),
    ['Comment on a letter', 'Reported outcome', 'Symptom log'],
    'newest first, named by kind',
  );
  assert.match(listed.json().contributions[2].snippet, /^symptom: Breathlessness on stairs, severity: 4/);
  const read = await service.inject({
    url: `${patient.base}/contributions/symptom/${symptom.json().id}`,
    headers: auth(READER_KEY),
  });
  assert.equal(read.json().data.severity, 4);
  const unknownLetter = await contribute('comment', {
    letter_id: '20260101T000000.000Z-00000000-0000-4000-8000-000000000000',
    text: 'About nothing.',
  });
  assert.equal(unknownLetter.statusCode, 404);
  assert.equal(
    (await contribute('symptom', { symptom: 'Cough', severity: 11 })).json().details.field,
    'severity',
  );
  await assertCleanAndSound(dir);
});

async function unchanged(
  t: TestContext,
  service: TestService,
  dir: string,
  attempt: () => Promise<{ statusCode: number; json(): Json }>,
  status: number,
  code: string,
) {
  const head = await git(dir, ['rev-parse', 'HEAD']);
  const response = await attempt();
  assert.equal(response.statusCode, status, `${code}: ${JSON.stringify(response.json())}`);
  assert.equal(response.json().code, code);
  assert.equal(await git(dir, ['rev-parse', 'HEAD']), head, `${code}: nothing was committed`);
  void t;
  void service;
}

test('bad clinical input: a clear 4xx and nothing written', async (t) => {
  const service = await startService(t);
  const patient = await newPatient(service);
  const dir = clinicalDir(service, patient.clinical_id);
  const post = (url: string, payload: string, contentType = 'application/json') =>
    service.inject({
      method: 'POST',
      url: `${patient.base}${url}`,
      headers: { ...auth(CLINICIAN_KEY), 'content-type': contentType },
      payload,
    });
  const bp = (extra: Record<string, unknown>) =>
    JSON.stringify({ recorded_at: '2026-05-01T10:00:00Z', systolic_mmhg: 120, diastolic_mmhg: 80, ...extra });

  await unchanged(
    t,
    service,
    dir,
    () => service.inject({ url: `${patient.base}/letters/not-a-timestamp-id`, headers: auth(READER_KEY) }),
    400,
    'INVALID_ID',
  );
  await unchanged(
    t,
    service,
    dir,
    () =>
      service.inject({
        url: `${patient.base}/letters/20260101T000000.000Z-00000000-0000-4000-8000-000000000000`,
        headers: auth(READER_KEY),
      }),
    404,
    'NOT_FOUND',
  );
  await unchanged(
    t,
    service,
    dir,
    () => post('/letters', JSON.stringify({ body: 'x', colour: 'blue' })),
    400,
    'INVALID_INPUT',
  );
  await unchanged(
    t,
    service,
    dir,
    () => post('/letters', JSON.stringify({ title: 'Nothing to say' })),
    400,
    'INVALID_INPUT',
  );
  await unchanged(
    t,
    service,
    dir,
    () => post('/letters', JSON.stringify({ body: 'Bad\u0000byte' })),
    400,
    'INVALID_INPUT',
  );
  await unchanged(
    t,
    service,
    dir,
    () => post('/letters', JSON.stringify({ body: 'x', clinical_lists: [{ kind: 'Diagnoses!' }] })),
    400,
    'INVALID_INPUT',
  );
  await unchanged(
    t,
    service,
    dir,
    () => post('/entries/blood_pressure', bp({ pulse: 60 })),
    400,
    'INVALID_INPUT',
  );
  await unchanged(
    t,
    service,
    dir,
    () => post('/entries/blood_pressure', bp({ systolic_mmhg: '120' })),
    400,
    'INVALID_INPUT',
  );
  await unchanged(
    t,
    service,
    dir,
    () => post('/entries/blood_pressure', bp({ diastolic_mmhg: 130 })),
    400,
    'INVALID_INPUT',
  );
  await unchanged(t, service, dir, () => post('/entries/temperature', bp({})), 400, 'INVALID_INPUT');
  const unknownField = await post('/entries/blood_pressure', bp({ cuff: { size: 'adult' } }));
  assert.equal(unknownField.json().details.field, 'cuff');

  // A YAML alias bomb and a deeply nested document are refused without being expanded.
  const bomb = [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    'g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
  ].join('\n');
  await unchanged(
    t,
    service,
    dir,
    () => post('/entries/blood_pressure', bomb, 'application/yaml'),
    400,
    'INVALID_INPUT',
  );
  const deepYaml = `recorded_at: 2026-05-01T10:00:00Z\ncomment: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
  await unchanged(
    t,
    service,
    dir,
    () => post('/entries/blood_pressure', deepYaml, 'application/yaml'),
    400,
    'INVALID_INPUT',
  );
  const deepJson = `{"recorded_at":"2026-05-01T10:00:00Z","comment":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  await unchanged(t, service, dir, () => post('/entries/blood_pressure', deepJson), 400, 'INVALID_INPUT');
  await unchanged(
    t,
    service,
    dir,
    () => post('/entries/blood_pressure', 'systolic_mmhg: [1, 2', 'application/yaml'),
    400,
    'INVALID_INPUT',
  );

  // Writes to a deleted patient are refused; reads still say what the record holds.
  assert.equal(
    (await service.inject({ method: 'DELETE', url: patient.base, headers: auth(WRITER_KEY) })).statusCode,
    204,
  );
  await unchanged(t, service, dir, () => post('/entries/blood_pressure', bp({})), 410, 'RECORD_DELETED');
  await unchanged(
    t,
    service,
    dir,
    () => post('/letters', JSON.stringify({ body: 'x' })),
    410,
    'RECORD_DELETED',
  );
  await assertCleanAndSound(dir);
});
