// The gRPC door through a real @grpc/grpc-js client over a socket, on PGlite and on the
// machine's PostgreSQL + Redis: every RPC of vpr.v1.VPR (the test fails if one is added and not
// called here), API keys from metadata, each gRPC status the error table produces with its
// google.rpc details, malformed messages, attachments streamed both ways that are larger than
// the message size limit, grpc.health.v1, reflection only when configured, and a gRPC-only
// process. Repositories are checked with the stock git CLI.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ERROR_CODES, VprError, type ErrorCode } from '../src/core/errors.js';
import { repositoryDir } from '../src/core/record/record-layout.js';
import { ERROR_STATUSES } from '../src/transport/error-statuses.js';
import { decodeStatusDetails, toServiceError } from '../src/transport/grpc/grpc-errors.js';
import { SERVICE_NAME, loadVprProto } from '../src/transport/grpc/grpc-server.js';
import { toStruct } from '../src/transport/grpc/struct.js';
import { appointmentOn, threadParticipants as PARTICIPANTS } from './support/fixtures.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import { failsWith, startGrpcService } from './support/grpc.js';
import { testPki } from './support/signing.js';
import {
  ADMIN_KEY,
  CLINIC,
  CLINICIAN_EMAIL,
  CLINICIAN_KEY,
  PATIENT_KEY,
  READER_KEY,
  WRITER_KEY,
  patientBody,
  serviceBackends,
  type Json,
} from './support/service.js';

const withServices = await serviceBackends();

/** An answer as tests read it: any shape, checked by the assertions. */
/** A decoded google.protobuf.Value member of a Struct's field. */
const field = (s: Json, name: string) => {
  const v = s.fields?.[name] as Json | undefined;
  return v?.numberValue ?? v?.stringValue ?? v?.boolValue;
};

