// REST and gRPC are two doors onto the same services: the same clinical scenario run through
// each, on two fresh services, must leave the same repositories — the same files with the same
// contents and the same commit messages (the controlled vocabulary), once the ids, commit ids
// and clock times that differ between any two runs are written as placeholders. Read with the
// stock git CLI.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { repositoryDir } from '../src/core/record/record-layout.js';
import { toStruct } from '../src/transport/grpc/struct.js';
import { appointmentOn, threadParticipants } from './support/fixtures.js';
import { git } from './support/git-check.js';
import { startGrpcService, type GrpcTestService } from './support/grpc.js';
import {
  CLINIC,
  CLINICIAN_KEY,
  PATIENT_KEY,
  WRITER_KEY,
  auth,
  patientBody,
  type Json,
} from './support/service.js';

/** What the scenario does, as each door does it. */
interface Door {
  call(key: string, operation: string, params: Json, body?: Json): Promise<Json>;
  uploadLetter(
    key: string,
    patientId: string,
    letter: Json,
    file: { name: string; bytes: Buffer },
  ): Promise<Json>;
}

/** REST: each operation as its route. */
function restDoor(service: GrpcTestService): Door {
  const send = async (key: string, method: string, url: string, payload?: Json, ifMatch?: string) => {
    const response = await service.inject({
      method: method as 'GET',
      url,
      headers: {
        ...auth(key),
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        ...(ifMatch === undefined ? {} : { 'if-match': `"${ifMatch}"` }),
      },
      ...(payload === undefined ? {} : { payload }),
    });
    assert.ok(response.statusCode < 300, `${method} ${url}: ${response.statusCode} ${response.body}`);
    return response.body === '' ? {} : (response.json() as Json);
  };
  return {
    async call(key, operation, p, body) {
      const P = `/api/v1/patients/${p.patient_id}`;
      switch (operation) {
        case 'CreatePatient':
          return { patient: await send(key, 'POST', '/api/v1/patients', body) };
        case 'UpdatePatient':
          return send(key, 'PUT', P, body, p.expected_version);
        case 'DeletePatient':
          return send(key, 'DELETE', P);
        case 'RestorePatient':
          return send(key, 'POST', `${P}:restore`);
        case 'CreateLetter':
          return send(key, 'POST', `${P}/letters`, body);
        case 'UpdateLetter':
          return send(key, 'PUT', `${P}/letters/${p.letter_id}`, body, p.expected_version);
        case 'SignOffLetter':
          return send(key, 'POST', `${P}/letters/${p.letter_id}:sign-off`);
        case 'AddEntry':
          return send(key, 'POST', `${P}/entries/${p.kind}`, body);
        case 'UpdateEntry':
          return send(key, 'PUT', `${P}/entries/${p.kind}/${p.entry_id}`, body, p.expected_version);
        case 'SupersedeEntry':
          return send(key, 'POST', `${P}/entries/${p.kind}/${p.entry_id}:supersede`, body);
        case 'AddContribution':
          return send(key, 'POST', `${P}/contributions/${p.kind}`, body);
        case 'UpdateCoordinationStatus':
          return send(key, 'PUT', `${P}/coordination/status`, body);
        case 'CreateThread':
          return send(key, 'POST', `${P}/threads`, body);
        case 'AddMessage':
          return send(key, 'POST', `${P}/threads/${p.communication_id}/messages`, body);
        case 'UpdateLedger':
          return send(key, 'PATCH', `${P}/threads/${p.communication_id}/ledger`, body);
        case 'AddCareEvent':
          return send(key, 'POST', `${P}/${p.collection}`, body);
        case 'UpdateCareEvent':
          return send(key, 'PUT', `${P}/${p.collection}/${p.event_id}`, body, p.expected_version);
        default:
          throw new Error(`no REST route for ${operation}`);
      }
    },
    async uploadLetter(key, patientId, letter, file) {
      const form = new FormData();
      form.append('letter', JSON.stringify(letter));
      form.append('file', new Blob([file.bytes]), file.name);
      const response = await fetch(`${service.restUrl}/api/v1/patients/${patientId}/letters`, {
        method: 'POST',
        headers: auth(key),
        body: form,
      });
      assert.equal(response.status, 201);
      return (await response.json()) as Json;
    },
  };
}

