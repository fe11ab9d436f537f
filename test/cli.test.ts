// The built `vpr` command run as a subprocess: on a local data directory (no server), and
// against a server the test starts; `--json` answers parsed and checked, exit codes, standard
// input, a progress bar only on a terminal (a pseudo-terminal from util-linux `script`), shell
// completion through bash itself, API keys, and the walkthrough of docs/cli.md run as written.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { demographics, person, threadParticipants } from './support/fixtures.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import { startGrpcService } from './support/grpc.js';
import {
  ADMIN_KEY,
  CLINICIAN_KEY,
  PATIENT_KEY,
  READER_KEY,
  WRITER_KEY,
  auth,
  patientBody,
} from './support/service.js';
import { forgeOnTop, signOnTop } from './support/signing.js';
import { tempDir } from './support/temp-dir.js';
import { CLI, json, vpr, type Json } from './support/cli.js';
import { repositoryDir } from '../src/core/record/record-layout.js';
import { parseRecordId } from '../src/core/ids/record-id.js';

const DOCS = fileURLToPath(new URL('../../docs/cli.md', import.meta.url));

/** A test CA at `ca` and Dr Ada's key and certificate at `ada`, made with `vpr cert`; answers what it printed. */
async function makeCertificates(
  ca: string,
  ada: string,
  options: Parameters<typeof vpr>[1] = {},
): Promise<Json> {
  assert.equal(
    (await vpr(['cert', 'ca', 'create', '--name', 'Synthetic Test CA', '--out', ca], options)).code,
    0,
  );
  return json(
    [
      'cert',
      'create',
      '--name',
      'Dr Ada Synthetic',
      '--authority',
      'GMC',
      '--number',
      '7000001',
      '--ca',
      ca,
      '--out',
      ada,
    ],
    options,
  );
}

const local = (dataDir: string, extra: Record<string, string> = {}) => ({
  env: {
    VPR_DATA_DIR: dataDir,
    VPR_AUTHOR_NAME: 'Dr Ada Synthetic',
    VPR_AUTHOR_EMAIL: 'ada@example.invalid',
    VPR_AUTHOR_ROLE: 'Consultant Physician',
    VPR_AUTHOR_REGISTRATIONS: 'GMC 7000001',
    VPR_CARE_LOCATION: 'Synthetic Outpatient Clinic',
    VPR_PROFILE: '/dev/null',
    ...extra,
  },
});