for (const backend of withServices) {
  test(`every RPC of vpr.v1.VPR over a socket (${backend})`, async (t) => {
    const { ada: signer, anchorsFile: anchors } = await testPki(t);
    const service = await startGrpcService(t, backend, {
      VPR_UPLOAD_LIMIT: String(8 * 1024 * 1024),
      VPR_TRUST_ANCHORS: anchors,
    });
    const writer = service.client(WRITER_KEY);
    const clinician = service.client(CLINICIAN_KEY);
    const reader = service.client(READER_KEY);
    const admin = service.client(ADMIN_KEY);
    const patientApp = service.client(PATIENT_KEY);
    const called = new Set<string>();
    const rpc = async (client: typeof writer, name: string, request: object): Promise<Json> => {
      called.add(name);
      return (await client.call<Json>(name, request)).response;
    };

    // The service.
    assert.deepEqual(await rpc(service.client(), 'Health', {}), { status: 'ok', version: '0.1.0' });
    assert.equal((await rpc(admin, 'GetReadOnly', {})).read_only ?? false, false);
    assert.equal((await rpc(admin, 'SetReadOnly', { read_only: true })).read_only, true);
    await failsWith(writer.call('CreatePatient', { patient: patientBody() }), 'UNAVAILABLE', 'READ_ONLY');
    assert.equal((await rpc(admin, 'SetReadOnly', { read_only: false })).read_only ?? false, false);

    // Patients.
    const created = await rpc(writer, 'CreatePatient', {
      patient: patientBody({ email: 'grpc.fixture@example.invalid' }),
      idempotency_key: 'grpc-create-1',
    });
    const patient = created.patient as Json;
    assert.match(patient.patient_id, /^[0-9a-f]{32}$/);
    assert.equal(patient.family_name, 'Fixture');
    assert.equal(created.replayed ?? false, false);
    const replay = await rpc(writer, 'CreatePatient', {
      patient: patientBody({ email: 'grpc.fixture@example.invalid' }),
      idempotency_key: 'grpc-create-1',
    });
    assert.equal(replay.replayed, true);
    assert.equal(replay.patient.patient_id, patient.patient_id, 'the same key answers as the first time');
    const full = await rpc(writer, 'InitialiseFullRecord', { patient: patientBody({ given_name: 'Other' }) });
    assert.match(full.patient.clinical_id, /^[0-9a-f]{32}$/);
    assert.match(full.patient.coordination_id, /^[0-9a-f]{32}$/);
    const P = patient.patient_id as string;
    assert.equal((await rpc(reader, 'GetPatient', { patient_id: P })).version, patient.version);
    const updated = await rpc(writer, 'UpdatePatient', {
      patient_id: P,
      expected_version: patient.version,
      patient: patientBody({ email: 'grpc.fixture@example.invalid', preferred_language: 'en-gb' }),
    });
    assert.equal(updated.preferred_language, 'en-GB');
    assert.notEqual(updated.version, patient.version);
    const listed = await rpc(reader, 'ListPatients', { family_name: 'fix', limit: 1 });
    assert.equal(listed.patients.length, 1);
    assert.ok(typeof listed.next_cursor === 'string', 'two patients match, one per page');
    const second = await rpc(reader, 'ListPatients', {
      family_name: 'fix',
      limit: 1,
      cursor: listed.next_cursor,
    });
    assert.notEqual(second.patients[0].patient_id, listed.patients[0].patient_id);
    const history = await rpc(reader, 'PatientHistory', { patient_id: P, diff: true });
    assert.deepEqual(
      history.versions.map((v: Json) => v.action),
      ['update', 'create'],
    );
    assert.match(history.versions[0].diff, /preferred_language|language/);
    const signatures = await rpc(reader, 'VerifyPatientSignatures', { patient_id: P });
    assert.equal(signatures.intact, true);
    assert.equal(signatures.repositories[0].unsigned, 2, 'created and updated, neither signed');
    assert.deepEqual(await rpc(writer, 'DeletePatient', { patient_id: P }), {});
    await failsWith(reader.call('GetPatient', { patient_id: P }), 'NOT_FOUND', 'RECORD_DELETED');
    assert.equal((await rpc(writer, 'RestorePatient', { patient_id: P })).is_deleted ?? false, false);

    // Letters.
    const draft = await rpc(clinician, 'CreateLetter', {
      patient_id: P,
      letter: {
        title: 'Clinic letter',
        body: 'Dear colleague,\n\nSeen in clinic today.\n',
        clinical_lists: [{ kind: 'medications', items: [{ text: 'Synthetic tablets 5 mg daily' }] }],
      },
    });
    assert.equal(draft.status, 'draft');
    assert.equal(draft.composer.name, 'Dr Ada Synthetic');
    const big = Buffer.alloc(5 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    called.add('UploadLetter');
    const scanned = await clinician.uploadLetter<Json>(
      { patient_id: P, letter: { title: 'Scanned results', body: 'See the attached.\n' } },
      [
        { filename: 'results.bin', bytes: big },
        { filename: 'note.txt', bytes: Buffer.from('plain synthetic notes\n') },
      ],
    );
    const hash = createHash('sha256').update(big).digest('hex');
    assert.equal(scanned.attachments.length, 2);
    assert.equal(scanned.attachments[0].hash, hash);
    assert.equal(scanned.attachments[0].size_bytes, big.length, 'larger than the 4 MiB message limit');
    assert.equal(scanned.attachments[1].media_type, 'text/plain');
    called.add('DownloadAttachment');
    const download = await reader.downloadAttachment({ patient_id: P, letter_id: scanned.letter_id, hash });
    assert.ok(download.bytes.equals(big), 'the bytes come back exactly');
    assert.ok(download.messages > 2, 'streamed in many messages');
    assert.equal(download.file.original_filename, 'results.bin');
    const read = await rpc(reader, 'GetLetter', { patient_id: P, letter_id: draft.letter_id });
    assert.equal(read.body, 'Dear colleague,\n\nSeen in clinic today.\n');
    assert.equal(read.clinical_lists[0].items[0].text, 'Synthetic tablets 5 mg daily');
    const edited = await rpc(clinician, 'UpdateLetter', {
      patient_id: P,
      letter_id: draft.letter_id,
      expected_version: read.version,
      letter: { body: 'Dear colleague,\n\nSeen in clinic today; better.\n' },
    });
    assert.notEqual(edited.commit, read.commit);
    const atFirst = await rpc(reader, 'GetLetter', {
      patient_id: P,
      letter_id: draft.letter_id,
      version: read.commit,
    });
    assert.equal(atFirst.body, read.body, 'read as it was at a commit');
    const queue = await rpc(reader, 'SignOffQueue', { author: CLINICIAN_EMAIL });
    assert.ok(queue.letters.some((l: Json) => l.letter_id === draft.letter_id));
    const signed = await rpc(clinician, 'SignOffLetter', { patient_id: P, letter_id: draft.letter_id });
    assert.equal(signed.status, 'signed');
    assert.equal(signed.signed_off.registrations[0], 'GMC 7000001');
    const letters = await rpc(reader, 'ListLetters', { patient_id: P });
    assert.deepEqual(
      letters.letters.map((l: Json) => l.letter_id),
      [scanned.letter_id, draft.letter_id],
      'newest first',
    );
    const letterHistory = await rpc(reader, 'LetterHistory', {
      patient_id: P,
      letter_id: draft.letter_id,
      diff: true,
    });
    assert.deepEqual(
      letterHistory.history.map((h: Json) => h.action),
      ['update', 'update', 'create'],
    );

    // Structured entries.
    const reading = await rpc(clinician, 'AddEntry', {
      patient_id: P,
      kind: 'blood_pressure',
      data: toStruct({ recorded_at: '2026-11-30T09:00:00Z', systolic_mmhg: 128, diastolic_mmhg: 82 }),
    });
    assert.equal(field(reading.data, 'systolic_mmhg'), 128);
    const entry = await rpc(reader, 'GetEntry', {
      patient_id: P,
      kind: 'blood_pressure',
      entry_id: reading.entry_id,
    });
    assert.equal(entry.version, reading.version);
    const corrected = await rpc(clinician, 'UpdateEntry', {
      patient_id: P,
      kind: 'blood_pressure',
      entry_id: reading.entry_id,
      expected_version: reading.version,
      data: toStruct({ recorded_at: '2026-11-30T09:00:00Z', systolic_mmhg: 126, diastolic_mmhg: 82 }),
    });
    assert.equal(field(corrected.data, 'systolic_mmhg'), 126);
    const newer = await rpc(clinician, 'SupersedeEntry', {
      patient_id: P,
      kind: 'blood_pressure',
      entry_id: reading.entry_id,
      data: toStruct({ recorded_at: '2026-11-30T10:00:00Z', systolic_mmhg: 120, diastolic_mmhg: 80 }),
    });
    assert.equal(newer.supersedes, reading.entry_id);
    const current = await rpc(reader, 'ListEntries', {
      patient_id: P,
      kind: 'blood_pressure',
      current: true,
    });
    assert.deepEqual(
      current.entries.map((e: Json) => e.entry_id),
      [newer.entry_id],
    );
    assert.equal(field(current.entries[0].data, 'systolic_mmhg'), 120);

    // The patient's own contributions.
    const symptom = await rpc(patientApp, 'AddContribution', {
      patient_id: P,
      kind: 'symptom',
      data: toStruct({ symptom: 'Breathlessness on stairs', severity: 4 }),
    });
    assert.match(symptom.path, /^patient\/symptoms\//);
    const comment = await rpc(patientApp, 'AddContribution', {
      patient_id: P,
      kind: 'comment',
      data: toStruct({ letter_id: draft.letter_id, text: 'I take the tablets in the evening.\n' }),
    });
    assert.equal(comment.about_letter, draft.letter_id);
    const readBack = await rpc(reader, 'GetContribution', {
      patient_id: P,
      kind: 'symptom',
      contribution_id: symptom.id,
    });
    assert.equal(field(readBack.data.structValue, 'severity'), 4);
    const contributions = await rpc(reader, 'ListContributions', { patient_id: P });
    assert.equal(contributions.contributions.length, 2);

    // Care coordination.
    const coordination = await rpc(reader, 'GetCoordinationStatus', { patient_id: P });
    assert.equal(coordination.lifecycle_state, 'active');
    const suspended = await rpc(clinician, 'UpdateCoordinationStatus', {
      patient_id: P,
      change: { lifecycle_state: 'suspended' },
    });
    assert.equal(suspended.lifecycle_state, 'suspended');
    await failsWith(
      clinician.call('CreateThread', { patient_id: P, thread: { ledger: { participants: PARTICIPANTS } } }),
      'FAILED_PRECONDITION',
      'INVALID_STATE',
    );
    await rpc(clinician, 'UpdateCoordinationStatus', {
      patient_id: P,
      expected_version: suspended.version,
      change: { lifecycle_state: 'active' },
    });
    const thread = await rpc(clinician, 'CreateThread', {
      patient_id: P,
      thread: { ledger: { participants: PARTICIPANTS }, message: { body: 'Results are back.\n' } },
    });
    assert.equal(thread.messages.length, 1);
    const C = thread.communication_id as string;
    const replied = await rpc(patientApp, 'AddMessage', {
      patient_id: P,
      communication_id: C,
      message: { body: '**Thank you**\n---\nline' },
    });
    assert.equal(replied.messages[1].body, '**Thank you**\n---\nline', 'any text round-trips');
    const correction = await rpc(clinician, 'CorrectMessage', {
      patient_id: P,
      communication_id: C,
      corrects: thread.messages[0].message_id,
      body: 'Results are back; all normal.\n',
    });
    assert.equal(correction.messages[2].corrects, thread.messages[0].message_id);
    assert.equal(correction.messages[0].body, 'Results are back.\n', 'the original stays as it was');
    const ledger = await rpc(clinician, 'UpdateLedger', {
      patient_id: P,
      communication_id: C,
      change: { visibility: { sensitivity: 'confidential' } },
    });
    assert.equal(ledger.ledger.visibility.sensitivity, 'confidential');
    const whole = await rpc(reader, 'GetThread', { patient_id: P, communication_id: C });
    assert.equal(whole.messages.length, 3);
    const threads = await rpc(reader, 'ListThreads', { patient_id: P });
    assert.equal(threads.threads[0].message_count, 3);
    const mine = await rpc(reader, 'ParticipantThreads', { participant_id: 'test-clinician' });
    assert.deepEqual(
      mine.threads.map((x: Json) => x.communication_id),
      [C],
    );

    // Appointments, encounters and referrals.
    const day = new Date(Date.now() + 3 * 24 * 3600_000).toISOString().slice(0, 10);
    const appointment = await rpc(clinician, 'AddCareEvent', {
      patient_id: P,
      collection: 'appointments',
      event: toStruct(appointmentOn(day, CLINIC)),
    });
    assert.equal(appointment.status, 'booked');
    assert.equal(field(appointment.data, 'service_type'), 'Diabetes review');
    const got = await rpc(reader, 'GetCareEvent', {
      patient_id: P,
      collection: 'appointments',
      event_id: appointment.event_id,
    });
    assert.equal(got.version, appointment.version);
    const arrived = await rpc(clinician, 'UpdateCareEvent', {
      patient_id: P,
      collection: 'appointments',
      event_id: appointment.event_id,
      expected_version: appointment.version,
      event: toStruct(appointmentOn(day, CLINIC, 'arrived')),
    });
    assert.equal(arrived.status, 'arrived');
    const upcoming = await rpc(reader, 'ListCareEvents', {
      patient_id: P,
      collection: 'appointments',
      upcoming: true,
    });
    assert.deepEqual(
      upcoming.events.map((e: Json) => e.event_id),
      [appointment.event_id],
    );
    const ofDay = await rpc(reader, 'AppointmentsOfDay', { care_location: CLINIC, date: day });
    assert.deepEqual(
      ofDay.events.map((e: Json) => e.event_id),
      [appointment.event_id],
    );

    // Two-step signing: a letter prepared, signed here with a certified key, submitted.
    called.add('PrepareSignedCall');
    called.add('SubmitCommitSignature');
    const signedLetter = await clinician.callSigned(
      'CreateLetter',
      { patient_id: P, letter: { title: 'Signed letter', body: 'Signed in two steps.\n' } },
      { keyPem: signer.privateKeyPem, certificatePems: [signer.certificatePem] },
    );
    assert.equal(signedLetter.landed, true);
    const verified = await rpc(reader, 'VerifyPatientSignatures', { patient_id: P });
    assert.equal(verified.repositories[1].valid, 1);

    const definition = loadVprProto()[SERVICE_NAME] as grpc.ServiceDefinition;
    assert.deepEqual([...called].sort(), Object.keys(definition).sort(), 'every RPC is called above');
    for (const [kind, id] of [
      ['demographics', P],
      ['clinical', patient.clinical_id],
      ['coordination', patient.coordination_id],
    ] as const) {
      await assertCleanAndSound(repositoryDir(service.dataDir, kind, id as never));
    }
    const logs = service.logs();
    assert.match(logs, /"rpc":"vpr\.v1\.VPR\/CreatePatient","code":"OK"/);
    for (const secret of [
      'Fixture',
      'Testy',
      'grpc.fixture',
      'Breathlessness',
      'Results are back',
      WRITER_KEY,
    ]) {
      assert.ok(!logs.includes(secret), `the logs never hold ${secret}`);
    }
  });
}

test('API keys from metadata: none, unknown, Bearer, a key without the scope', async (t) => {
  const service = await startGrpcService(t);
  const anonymous = service.client();
  const unauthenticated = await failsWith(
    anonymous.call('ListPatients', {}),
    'UNAUTHENTICATED',
    'UNAUTHENTICATED',
  );
  assert.match(unauthenticated.details, /x-api-key/);
  await failsWith(service.client('not-a-key-of-this-service').call('ListPatients', {}), 'UNAUTHENTICATED');
  const bearer = anonymous.metadata(null);
  bearer.set('authorization', `Bearer ${READER_KEY}`);
  const listed = await anonymous.call('ListPatients', {}, { metadata: bearer });
  assert.ok(listed.trailers.get('x-request-id')[0], 'every answer names its request id');
  const denied = await failsWith(
    service.client(READER_KEY).call('CreatePatient', { patient: patientBody() }),
    'PERMISSION_DENIED',
    'FORBIDDEN',
  );
  assert.equal(denied.metadata.scope, 'patient:write');
  await failsWith(
    service.client(WRITER_KEY).call('SetReadOnly', { read_only: true }),
    'PERMISSION_DENIED',
    'FORBIDDEN',
  );
  assert.equal((await anonymous.call('Health', {})).response.status, 'ok', 'Health is open');
});

test('each error maps to its gRPC status, with field paths and the VPR code in the details', async (t) => {
  const service = await startGrpcService(t, 'pglite', { VPR_UPLOAD_LIMIT: '4096' });
  const writer = service.client(WRITER_KEY);
  const invalid = await failsWith(
    writer.call('CreatePatient', { patient: patientBody({ date_of_birth: '2999-01-01' }) }),
    'INVALID_ARGUMENT',
    'INVALID_INPUT',
  );
  assert.deepEqual(
    invalid.fieldViolations.map((v) => v.field),
    ['date_of_birth'],
  );
  const missing = await failsWith(writer.call('CreatePatient', {}), 'INVALID_ARGUMENT', 'INVALID_INPUT');
  assert.equal(missing.fieldViolations[0]?.field, 'patient');
  const limit = await failsWith(
    writer.call('ListPatients', { limit: 500 }),
    'INVALID_ARGUMENT',
    'INVALID_INPUT',
  );
  assert.equal(limit.fieldViolations[0]?.field, 'limit', 'the REST query schema checks gRPC fields too');
  await failsWith(
    writer.call('ListEntries', { patient_id: '0'.repeat(32), kind: 'mood' }),
    'INVALID_ARGUMENT',
    'INVALID_INPUT',
  );
  await failsWith(writer.call('GetPatient', { patient_id: 'NOT-AN-ID' }), 'INVALID_ARGUMENT', 'INVALID_ID');
  await failsWith(writer.call('GetPatient', { patient_id: 'f'.repeat(32) }), 'NOT_FOUND', 'NOT_FOUND');

  const created = (
    await writer.call<Json>('CreatePatient', { patient: patientBody({ email: 'one@example.invalid' }) })
  ).response.patient;
  const taken = await failsWith(
    writer.call('CreatePatient', { patient: patientBody({ email: 'one@example.invalid' }) }),
    'ALREADY_EXISTS',
    'ALREADY_EXISTS',
  );
  assert.equal(taken.fieldViolations[0]?.field, 'email');
  await failsWith(
    writer.call('UpdatePatient', { patient_id: created.patient_id, patient: patientBody() }),
    'FAILED_PRECONDITION',
    'PRECONDITION_REQUIRED',
  );
  await failsWith(
    writer.call('UpdatePatient', {
      patient_id: created.patient_id,
      expected_version: 'a'.repeat(40),
      patient: patientBody(),
    }),
    'FAILED_PRECONDITION',
    'VERSION_CONFLICT',
  );
  // A writer holding the branch lock, as a stock git command would: a concurrency failure to retry.
  const dir = repositoryDir(service.dataDir, 'demographics', created.patient_id);
  const head = await git(dir, ['rev-parse', 'HEAD']);
  await writeFile(join(dir, '.git', 'refs', 'heads', 'main.lock'), 'held by a test\n');
  await failsWith(
    writer.call('UpdatePatient', {
      patient_id: created.patient_id,
      expected_version: created.version,
      patient: patientBody({ given_name: 'Changed' }),
    }),
    'ABORTED',
    'REPOSITORY_BUSY',
  );
  assert.equal(await git(dir, ['rev-parse', 'HEAD']), head, 'nothing was written');

  const tooBig = await failsWith(
    service
      .client(CLINICIAN_KEY)
      .uploadLetter({ patient_id: created.patient_id, letter: { title: 'Scan' } }, [
        { filename: 'scan.bin', bytes: Buffer.alloc(5000, 1) },
      ]),
    'RESOURCE_EXHAUSTED',
    'PAYLOAD_TOO_LARGE',
  );
  assert.match(tooBig.details, /larger than/);
  await failsWith(
    writer.call('CreateLetter', {
      patient_id: created.patient_id,
      letter: { body: 'x'.repeat(2 * 1024 * 1024) },
    }),
    'RESOURCE_EXHAUSTED',
  );
  const clinicalDir = repositoryDir(service.dataDir, 'clinical', created.clinical_id);
  assert.deepEqual(
    (await readdir(clinicalDir)).filter((name) => name === 'correspondence'),
    [],
    'no letter was written',
  );

  // Every code of the one list leaves with its table's gRPC status and itself as the reason.
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const answer = toServiceError(new VprError(code, 'synthetic', { details: { field: 'x' } }));
    assert.equal(answer.code, grpc.status[ERROR_STATUSES[code].grpc], code);
    const decoded = decodeStatusDetails(answer.metadata!);
    assert.equal(decoded?.reason, code);
    assert.equal(decoded?.fieldViolations[0]?.field, 'x');
  }
});

test('a tampered attachment is DATA_LOSS over gRPC, never served', async (t) => {
  const service = await startGrpcService(t);
  const writer = service.client(WRITER_KEY);
  const patient = (await writer.call<Json>('CreatePatient', { patient: patientBody() })).response.patient;
  const bytes = Buffer.from('synthetic attachment\n'.repeat(100));
  const letter = await service
    .client(CLINICIAN_KEY)
    .uploadLetter<Json>({ patient_id: patient.patient_id, letter: { title: 'Scan' } }, [
      { filename: 'scan.txt', bytes },
    ]);
  const reference = letter.attachments[0] as Json;
  const dir = repositoryDir(service.dataDir, 'clinical', patient.clinical_id);
  await writeFile(join(dir, reference.relative_path), Buffer.from('rewritten behind our back\n'.repeat(80)));
  await failsWith(
    service.client(READER_KEY).downloadAttachment({
      patient_id: patient.patient_id,
      letter_id: letter.letter_id,
      hash: reference.hash,
    }),
    'DATA_LOSS',
    'CORRUPT_REPOSITORY',
  );
});

test('malformed messages are INVALID_ARGUMENT and the server carries on', async (t) => {
  const service = await startGrpcService(t);
  const raw = new grpc.Client(service.address, grpc.credentials.createInsecure());
  t.after(() => raw.close());
  const send = (path: string, bytes: Buffer) =>
    new Promise<grpc.ServiceError | null>((resolve) => {
      const metadata = new grpc.Metadata();
      metadata.set('x-api-key', WRITER_KEY);
      raw.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        metadata,
        (error) => resolve(error),
      );
    });
  const garbage = await send(
    `/${SERVICE_NAME}/CreatePatient`,
    Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1]),
  );
  assert.equal(garbage?.code, grpc.status.INVALID_ARGUMENT, garbage?.details);
  // google.protobuf.Value nested 20,000 deep inside an entry's data (field 3 of AddEntryRequest).
  let nested = Buffer.from([0x08, 0x00]); // null_value
  for (let i = 0; i < 20_000; i++) {
    const list = Buffer.concat([Buffer.from([0x0a]), varint(nested.length), nested]); // ListValue.values
    nested = Buffer.concat([Buffer.from([0x32]), varint(list.length), list]); // Value.list_value
  }
  // Struct.fields is a map: one entry { key: "x", value: the nested Value }.
  const entry = Buffer.concat([Buffer.from([0x0a, 0x01, 0x78, 0x12]), varint(nested.length), nested]);
  const struct = Buffer.concat([Buffer.from([0x0a]), varint(entry.length), entry]);
  const deep = await send(
    `/${SERVICE_NAME}/AddEntry`,
    Buffer.concat([Buffer.from([0x1a]), varint(struct.length), struct]),
  );
  assert.equal(deep?.code, grpc.status.INVALID_ARGUMENT, deep?.details);
  const health = await service.client().call('Health', {});
  assert.equal(health.response.status, 'ok', 'still serving');
});

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