/** gRPC: each operation as its RPC; the body goes where the proto puts it. */
function grpcDoor(service: GrpcTestService): Door {
  const bodyField: Record<string, [string, boolean]> = {
    CreatePatient: ['patient', false],
    UpdatePatient: ['patient', false],
    CreateLetter: ['letter', false],
    UpdateLetter: ['letter', false],
    AddEntry: ['data', true],
    UpdateEntry: ['data', true],
    SupersedeEntry: ['data', true],
    AddContribution: ['data', true],
    UpdateCoordinationStatus: ['change', false],
    CreateThread: ['thread', false],
    AddMessage: ['message', false],
    UpdateLedger: ['change', false],
    AddCareEvent: ['event', true],
    UpdateCareEvent: ['event', true],
  };
  return {
    async call(key, operation, params, body) {
      const [name, isStruct] = bodyField[operation] ?? ['', false];
      const request = {
        ...params,
        ...(body === undefined ? {} : { [name]: isStruct ? toStruct(body) : body }),
      };
      return (await service.client(key).call<Json>(operation, request)).response;
    },
    uploadLetter(key, patientId, letter, file) {
      return service
        .client(key)
        .uploadLetter<Json>({ patient_id: patientId, letter }, [{ filename: file.name, bytes: file.bytes }]);
    },
  };
}

/** The scenario: every kind of write the record takes. Answers the patient's three record ids. */
async function scenario(door: Door, day: string): Promise<Json> {
  const { patient } = await door.call(
    WRITER_KEY,
    'CreatePatient',
    {},
    patientBody({ email: 'parity@example.invalid' }),
  );
  const P = { patient_id: patient.patient_id };
  await door.call(
    WRITER_KEY,
    'UpdatePatient',
    { ...P, expected_version: patient.version },
    patientBody({ email: 'parity@example.invalid', preferred_language: 'cy-GB' }),
  );
  const letter = await door.call(CLINICIAN_KEY, 'CreateLetter', P, {
    title: 'Clinic letter',
    body: 'Dear colleague,\n\nSeen today.\n',
    clinical_lists: [
      {
        kind: 'problems',
        items: [{ text: 'Synthetic condition', code: { terminology: 'SNOMED-CT', value: '0000000' } }],
      },
    ],
  });
  const edited = await door.call(
    CLINICIAN_KEY,
    'UpdateLetter',
    { ...P, letter_id: letter.letter_id, expected_version: letter.version },
    { body: 'Dear colleague,\n\nSeen today; better.\n' },
  );
  assert.notEqual(edited.version, letter.version);
  await door.call(CLINICIAN_KEY, 'SignOffLetter', { ...P, letter_id: letter.letter_id });
  await door.uploadLetter(
    CLINICIAN_KEY,
    patient.patient_id,
    { title: 'Scan', body: 'Attached.\n' },
    {
      name: 'scan.txt',
      bytes: Buffer.from('synthetic scanned text\n'.repeat(50)),
    },
  );
  const reading = { recorded_at: '2026-11-30T09:00:00Z', systolic_mmhg: 128, diastolic_mmhg: 82 };
  const entry = await door.call(CLINICIAN_KEY, 'AddEntry', { ...P, kind: 'blood_pressure' }, reading);
  await door.call(
    CLINICIAN_KEY,
    'UpdateEntry',
    { ...P, kind: 'blood_pressure', entry_id: entry.entry_id, expected_version: entry.version },
    { ...reading, systolic_mmhg: 126 },
  );
  await door.call(
    CLINICIAN_KEY,
    'SupersedeEntry',
    { ...P, kind: 'blood_pressure', entry_id: entry.entry_id },
    { ...reading, recorded_at: '2026-11-30T10:00:00Z', systolic_mmhg: 120 },
  );
  await door.call(
    PATIENT_KEY,
    'AddContribution',
    { ...P, kind: 'symptom' },
    { symptom: 'Cough', severity: 3 },
  );
  await door.call(CLINICIAN_KEY, 'UpdateCoordinationStatus', P, { lifecycle_state: 'suspended' });
  await door.call(CLINICIAN_KEY, 'UpdateCoordinationStatus', P, { lifecycle_state: 'active' });
  const thread = await door.call(CLINICIAN_KEY, 'CreateThread', P, {
    ledger: { participants: threadParticipants },
    message: { body: 'Results are back.\n' },
  });
  const T = { ...P, communication_id: thread.communication_id };
  await door.call(PATIENT_KEY, 'AddMessage', T, { body: 'Thank you.' });
  await door.call(CLINICIAN_KEY, 'AddMessage', T, {
    body: 'Results are back; all normal.\n',
    corrects: thread.messages[0].message_id,
  });
  await door.call(CLINICIAN_KEY, 'UpdateLedger', T, { status: 'closed' });
  const booking = appointmentOn(day, CLINIC);
  const appointment = await door.call(
    CLINICIAN_KEY,
    'AddCareEvent',
    { ...P, collection: 'appointments' },
    booking,
  );
  await door.call(
    CLINICIAN_KEY,
    'UpdateCareEvent',
    {
      ...P,
      collection: 'appointments',
      event_id: appointment.event_id,
      expected_version: appointment.version,
    },
    { ...booking, status: 'arrived' },
  );
  await door.call(WRITER_KEY, 'DeletePatient', P);
  await door.call(WRITER_KEY, 'RestorePatient', P);
  return patient;
}