test('local mode: a patient, a letter from standard input, the repositories, the projection, errors', async (t) => {
  const dataDir = await tempDir(t);
  const env = local(dataDir);
  const input = join(dataDir, 'patient.yaml');
  await writeFile(input, stringify(demographics));
  const created = await json(['patient', 'create', '--input', input], env);
  assert.equal(created.family_name, 'Fixture');
  const clinicalId = parseRecordId(created.clinical_id);
  const letter = await json(
    ['letter', 'new', created.patient_id, '--title', 'Clinic letter', '--body-file', '-'],
    {
      ...env,
      input: 'Seen in clinic.\n\nBlood pressure improving.\n',
    },
  );
  assert.equal(letter.composer.name, 'Dr Ada Synthetic');
  assert.equal(letter.body, 'Seen in clinic.\n\nBlood pressure improving.\n');
  const people = await vpr(['letter', 'list', created.patient_id], env);
  assert.match(people.stdout, /Clinic letter .*draft .*Dr Ada Synthetic/);
  await assertCleanAndSound(repositoryDir(dataDir, 'clinical', clinicalId));

  const shown = await vpr(['repo', 'show', 'demographics', created.patient_id, 'patient.yaml'], env);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /resourceType: Patient/);
  const history = await json(['repo', 'history', 'clinical', clinicalId], env);
  assert.deepEqual(
    history.commits.map((c: Json) => c.subject),
    ['clinical:create: Created letter', 'clinical:create: Created clinical record'],
  );
  assert.ok(history.commits[0].trailers.some((tr: Json) => tr.key === 'Author-Registration'));
  const [newer, older] = history.commits.map((c: Json) => c.commit);
  const diff = await json(['repo', 'diff', 'clinical', clinicalId, '.gitignore', older, newer], env);
  assert.equal(diff.diff.includes('@@'), false, 'the letter did not touch .gitignore');
  assert.equal((await vpr(['repo', 'recover', 'clinical', clinicalId], env)).code, 0);
  assert.equal((await vpr(['repo', 'repack', 'clinical', clinicalId], env)).code, 0);
  await assertCleanAndSound(repositoryDir(dataDir, 'clinical', clinicalId));

  // The projection rebuilt from Git, then caught up; quiet when standard error is not a terminal.
  const reindexed = await vpr(['reindex', '--json'], env);
  assert.equal(reindexed.code, 0, reindexed.stderr);
  assert.deepEqual(
    (({ repositories, patients }) => [repositories, patients])(JSON.parse(reindexed.stdout) as Json),
    [3, 1],
  );
  assert.doesNotMatch(reindexed.stderr, /█|░/, 'no progress bar off a terminal');
  const caughtUp = await json(['catch-up'], env);
  assert.deepEqual([caughtUp.checked, caughtUp.projected], [3, 0]);
  const human = await vpr(['reindex', '--threads', '0'], env);
  assert.match(human.stdout, /^reindexed 3 repositories \(1 patients\) in [\d.]+ s: \d+ patients\/s/m);

  // Errors: the code on standard error, the documented exit code, nothing written.
  const missing = await vpr(['repo', 'show', 'clinical', 'ab'.repeat(16), 'x.md'], env);
  assert.deepEqual([missing.code, /^vpr: NOT_FOUND: /m.test(missing.stderr)], [4, true]);
  const badId = await vpr(['repo', 'history', 'clinical', clinicalId.toUpperCase()], env);
  assert.deepEqual([badId.code, /INVALID_ID/.test(badId.stderr)], [3, true]);
  const badBody = await vpr(['patient', 'create', '--input', '-'], { ...env, input: 'given_name: [' });
  assert.equal(badBody.code, 3, badBody.stderr);
  const refused = await vpr(['patient', 'create', '--input', '-'], {
    ...env,
    input: stringify({ ...demographics, date_of_birth: '2999-01-01' }),
  });
  assert.deepEqual([refused.code, /INVALID_INPUT: .*date_of_birth/.test(refused.stderr)], [3, true]);
  assert.equal((await json(['patient', 'list'], env)).patients.length, 1, 'nothing was written');
  const unknown = await vpr(['frobnicate'], env);
  assert.deepEqual([unknown.code, /unknown command/.test(unknown.stderr)], [2, true]);
  const noArgument = await vpr(['patient', 'get'], env);
  assert.equal(noArgument.code, 2);
  for (const threads of ['-1', 'two', '65', '1.5']) {
    const bad = await vpr(['reindex', `--threads=${threads}`], env);
    assert.equal(bad.code, 3, `--threads ${threads}: ${bad.stderr}`);
  }
  const remoteOnly = await vpr(
    ['repo', 'show', 'clinical', clinicalId, 'x', '--server', 'http://127.0.0.1:9'],
    env,
  );
  assert.equal(remoteOnly.code, 2, 'repository commands work on the local data directory only');
});