test('grpc.health.v1 answers without a key; reflection is off unless configured', async (t) => {
  const service = await startGrpcService(t);
  const healthProto = protoLoader.loadSync('health.proto', {
    enums: String,
    includeDirs: [join(import.meta.dirname, '../../node_modules/grpc-health-check/proto/health/v1')],
  });
  const Health = (grpc.loadPackageDefinition(healthProto).grpc as Json).health.v1
    .Health as grpc.ServiceClientConstructor;
  const health = new Health(service.address, grpc.credentials.createInsecure());
  t.after(() => health.close());
  const check = (serviceName: string) =>
    new Promise<Json>((resolve, reject) =>
      (health as unknown as Json).Check({ service: serviceName }, (e: Error | null, r: Json) =>
        e ? reject(e) : resolve(r),
      ),
    );
  assert.equal((await check('')).status, 'SERVING');
  assert.equal((await check(SERVICE_NAME)).status, 'SERVING');

  const listServices = async (address: string) => {
    const reflectionProto = protoLoader.loadSync('reflection.proto', {
      includeDirs: [
        join(import.meta.dirname, '../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1'),
      ],
    });
    const Reflection = (grpc.loadPackageDefinition(reflectionProto).grpc as Json).reflection.v1
      .ServerReflection as grpc.ServiceClientConstructor;
    const client = new Reflection(address, grpc.credentials.createInsecure());
    try {
      return await new Promise<string[]>((resolve, reject) => {
        const stream = (client as unknown as Json).ServerReflectionInfo();
        stream.on('data', (answer: Json) => {
          resolve((answer.listServicesResponse?.service ?? []).map((s: Json) => s.name));
          stream.end();
        });
        stream.on('error', reject);
        stream.write({ listServices: '' });
      });
    } finally {
      client.close();
    }
  };
  const off = await listServices(service.address).then(
    () => undefined,
    (e: grpc.ServiceError) => e.code,
  );
  assert.equal(off, grpc.status.UNIMPLEMENTED);
  const reflecting = await startGrpcService(t, 'pglite', { VPR_GRPC_REFLECTION: 'true' });
  assert.ok((await listServices(reflecting.address)).includes(SERVICE_NAME));
});