/** Ids, commit ids and clock times differ between any two runs; everything else must not. */
function normalised(text: string): string {
  return text
    .replace(
      /\b\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g,
      '<timestamp-id>',
    )
    .replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g, '<time>')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>')
    .replace(/\b[0-9a-f]{40}\b/g, '<commit>')
    .replace(/\b[0-9a-f]{32}\b/g, '<record-id>');
}

async function snapshot(dataDir: string, patient: Json) {
  const out: Record<string, { files: string[]; messages: string[] }> = {};
  for (const [kind, id] of [
    ['demographics', patient.patient_id],
    ['clinical', patient.clinical_id],
    ['coordination', patient.coordination_id],
  ] as const) {
    const dir = repositoryDir(dataDir, kind, id as never);
    const paths = (await git(dir, ['ls-tree', '-r', '--name-only', 'HEAD'])).trim().split('\n');
    const files = await Promise.all(
      paths.map(
        async (path) => `${normalised(path)}\n${normalised(await git(dir, ['show', `HEAD:${path}`]))}`,
      ),
    );
    const log = await git(dir, ['log', '--reverse', '--format=%an <%ae>%n%B%x00']);
    out[kind] = {
      files: files.sort(),
      messages: log
        .split('\0')
        .map((m) => normalised(m.trim()))
        .filter(Boolean),
    };
  }
  return out;
}

test('the same scenario through REST and through gRPC leaves the same repositories', async (t) => {
  const day = new Date(Date.now() + 3 * 24 * 3600_000).toISOString().slice(0, 10);
  const overRest = await startGrpcService(t);
  const overGrpc = await startGrpcService(t);
  const restPatient = await scenario(restDoor(overRest), day);
  const grpcPatient = await scenario(grpcDoor(overGrpc), day);
  const rest = await snapshot(overRest.dataDir, restPatient);
  const grpc = await snapshot(overGrpc.dataDir, grpcPatient);
  for (const kind of ['demographics', 'clinical', 'coordination']) {
    assert.ok(rest[kind]!.messages.length >= 2, `${kind}: the scenario made commits`);
    assert.deepEqual(grpc[kind]!.messages, rest[kind]!.messages, `${kind}: the same commits, in order`);
    assert.deepEqual(grpc[kind]!.files, rest[kind]!.files, `${kind}: the same files`);
  }
  assert.equal(
    rest.clinical!.messages.length,
    9,
    'the first commit, two letters, an edit, a sign-off, three entry commits and a contribution',
  );
});