test('against a server: every record command, --json parsed, exit codes', async (t) => {
  const service = await startGrpcService(t, 'pglite');
  const dir = await tempDir(t);
  const as = (key: string) => ({
    env: { VPR_SERVER: service.restUrl, VPR_API_KEY: key, VPR_PROFILE: '/dev/null' },
  });
  const writer = as(WRITER_KEY);
  const clinician = as(CLINICIAN_KEY);
  const file = async (name: string, value: unknown) => {
    const path = join(dir, name);
    await writeFile(path, typeof value === 'string' ? value : stringify(value));
    return path;
  };

  // Patients.
  const created = await json(['patient', 'create', '--input', await file('p.yaml', demographics)], writer);
  const P = created.patient_id as string;
  assert.equal((await json(['patient', 'get', P], writer)).given_name, 'Testy');
  const updated = await json(
    [
      'patient',
      'update',
      P,
      '--input',
      await file('p2.yaml', { ...demographics, preferred_language: 'en-gb' }),
    ],
    writer,
  );
  assert.equal(updated.preferred_language, 'en-GB');
  assert.notEqual(updated.version, created.version);
  const stale = await vpr(
    ['patient', 'update', P, '--input', join(dir, 'p.yaml'), '--if-match', created.version],
    writer,
  );
  assert.deepEqual([stale.code, /VERSION_CONFLICT/.test(stale.stderr)], [5, true]);
  assert.deepEqual(
    (await json(['patient', 'history', P], writer)).versions.map((v: Json) => v.action),
    ['update', 'create'],
  );
  assert.deepEqual(
    (await json(['patient', 'list', '--family', 'Fix'], writer)).patients.map((p: Json) => p.patient_id),
    [P],
  );
  assert.equal((await vpr(['patient', 'delete', P], writer)).code, 0);
  const gone = await vpr(['patient', 'get', P], writer);
  assert.deepEqual([gone.code, /RECORD_DELETED/.test(gone.stderr)], [4, true]);
  assert.equal((await json(['patient', 'restore', P], writer)).is_deleted, false);
  assert.equal((await vpr(['-q', 'patient', 'get', P], writer)).stdout, `${P}\n`);

  // Letters, with an attachment and from standard input.
  const attachment = await file('results.txt', 'synthetic results\n');
  const draft = await json(
    ['letter', 'new', P, '--title', 'Clinic letter', '--body-file', '-', '--attach', attachment],
    { ...clinician, input: 'Dear colleague,\n' },
  );
  assert.deepEqual([draft.status, draft.attachments.length], ['draft', 1]);
  const L = draft.letter_id as string;
  assert.equal((await json(['letter', 'read', P, L], clinician)).body, 'Dear colleague,\n');
  const edited = await json(['letter', 'edit', P, L, '--body-file', '-'], {
    ...clinician,
    input: 'Dear Dr Placeholder,\n',
  });
  assert.deepEqual([edited.title, edited.body], ['Clinic letter', 'Dear Dr Placeholder,\n']);
  assert.equal((await json(['letter', 'list', P], clinician)).letters.length, 1);
  assert.equal((await json(['letter', 'queue'], clinician)).letters[0].letter_id, L);
  assert.equal((await json(['letter', 'sign-off', P, L], clinician)).status, 'signed');
  assert.equal((await json(['letter', 'queue'], clinician)).letters.length, 0);
  const letterHistory = await json(['letter', 'history', P, L], clinician);
  assert.equal(letterHistory.history.length, 3, 'created, edited, signed off');
  const saved = join(dir, 'downloaded.txt');
  const hash = draft.attachments[0].hash as string;
  const download = await json(['letter', 'attachment', P, L, hash, '--out', saved], clinician);
  assert.equal(download.bytes, 'synthetic results\n'.length);
  assert.equal(await readFile(saved, 'utf8'), 'synthetic results\n');
  const overwrite = await vpr(['letter', 'attachment', P, L, hash, '--out', saved], clinician);
  assert.equal(overwrite.code, 5, 'an existing file is never overwritten');
  assert.equal((await vpr(['letter', 'attachment', P, L, hash], clinician)).stdout, 'synthetic results\n');
  const again = await vpr(['letter', 'sign-off', P, L], clinician);
  assert.equal(again.code, 5, 'signed already: INVALID_STATE');

  // Entries and the patient's own contributions.
  const reading = await json(['entry', 'add', P, 'blood_pressure', '--input', '-'], {
    ...clinician,
    input: stringify({ recorded_at: '2026-11-30T09:00:00Z', systolic_mmhg: 128, diastolic_mmhg: 82 }),
  });
  assert.equal(reading.kind, 'blood_pressure');
  assert.deepEqual(
    (await json(['entry', 'list', P, '--kind', 'blood_pressure'], clinician)).entries.map(
      (e: Json) => e.entry_id,
    ),
    [reading.entry_id],
  );
  assert.equal(
    (await json(['entry', 'get', P, 'blood_pressure', reading.entry_id], clinician)).entry_id,
    reading.entry_id,
  );
  const corrected = await json(
    ['entry', 'supersede', P, 'blood_pressure', reading.entry_id, '--input', '-'],
    {
      ...clinician,
      input: stringify({ recorded_at: '2026-11-30T09:00:00Z', systolic_mmhg: 126, diastolic_mmhg: 82 }),
    },
  );
  assert.equal(corrected.supersedes, reading.entry_id);
  const symptom = await json(['contribution', 'add', P, 'symptom', '--input', '-'], {
    ...as(PATIENT_KEY),
    input: stringify({ symptom: 'Tired in the evenings', severity: 2 }),
  });
  assert.match(symptom.path, /^patient\/symptoms\//);

  const contributions = await json(['contribution', 'list', P], clinician);
  assert.equal(contributions.contributions.length, 1);
  assert.equal((await json(['contribution', 'get', P, 'symptom', symptom.id], clinician)).data.severity, 2);

  // Threads.
  const thread = await json(
    [
      'thread',
      'create',
      P,
      '--input',
      await file('t.yaml', {
        ledger: { participants: threadParticipants },
        message: { body: 'Please review.' },
      }),
    ],
    clinician,
  );
  const T = thread.communication_id as string;
  const added = await json(['thread', 'add-message', P, T, '--body-file', '-'], {
    ...clinician,
    input: 'Reviewed: no change.',
  });
  const M = added.messages[1].message_id as string;
  await json(['thread', 'correct', P, T, M, '--body-file', '-'], {
    ...clinician,
    input: 'Reviewed: dose halved.',
  });
  const whole = await json(['thread', 'read', P, T], clinician);
  assert.deepEqual(
    whole.messages.map((m: Json) => m.corrects ?? null),
    [null, null, M],
  );
  const readable = await vpr(['thread', 'read', P, T], clinician);
  assert.match(readable.stdout, /Dr Ada Synthetic \(clinician\) \(corrects /);
  assert.equal((await json(['thread', 'list', P], clinician)).threads[0].message_count, 3);
  assert.equal(
    (await json(['thread', 'ledger', P, T, '--input', '-'], { ...clinician, input: 'status: closed\n' }))
      .ledger.status,
    'closed',
  );

  // Appointments.
  const day = '2031-03-04';
  const booking = {
    status: 'booked',
    start: `${day}T09:00:00Z`,
    end: `${day}T09:30:00Z`,
    service_type: 'Diabetes review',
    care_location: 'Synthetic Outpatient Clinic',
    participants: [{ actor_id: 'test-clinician', display_name: 'Dr Ada Synthetic', role: 'practitioner' }],
  };
  const appointment = await json(
    ['appointment', 'create', P, '--input', await file('a.yaml', booking)],
    clinician,
  );
  const A = appointment.event_id as string;
  const arrived = await json(
    ['appointment', 'update', P, A, '--input', await file('a2.yaml', { ...booking, status: 'arrived' })],
    clinician,
  );
  assert.equal(arrived.status, 'arrived');
  assert.deepEqual(
    (await json(['appointment', 'list', P], clinician)).events.map((e: Json) => e.event_id),
    [A],
  );
  assert.deepEqual(
    (
      await json(
        ['appointment', 'list', '--location', 'Synthetic Outpatient Clinic', '--date', day],
        clinician,
      )
    ).events.map((e: Json) => e.event_id),
    [A],
  );

  const threadsOfMine = await json(
    ['thread', 'mine', '--participant', 'test-clinician', '--status', 'closed'],
    clinician,
  );
  assert.deepEqual(
    threadsOfMine.threads.map((x: Json) => x.communication_id),
    [T],
  );
  for (const [name, body] of [
    [
      'encounter',
      {
        status: 'in-progress',
        class: 'AMB',
        period: { start: new Date(Date.now() - 600_000).toISOString() },
        care_location: 'Synthetic Outpatient Clinic',
        participants: [
          { actor_id: 'test-clinician', display_name: 'Dr Ada Synthetic', role: 'practitioner' },
        ],
        reason: { text: 'Review' },
      },
    ],
    [
      'referral',
      {
        status: 'active',
        service: { text: 'Retinal screening' },
        reason: { text: 'Diabetes' },
        requester: { actor_id: 'test-clinician', display_name: 'Dr Ada Synthetic' },
        performer: { display_name: 'Synthetic Eye Service' },
      },
    ],
  ] as const) {
    const made = await vpr([name, 'create', P, '--input', '-', '--json'], {
      ...clinician,
      input: stringify(body),
    });
    assert.equal(made.code, 0, `${name} create: ${made.stderr}`);
    const event = JSON.parse(made.stdout) as Json;
    assert.equal((await json([name, 'get', P, event.event_id], clinician)).event_id, event.event_id);
    assert.deepEqual(
      (await json([name, 'list', P], clinician)).events.map((e: Json) => e.event_id),
      [event.event_id],
    );
  }
  const admin = as(ADMIN_KEY);
  assert.equal((await json(['admin', 'read-only', 'on'], admin)).read_only, true);
  const whileOff = await vpr(['letter', 'new', P, '--title', 'x', '--body-file', '-'], {
    ...clinician,
    input: 'x',
  });
  assert.deepEqual([whileOff.code, /READ_ONLY/.test(whileOff.stderr)], [8, true]);
  assert.equal((await json(['admin', 'read-only', 'off'], admin)).read_only, false);
  assert.match((await vpr(['admin', 'read-only'], admin)).stdout, /^writes are on since /);

  // The coordination status, verification, and what a reader may not do.
  assert.equal((await json(['coordination', 'status', P], clinician)).lifecycle_state, 'active');
  const verdict = await json(['verify', 'patient', P], as(READER_KEY));
  assert.equal(verdict.intact, true);
  assert.equal((await json(['verify', 'patients'], as(READER_KEY))).patients, 1);
  const denied = await vpr(['letter', 'new', P, '--title', 'x', '--body-file', '-'], {
    ...as(READER_KEY),
    input: 'x',
  });
  assert.deepEqual([denied.code, /FORBIDDEN/.test(denied.stderr)], [7, true]);
  const unknownKey = await vpr(['patient', 'get', P], as('not-a-key-of-this-server-000'));
  assert.equal(unknownKey.code, 7);
  const noServer = await vpr(['patient', 'get', P, '--server', 'http://127.0.0.1:9'], writer);
  assert.deepEqual([noServer.code, /UNAVAILABLE/.test(noServer.stderr)], [8, true]);
  const suspended = await json(['coordination', 'status', P, '--input', '-'], {
    ...clinician,
    input: 'lifecycle_state: suspended\n',
  });
  assert.equal(suspended.lifecycle_state, 'suspended');
  await assertCleanAndSound(repositoryDir(service.dataDir, 'clinical', created.clinical_id));
  await assertCleanAndSound(repositoryDir(service.dataDir, 'coordination', created.coordination_id));
});

test('vpr cert makes a CA and a clinician certificate; vpr verify reports each commit', async (t) => {
  const dataDir = await tempDir(t);
  const env = local(dataDir);
  const ca = join(dataDir, 'test-ca');
  const ada = join(dataDir, 'ada');
  const made = await makeCertificates(ca, ada, env);
  assert.deepEqual(made, { key: `${ada}.key.pem`, certificate: `${ada}.cert.pem` });
  assert.equal((await stat(`${ada}.key.pem`)).mode & 0o777, 0o600, 'the private key is private');
  const again = await vpr(
    ['cert', 'create', '--name', 'X', '--authority', 'GMC', '--number', '1', '--out', ada],
    env,
  );
  assert.deepEqual(
    [again.code, /ALREADY_EXISTS/.test(again.stderr)],
    [5, true],
    'an existing key is never overwritten',
  );
  const certificate = new X509Certificate(await readFile(`${ada}.cert.pem`));
  assert.match(certificate.subjectAltName ?? '', /URI:vpr:\/\/GMC\/7000001/);

  const input = join(dataDir, 'patient.json');
  await writeFile(input, JSON.stringify(demographics));
  const record = await json(['patient', 'create', '--input', input], env);
  const anchors = local(dataDir, { VPR_TRUST_ANCHORS: `${ca}.cert.pem` });
  const unsigned = await json(['verify', 'clinical', record.clinical_id], anchors);
  assert.deepEqual(
    unsigned.map((c: Json) => c.verdict.status),
    ['unsigned'],
  );

  // A signed commit on top (made with the library and git plumbing), then a forged copy of it.
  const dir = repositoryDir(dataDir, 'clinical', parseRecordId(record.clinical_id));
  const { signed, id: good } = await signOnTop(dir, await readFile(`${ada}.key.pem`, 'utf8'), [
    await readFile(`${ada}.cert.pem`, 'utf8'),
  ]);
  const verified = await vpr(['verify', 'clinical', record.clinical_id], anchors);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(
    verified.stdout,
    new RegExp(`^${good}  signed, valid: .*CN=Dr Ada Synthetic.* vpr://GMC/7000001$`, 'm'),
  );
  const untrusted = await vpr(['verify', 'clinical', record.clinical_id, '--commit', good], env);
  assert.equal(untrusted.code, 1, 'without the CA as a trust anchor the chain is untrusted');
  assert.match(untrusted.stdout, /INVALID \(untrusted-chain\)/);
  const forged = await forgeOnTop(dir, signed, 'Created clinical record', 'Created something else');
  const caught = await vpr(['verify', 'clinical', record.clinical_id], anchors);
  assert.equal(caught.code, 1);
  assert.match(caught.stdout, new RegExp(`^${forged}  INVALID \\(bad-signature\\)`, 'm'));
  const patientVerdict = await vpr(['verify', 'patient', record.patient_id, '--json'], anchors);
  assert.equal(patientVerdict.code, 1, 'a patient with a forged commit is not intact');
  assert.equal((JSON.parse(patientVerdict.stdout) as Json).intact, false);
});

test('signed writes: --signer signs any write in two steps against a server; signed-write takes any route', async (t) => {
  const dir = await tempDir(t);
  const ca = join(dir, 'test-ca');
  const ada = join(dir, 'ada');
  await makeCertificates(ca, ada);
  const service = await startGrpcService(t, 'pglite', {
    VPR_TRUST_ANCHORS: `${ca}.cert.pem`,
    VPR_SIGNING_POLICY: 'clinical',
  });
  const created = await service.inject({
    method: 'POST',
    url: '/api/v1/patients',
    headers: { ...auth(WRITER_KEY), 'content-type': 'application/json' },
    payload: patientBody(),
  });
  const patient = created.json() as Json;
  const remote = {
    env: { VPR_SERVER: service.restUrl, VPR_API_KEY: CLINICIAN_KEY, VPR_PROFILE: '/dev/null' },
  };
  const unsigned = await vpr(['letter', 'new', patient.patient_id, '--title', 'x', '--body-file', '-'], {
    ...remote,
    input: 'x',
  });
  assert.deepEqual([unsigned.code, /SIGNATURE_REQUIRED/.test(unsigned.stderr)], [5, true]);
  const signed = await json(
    ['letter', 'new', patient.patient_id, '--title', 'Signed', '--body-file', '-', '--signer', ada],
    {
      ...remote,
      input: 'Signed from the command line.\n',
    },
  );
  assert.equal(signed.landed, true);
  const clinicalDir = repositoryDir(service.dataDir, 'clinical', parseRecordId(patient.clinical_id));
  assert.equal((await git(clinicalDir, ['rev-parse', 'HEAD'])).trim(), signed.commit);
  await assertCleanAndSound(clinicalDir);
  // signed-write: any route, the body from standard input.
  const generic = await json(
    [
      'signed-write',
      'POST',
      `/api/v1/patients/${patient.patient_id}/letters`,
      '--signer',
      ada,
      '--input',
      '-',
    ],
    { ...remote, input: JSON.stringify({ title: 'Generic', body: 'Through signed-write.\n' }) },
  );
  assert.deepEqual([generic.landed, generic.repository], [true, 'clinical']);
  const verified = await json(
    ['verify', 'clinical', patient.clinical_id],
    local(service.dataDir, { VPR_TRUST_ANCHORS: `${ca}.cert.pem` }),
  );
  assert.equal(verified.filter((c: Json) => c.verdict.status === 'valid').length, 2);
  const noMethod = await vpr(['signed-write', 'GET', '/api/v1/patients', '--signer', ada], remote);
  assert.equal(noMethod.code, 2);
});

test('API keys: created once, listed without secrets, accepted by a server, revoked', async (t) => {
  const dir = await tempDir(t);
  const keysFile = join(dir, 'keys.yaml');
  const env = { env: { VPR_KEYS_FILE: keysFile, VPR_PROFILE: '/dev/null' } };
  const made = await json(
    [
      'keys',
      'create',
      'reception-1',
      '--scopes',
      'patient:read,patient:write',
      '--name',
      'Reception Desk',
      '--email',
      'reception@example.invalid',
    ],
    env,
  );
  assert.match(made.key, /^vpr_/);
  assert.equal((await stat(keysFile)).mode & 0o777, 0o600);
  assert.doesNotMatch(await readFile(keysFile, 'utf8'), new RegExp(made.key), 'only the hash is stored');
  const duplicate = await vpr(['keys', 'create', 'reception-1', '--scopes', 'patient:read'], env);
  assert.equal(duplicate.code, 5);
  const badScope = await vpr(['keys', 'create', 'other', '--scopes', 'everything'], env);
  assert.equal(badScope.code, 3, badScope.stderr);
  await json(['keys', 'create', 'auditor', '--scopes', 'patient:read'], env);
  assert.deepEqual(
    (await json(['keys', 'list'], env)).map((k: Json) => [k.id, k.scopes]),
    [
      ['reception-1', ['patient:read', 'patient:write']],
      ['auditor', ['patient:read']],
    ],
  );
  const service = await startGrpcService(t, 'pglite', { VPR_KEYS_FILE: keysFile });
  const remote = { env: { VPR_SERVER: service.restUrl, VPR_API_KEY: made.key, VPR_PROFILE: '/dev/null' } };
  const created = await json(['patient', 'create', '--input', '-'], {
    ...remote,
    input: stringify(person('Keyholder', 'Sam')),
  });
  const log = await git(repositoryDir(service.dataDir, 'demographics', created.patient_id), [
    'log',
    '-1',
    '--format=%an %ae',
  ]);
  assert.equal(log.trim(), 'Reception Desk reception@example.invalid');
  assert.equal((await json(['keys', 'revoke', 'reception-1'], env)).revoked, true);
  assert.deepEqual(
    (await json(['keys', 'list'], env)).map((k: Json) => k.id),
    ['auditor'],
  );
  assert.equal((await vpr(['keys', 'revoke', 'reception-1'], env)).code, 4);

  const checked = await json(['config', 'check'], {
    env: { VPR_DATA_DIR: dir, VPR_KEYS_FILE: keysFile, VPR_SIGNING_POLICY: 'clinical' },
  });
  assert.deepEqual([checked.ok, checked.signing_policy, checked.keys], [true, 'clinical', keysFile]);
  const bad = await vpr(['config', 'check'], { env: { VPR_DATA_DIR: dir, VPR_VERIFY_ON_READ: 'sometimes' } });
  assert.deepEqual([bad.code, /VPR_VERIFY_ON_READ/.test(bad.stderr)], [3, true]);
});

/** Runs a command in a pseudo-terminal (util-linux `script`), answering what the terminal showed. */
function inTerminal(command: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`exit ${code}: ${output}`)),
    );
  });
}