test('VPR_SERVE=grpc opens the gRPC door alone', async (t) => {
  const service = await startGrpcService(t, 'pglite', { VPR_SERVE: 'grpc' });
  assert.equal(service.restUrl, '', 'no REST listener');
  const created = await service.client(WRITER_KEY).call<Json>('CreatePatient', { patient: patientBody() });
  assert.match(created.response.patient.patient_id, /^[0-9a-f]{32}$/);
});

test('shutdown lets a call in flight finish, then takes no more', async (t) => {
  const service = await startGrpcService(t);
  const writer = service.client(WRITER_KEY);
  const patient = (await writer.call<Json>('CreatePatient', { patient: patientBody() })).response.patient;
  // An upload is open when shutdown begins; its last bytes arrive afterwards.
  const definition = grpc.loadPackageDefinition(loadVprProto());
  const Service = (definition.vpr as Json).v1.VPR as grpc.ServiceClientConstructor;
  const raw = new Service(service.address, grpc.credentials.createInsecure());
  t.after(() => raw.close());
  const metadata = new grpc.Metadata();
  metadata.set('x-api-key', CLINICIAN_KEY);
  let stream!: grpc.ClientWritableStream<unknown>;
  const answer = new Promise<Json>((resolve, reject) => {
    stream = (raw as unknown as Json).UploadLetter(metadata, (e: Error | null, r: Json) =>
      e ? reject(e) : resolve(r),
    );
  });
  stream.write({ letter: { patient_id: patient.patient_id, letter: { title: 'Scan' } } });
  stream.write({ attachment: { filename: 'scan.txt' } });
  stream.write({ chunk: Buffer.from('first half of a synthetic scan\n') });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const closed = service.runtime.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
  stream.write({ chunk: Buffer.from('second half\n') });
  stream.end();
  const letter = await answer;
  assert.equal(letter.attachments[0].size_bytes, 'first half of a synthetic scan\nsecond half\n'.length);
  await closed;
  await failsWith(
    service.client(WRITER_KEY).call('GetPatient', { patient_id: patient.patient_id }),
    'UNAVAILABLE',
  );
});