test('long work shows a progress bar with rate and ETA on a terminal, and nothing otherwise', async (t) => {
  const dataDir = await tempDir(t);
  const env = local(dataDir).env;
  for (const [family, given] of [
    ['Alpha', 'Ann'],
    ['Beta', 'Ben'],
  ] as const) {
    await json(['patient', 'create', '--input', '-'], { env, input: stringify(person(family, given)) });
  }
  const reindex = await inTerminal(`${CLI} reindex`, env);
  assert.match(reindex, /█/, 'the bar is drawn');
  assert.match(reindex, /6\/6 repositories \| 100% \| \d+\/s \| ETA/);
  assert.match(reindex, /reindexed 6 repositories \(2 patients\)/);
  const verify = await inTerminal(`${CLI} verify patients`, env);
  assert.match(verify, /2\/2 patients \| 100%/);
  assert.match(verify, /2 patients verified: 2 intact/);
  const plain = await vpr(['verify', 'patients'], { env });
  assert.doesNotMatch(plain.stderr + plain.stdout, /█|░|ETA/);
  assert.match(plain.stdout, /2 patients verified: 2 intact/);
});

test('shell completion: bash completes commands and options from the command tree', async (t) => {
  const bin = await tempDir(t);
  await symlink(CLI, join(bin, 'vpr'));
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
  const complete = (words: string) =>
    new Promise<string>((resolve, reject) => {
      const script = `source <(vpr completion bash); COMP_WORDS=(vpr ${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _vpr; printf '%s\\n' "\${COMPREPLY[@]}"`;
      execFile('bash', ['-c', script], { env }, (error, stdout, stderr) =>
        error ? reject(new Error(stderr)) : resolve(stdout),
      );
    });
  assert.deepEqual((await complete('pat')).trim().split('\n'), ['patient']);
  assert.deepEqual((await complete('patient c')).trim().split('\n'), ['create']);
  assert.match(await complete('letter new P --ti'), /^--title$/m);
  assert.match(await complete("''"), /^letter$/m);
  const zsh = await vpr(['completion', 'zsh']);
  assert.match(zsh.stdout, /^#compdef vpr/);
  assert.match(zsh.stdout, /vpr __complete/);
  assert.equal((await vpr(['completion', 'fish'])).code, 2);
});

test('the walkthrough of docs/cli.md runs as written', async (t) => {
  const docs = await readFile(DOCS, 'utf8');
  const walkthrough = docs.slice(docs.indexOf('## Walkthrough'));
  const block = /```sh\n([\s\S]*?)```/.exec(walkthrough)?.[1];
  assert.ok(block !== undefined, 'docs/cli.md has a walkthrough block');
  const cwd = await tempDir(t);
  const bin = join(cwd, 'bin');
  await mkdir(bin);
  await symlink(CLI, join(bin, 'vpr'));
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      'bash',
      ['-euo', 'pipefail', '-c', block],
      {
        cwd,
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH ?? ''}`,
          VPR_PROFILE: '/dev/null',
          NO_COLOR: '1',
        },
      },
      (error, stdout, stderr) => (error ? reject(new Error(`${stderr}\n${stdout}`)) : resolve(stdout)),
    );
  });
  assert.match(output, /status +signed/);
  assert.match(output, /signed commit [0-9a-f]{40} landed in the clinical repository/);
  assert.match(output, /intact: no commit failed verification/);
  const last = JSON.parse(output.slice(output.lastIndexOf('{\n  "patients"'))) as Json;
  assert.deepEqual([last.patients, last.intact], [1, 1]);
});

test('who acts: a profile file, the environment over it, flags over both; colour only on a terminal', async (t) => {
  const dataDir = await tempDir(t);
  const profile = join(dataDir, 'profile.yaml');
  await writeFile(
    profile,
    stringify({
      author: {
        name: 'Dr Profile Synthetic',
        email: 'profile@example.invalid',
        role: 'General Practitioner',
        registrations: [{ authority: 'GMC', number: '7000003' }],
      },
      care_location: 'Synthetic Health Centre',
    }),
  );
  const env = { VPR_DATA_DIR: dataDir, VPR_PROFILE: profile };
  const created = await json(['patient', 'create', '--input', '-'], {
    env,
    input: stringify(person('Profiled', 'Pat')),
  });
  const dir = repositoryDir(dataDir, 'clinical', created.clinical_id);
  const letter = (args: string[], extra: Record<string, string> = {}) =>
    json(['letter', 'new', created.patient_id, '--title', 'Note', '--body-file', '-', ...args], {
      env: { ...env, ...extra },
      input: 'Synthetic note.\n',
    });
  const lastCommit = async () => ({
    author: (await git(dir, ['log', '-1', '--format=%an <%ae>'])).trim(),
    body: await git(dir, ['log', '-1', '--format=%B']),
  });

  await letter([]);
  let last = await lastCommit();
  assert.equal(last.author, 'Dr Profile Synthetic <profile@example.invalid>');
  assert.match(last.body, /^Author-Registration: GMC 7000003$/m);
  assert.match(last.body, /^Care-Location: Synthetic Health Centre$/m);
  await letter([], { VPR_AUTHOR_NAME: 'Dr Environment Synthetic' });
  last = await lastCommit();
  assert.equal(last.author, 'Dr Environment Synthetic <profile@example.invalid>');
  await letter(
    [
      '--author-name',
      'Dr Flag Synthetic',
      '--registration',
      'NMC 12A3456X',
      '--care-location',
      'Synthetic Ward 3',
    ],
    {
      VPR_AUTHOR_NAME: 'Dr Environment Synthetic',
    },
  );
  last = await lastCommit();
  assert.equal(last.author, 'Dr Flag Synthetic <profile@example.invalid>');
  assert.match(last.body, /^Author-Registration: NMC 12A3456X$/m);
  assert.match(last.body, /^Care-Location: Synthetic Ward 3$/m);
  const badProfile = join(dataDir, 'bad.yaml');
  await writeFile(badProfile, 'colour: blue\n');
  const refused = await vpr(['patient', 'list'], { env: { ...env, VPR_PROFILE: badProfile } });
  assert.deepEqual([refused.code, /profile\.colour/.test(refused.stderr)], [3, true]);

  // Colour: on a terminal, bold table headings; in a pipe, plain text.
  const coloured = await inTerminal(`${CLI} patient list`, {
    VPR_DATA_DIR: dataDir,
    VPR_PROFILE: profile,
    NO_COLOR: '',
  });
  const plain = await vpr(['patient', 'list'], { env: { ...env, NO_COLOR: '' } });
  const ESC = String.fromCharCode(27);
  assert.ok(coloured.includes(`${ESC}[1mpatient`), 'bold headings on a terminal');
  assert.match(plain.stdout, /patient/);
  assert.ok(!plain.stdout.includes(ESC), 'no escape codes in a pipe');
});

test('vpr serve runs the server; SIGHUP reloads its keys (a revoked key is refused); SIGTERM stops it', async (t) => {
  const dataDir = await tempDir(t);
  const keysFile = join(dataDir, 'keys.yaml');
  const keysEnv = { env: { VPR_KEYS_FILE: keysFile, VPR_PROFILE: '/dev/null' } };
  const made = await json(['keys', 'create', 'desk', '--scopes', 'patient:read,patient:write'], keysEnv);
  await json(['keys', 'create', 'spare', '--scopes', 'patient:read'], keysEnv);
  const child = spawn(CLI, ['serve'], {
    env: {
      ...process.env,
      VPR_DATA_DIR: dataDir,
      VPR_KEYS_FILE: keysFile,
      VPR_HTTP_PORT: '0',
      VPR_GRPC_PORT: '0',
      VPR_LOG_LEVEL: 'silent',
    },
  });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const found = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (found !== null) resolve(found[1]!);
    });
    child.on('exit', (code) => reject(new Error(`vpr serve exited with ${code}: ${output}`)));
  });
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const remote = { env: { VPR_SERVER: url, VPR_API_KEY: made.key, VPR_PROFILE: '/dev/null' } };
  assert.deepEqual((await json(['patient', 'list'], remote)).patients, []);
  await json(['keys', 'revoke', 'desk'], keysEnv);
  assert.equal(
    (await vpr(['patient', 'list'], remote)).code,
    0,
    'a revoked key counts until the keys are reloaded',
  );
  child.kill('SIGHUP');
  let refused = -1;
  for (let i = 0; i < 50 && refused !== 7; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    refused = (await vpr(['patient', 'list'], remote)).code;
  }
  assert.equal(refused, 7, 'after SIGHUP the revoked key is refused');
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0);
});
