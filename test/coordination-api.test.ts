// Care coordination through the real server (inject, and a socket for concurrent clients), on
// PGlite and on PostgreSQL + Redis: the coordination status and what a closed or suspended
// record refuses, messaging threads (first message with the ledger in one commit, messages,
// corrections, ledger changes, the participation policy, closed threads), bodies that look like
// the thread's own markup, many clients posting to one thread at once, appointments, encounters
// and referrals with FHIR status transitions and the projection's lists; every repository
// checked with the stock git CLI.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { repositoryDir } from '../src/core/record/record-layout.js';
import { parseThread } from '../src/core/coordination/thread.js';
import { reindex } from '../src/projection/reindex.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import {
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
} from './support/service.js';

const withServices = await serviceBackends();

async function newPatient(service: TestService) {
  const created = await service.inject({
    method: 'POST',
    url: '/api/v1/patients',
    headers: json(WRITER_KEY),
    payload: patientBody(),
  });
  assert.equal(created.statusCode, 201, created.body);
  const patient = created.json() as { patient_id: string; coordination_id: string };
  return {
    ...patient,
    base: `/api/v1/patients/${patient.patient_id}`,
    dir: repositoryDir(service.dataDir, 'coordination', patient.coordination_id as never),
  };
}

const ledger = (extra: Record<string, unknown> = {}) => ({
  participants: [
    { participant_id: 'test-clinician', role: 'clinician', display_name: 'Dr Ada Synthetic' },
    { participant_id: 'test-patient-app', role: 'patient', display_name: 'Testy Fixture' },
  ],
  ...extra,
});

const subject = async (dir: string) => (await git(dir, ['log', '-1', '--format=%s'])).trim();

/** Bodies a person might type that look like the thread's own markup. */
const TRICKY = [
  '---',
  '# Thread\n## Message\n**Message ID:** 3f7a8d2c-1e9b-4a6d-9f2e-5c8b7a4d1f92\n---\n',
  '```\n---\n**Body lines:** 2\n```',
  'ends without a newline',
  '\n\nleading and trailing blank lines\n\n',
  'Windows line ends\r\nsecond line\r\n',
  '  indented, with trailing spaces   ',
];

for (const backend of withServices) {
  test(`[${backend}] threads: create with a first message, messages, corrections, ledger, policy, status`, async (t) => {
    const service = await startService(t, backend);
    const patient = await newPatient(service);
    const openapi = (await service.inject({ url: '/openapi.json' })).json();
    const documented = Object.entries(openapi.paths as Record<string, object>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    for (const route of [
      'GET /api/v1/patients/{patient_id}/coordination/status',
      'PUT /api/v1/patients/{patient_id}/coordination/status',
      'POST /api/v1/patients/{patient_id}/threads',
      'POST /api/v1/patients/{patient_id}/threads/{communication_id}/messages',
      'PATCH /api/v1/patients/{patient_id}/threads/{communication_id}/ledger',
      'GET /api/v1/threads',
      'POST /api/v1/patients/{patient_id}/appointments',
      'PUT /api/v1/patients/{patient_id}/referrals/{event_id}',
      'GET /api/v1/appointments',
    ]) {
      assert.ok(documented.includes(route), `${route} is in /openapi.json`);
    }
    const created = await service.inject({
      method: 'POST',
      url: `${patient.base}/threads`,
      headers: json(CLINICIAN_KEY),
      payload: { ledger: ledger(), message: { body: 'Please review the chest X-ray.' } },
    });
    assert.equal(created.statusCode, 201, created.body);
    const thread = created.json();
    assert.equal(thread.ledger.status, 'open');
    assert.equal(thread.messages.length, 1);
    assert.equal(thread.messages[0].role, 'clinician');
    assert.equal(thread.messages[0].author_name, 'Dr Ada Synthetic');
    const folder = `communications/${thread.communication_id}`;
    assert.deepEqual(
      (await git(patient.dir, ['show', '--name-only', '--format=', 'HEAD'])).trim().split('\n').sort(),
      [`${folder}/ledger.yaml`, `${folder}/thread.md`],
      'ledger and first message in one commit',
    );
    assert.equal(await subject(patient.dir), 'coordination:create: Created messaging thread');
    assert.match(
      await git(patient.dir, ['log', '-1', '--format=%B']),
      new RegExp(`Message-Id: ${thread.messages[0].message_id}`),
    );
    const url = `${patient.base}/threads/${thread.communication_id}`;
    const post = (payload: Record<string, unknown>, key = CLINICIAN_KEY) =>
      service.inject({ method: 'POST', url: `${url}/messages`, headers: json(key), payload });

    const before = await git(patient.dir, ['show', `HEAD:${folder}/thread.md`]);
    const reply = await post({ body: 'I will do that, doctor.' }, PATIENT_KEY);
    assert.equal(reply.statusCode, 201, reply.body);
    assert.equal(reply.json().messages[1].role, 'patient');
    assert.ok(reply.json().ledger.last_updated_at > thread.ledger.last_updated_at, 'last_updated_at moves');
    assert.deepEqual(
      (await git(patient.dir, ['show', '--name-only', '--format=', 'HEAD'])).trim().split('\n').sort(),
      [`${folder}/ledger.yaml`, `${folder}/thread.md`],
      'message and ledger in one commit',
    );
    const after = await git(patient.dir, ['show', `HEAD:${folder}/thread.md`]);
    assert.ok(after.startsWith(before), 'thread.md is only appended to');

    const correction = await post({
      body: 'Correction: the X-ray is from Tuesday.',
      corrects: thread.messages[0].message_id,
    });
    assert.equal(correction.statusCode, 201, correction.body);
    assert.equal(correction.json().messages[2].corrects, thread.messages[0].message_id);
    assert.deepEqual(correction.json().messages[0], thread.messages[0], 'the original never changes');
    assert.equal(await subject(patient.dir), 'coordination:update: Added correction to thread');
    const wrongCorrection = await post({ body: 'x', corrects: '00000000-0000-4000-8000-000000000000' });
    assert.equal(wrongCorrection.statusCode, 400);

    for (const body of TRICKY) {
      const r = await post({ body });
      assert.equal(r.statusCode, 201, r.body);
      assert.equal(r.json().messages.at(-1).body, body, 'stored exactly');
    }
    const parsed = parseThread(await git(patient.dir, ['show', `HEAD:${folder}/thread.md`]));
    assert.equal(parsed.messages.length, 3 + TRICKY.length);
    assert.deepEqual(
      parsed.messages.slice(3).map((m) => m.body),
      TRICKY,
    );

    // The ledger: participants, visibility and policies; then the patient may no longer post.
    const change = (payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
      service.inject({
        method: 'PATCH',
        url: `${url}/ledger`,
        headers: { ...json(CLINICIAN_KEY), ...headers },
        payload,
      });
    const changed = await change({
      add_participants: [
        { participant_id: 'test-reception', role: 'careadministrator', display_name: 'Reception Desk' },
      ],
      visibility: { sensitivity: 'confidential' },
      policies: { allow_patient_participation: false },
    });
    assert.equal(changed.statusCode, 200, changed.body);
    assert.equal(changed.json().ledger.participants.length, 3);
    assert.equal(changed.json().ledger.visibility.sensitivity, 'confidential');
    assert.equal(
      (await change({ status: 'open' }, { 'if-match': '"' + '0'.repeat(40) + '"' })).statusCode,
      412,
    );
    const refused = await post({ body: 'Can I still post?' }, PATIENT_KEY);
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().code, 'FORBIDDEN');
    const lifted = await service.inject({
      method: 'PATCH',
      url: `${url}/ledger`,
      headers: json(PATIENT_KEY),
      payload: { policies: { allow_patient_participation: true } },
    });
    assert.equal(lifted.statusCode, 403, 'the patient side cannot lift the policy that keeps it out');

    // Lists from the projection: the patient's threads, and the open threads one takes part in.
    const mine = await service.inject({ url: `${patient.base}/threads`, headers: auth(READER_KEY) });
    assert.equal(mine.json().threads.length, 1);
    assert.equal(mine.json().threads[0].message_count, 3 + TRICKY.length);
    assert.equal(mine.json().threads[0].sensitivity, 'confidential');
    const takingPart = async (who: string) =>
      (
        await service.inject({ url: `/api/v1/threads?participant_id=${who}`, headers: auth(READER_KEY) })
      ).json().threads as { communication_id: string; patient_id: string }[];
    assert.deepEqual(
      (await takingPart('test-reception')).map((x) => [x.communication_id, x.patient_id]),
      [[thread.communication_id, patient.patient_id]],
    );
    assert.equal((await takingPart('nobody-at-all')).length, 0);

    // Closed: no messages; closed → archived; never back.
    assert.equal((await change({ status: 'closed' })).statusCode, 200);
    const toClosed = await post({ body: 'Too late.' });
    assert.equal(toClosed.statusCode, 409);
    assert.equal(toClosed.json().code, 'INVALID_STATE');
    assert.equal((await takingPart('test-reception')).length, 0, 'a closed thread is not open');
    assert.equal((await change({ status: 'open' })).statusCode, 409);
    assert.equal((await change({ status: 'archived' })).statusCode, 200);
    const read = await service.inject({ url, headers: auth(READER_KEY) });
    assert.equal(read.json().ledger.status, 'archived');
    assert.equal(read.json().messages.length, 3 + TRICKY.length);

    const rows = () =>
      service.runtime.projection.client.query(
        'SELECT communication_id, status, message_count, last_message_snippet FROM threads ORDER BY communication_id',
      );
    const live = await rows();
    await reindex(service.runtime.projection.client, service.runtime.store, { threads: 0 });
    assert.deepEqual(await rows(), live);
    await assertCleanAndSound(patient.dir);
  });
}

test('many clients posting to one thread at once: every message lands, in one order, thread.md parses', async (t) => {
  const service = await startService(t);
  const patient = await newPatient(service);
  const [base] = await service.runtime.listen();
  const created = await service.inject({
    method: 'POST',
    url: `${patient.base}/threads`,
    headers: json(CLINICIAN_KEY),
    payload: { ledger: ledger() },
  });
  const url = `${base}${patient.base}/threads/${created.json().communication_id}/messages`;
  const clients = 6;
  const perClient = 8;
  const answers = await Promise.all(
    Array.from({ length: clients }, (_, c) =>
      (async () => {
        const statuses: number[] = [];
        await Promise.all(
          Array.from({ length: perClient }, async (_, i) => {
            const response = await fetch(url, {
              method: 'POST',
              headers: json(c % 2 === 0 ? CLINICIAN_KEY : PATIENT_KEY),
              body: JSON.stringify({ body: `client ${c} message ${i}\n---\nwith markup` }),
            });
            await response.arrayBuffer();
            statuses.push(response.status);
          }),
        );
        return statuses;
      })(),
    ),
  );
  assert.deepEqual(
    answers.flat().filter((s) => s !== 201),
    [],
    'every post was accepted',
  );
  const folder = `communications/${created.json().communication_id}`;
  const messages = parseThread(await git(patient.dir, ['show', `HEAD:${folder}/thread.md`])).messages;
  assert.equal(messages.length, clients * perClient, 'none lost');
  assert.equal(new Set(messages.map((m) => m.body)).size, clients * perClient, 'each once');
  const times = messages.map((m) => m.timestamp);
  assert.deepEqual(times, [...times].sort(), 'in the order they were committed');
  const log = (await git(patient.dir, ['log', '--format=%s'])).trim().split('\n');
  assert.equal(
    log.filter((s) => s === 'coordination:update: Added message to thread').length,
    clients * perClient,
  );
  await assertCleanAndSound(patient.dir);
});

test('coordination status: strict, refuses work while suspended or closed, and closed is final', async (t) => {
  const service = await startService(t);
  const patient = await newPatient(service);
  const url = `${patient.base}/coordination/status`;
  const status = await service.inject({ url, headers: auth(READER_KEY) });
  assert.equal(status.statusCode, 200);
  assert.equal(status.json().lifecycle_state, 'active');
  assert.equal(status.json().coordination_id, patient.coordination_id);
  const put = (payload: Record<string, unknown>) =>
    service.inject({ method: 'PUT', url, headers: json(CLINICIAN_KEY), payload });
  const unknown = await put({ lifecycle_state: 'active', colour: 'blue' });
  assert.equal(unknown.statusCode, 400);
  assert.equal(unknown.json().details.field, 'colour');
  assert.equal((await put({ lifecycle_state: 'paused' })).statusCode, 400);
  assert.equal((await put({})).statusCode, 400);

  const suspended = await put({ lifecycle_state: 'suspended' });
  assert.equal(suspended.statusCode, 200, suspended.body);
  assert.equal(await subject(patient.dir), 'coordination:update: Updated coordination status');
  const head = await git(patient.dir, ['rev-parse', 'HEAD']);
  const newThread = () =>
    service.inject({
      method: 'POST',
      url: `${patient.base}/threads`,
      headers: json(CLINICIAN_KEY),
      payload: { ledger: ledger() },
    });
  const whileSuspended = await newThread();
  assert.equal(whileSuspended.statusCode, 409);
  assert.equal(whileSuspended.json().code, 'INVALID_STATE');
  assert.equal(await git(patient.dir, ['rev-parse', 'HEAD']), head, 'nothing written');
  assert.equal((await put({ lifecycle_state: 'active' })).statusCode, 200);
  assert.equal((await newThread()).statusCode, 201);
  assert.equal((await put({ record_modifiable: false })).statusCode, 200);
  assert.equal((await newThread()).statusCode, 409);
  assert.equal((await put({ record_modifiable: true })).statusCode, 200);

  const closed = await put({ lifecycle_state: 'closed' });
  assert.equal(closed.json().record_modifiable, false);
  assert.equal((await put({ lifecycle_state: 'active' })).statusCode, 409, 'closed is final');
  assert.equal((await newThread()).statusCode, 409);
  await assertCleanAndSound(patient.dir);
});

test('appointments, encounters and referrals: FHIR statuses, If-Match, upcoming and a location’s day', async (t) => {
  const service = await startService(t);
  const patient = await newPatient(service);
  const other = await newPatient(service);
  const location = 'Synthetic Diabetes Clinic';
  const appointment = (start: string, extra: Record<string, unknown> = {}) => ({
    status: 'booked',
    start,
    end: new Date(Date.parse(start) + 30 * 60_000).toISOString(),
    service_type: 'Diabetes review',
    reason: { text: 'Annual review' },
    care_location: location,
    participants: [
      { actor_id: 'test-clinician', display_name: 'Dr Ada Synthetic', role: 'practitioner' },
      { actor_id: 'test-patient-app', display_name: 'Testy Fixture', role: 'patient' },
    ],
    ...extra,
  });
  const add = (who: { base: string }, kind: string, payload: Record<string, unknown>) =>
    service.inject({ method: 'POST', url: `${who.base}/${kind}`, headers: json(CLINICIAN_KEY), payload });
  const soon = new Date(Date.now() + 3 * 24 * 3600_000);
  const day = soon.toISOString().slice(0, 10);
  const at = (hour: number) => `${day}T${String(hour).padStart(2, '0')}:00:00Z`;
  const first = await add(patient, 'appointments', appointment(at(9)));
  assert.equal(first.statusCode, 201, first.body);
  assert.equal(first.json().status, 'booked');
  assert.match(
    await git(patient.dir, ['show', `HEAD:appointments/${first.json().event_id}.yaml`]),
    /resourceType: Appointment/,
  );
  for (const hour of [10, 11])
    assert.equal((await add(patient, 'appointments', appointment(at(hour)))).statusCode, 201);
  assert.equal((await add(other, 'appointments', appointment(at(8)))).statusCode, 201);
  assert.equal((await add(patient, 'appointments', appointment('2020-01-01T09:00:00Z'))).statusCode, 201);
  const bad = await add(patient, 'appointments', appointment(at(12), { end: at(11) }));
  assert.equal(bad.statusCode, 400);

  const upcoming = await service.inject({
    url: `${patient.base}/appointments?upcoming=true`,
    headers: auth(READER_KEY),
  });
  assert.deepEqual(
    upcoming.json().events.map((e: { start: string }) => e.start),
    [at(9), at(10), at(11)].map((s) => new Date(s).toISOString()),
    'upcoming only, in time order',
  );
  const page1 = await service.inject({
    url: `/api/v1/appointments?care_location=${encodeURIComponent(location)}&date=${day}&limit=2`,
    headers: auth(READER_KEY),
  });
  assert.equal(page1.statusCode, 200, page1.body);
  const page2 = await service.inject({
    url: `/api/v1/appointments?care_location=${encodeURIComponent(location)}&date=${day}&limit=2&cursor=${page1.json().next_cursor}`,
    headers: auth(READER_KEY),
  });
  const ofDay = [...page1.json().events, ...page2.json().events];
  assert.equal(ofDay.length, 4, 'both patients’ appointments of the day');
  assert.deepEqual(
    ofDay.map((e: { patient_id: string }) => e.patient_id),
    [other.patient_id, patient.patient_id, patient.patient_id, patient.patient_id],
  );

  assert.equal(
    (
      await service.inject({
        url: `/api/v1/appointments?care_location=${encodeURIComponent(location)}&date=2026-02-30`,
        headers: auth(READER_KEY),
      })
    ).statusCode,
    400,
    'a day that does not exist',
  );
  // Appointments not yet scheduled come last, and paging reaches them.
  for (let i = 0; i < 2; i++) {
    const proposed = { ...appointment(at(9)), status: 'proposed' } as Record<string, unknown>;
    delete proposed.start;
    delete proposed.end;
    assert.equal((await add(patient, 'appointments', proposed)).statusCode, 201);
  }
  const all: { status: string }[] = [];
  let cursor: string | null = null;
  do {
    const page: { json(): { events: { status: string }[]; next_cursor: string | null } } =
      await service.inject({
        url: `${patient.base}/appointments?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`,
        headers: auth(READER_KEY),
      });
    all.push(...page.json().events);
    cursor = page.json().next_cursor;
  } while (cursor !== null);
  assert.equal(all.length, 6, 'every appointment, page by page');
  assert.deepEqual(
    all.slice(-2).map((e) => e.status),
    ['proposed', 'proposed'],
  );
  // A soft-deleted patient's appointments leave the clinic's day.
  assert.equal(
    (await service.inject({ method: 'DELETE', url: other.base, headers: auth(WRITER_KEY) })).statusCode,
    204,
  );
  const afterDelete = await service.inject({
    url: `/api/v1/appointments?care_location=${encodeURIComponent(location)}&date=${day}`,
    headers: auth(READER_KEY),
  });
  assert.equal(afterDelete.json().events.length, 3);

  // Status moves as FHIR allows: booked → arrived → fulfilled; fulfilled is final.
  const url = `${patient.base}/appointments/${first.json().event_id}`;
  const update = (status: string, etag: string | undefined) =>
    service.inject({
      method: 'PUT',
      url,
      headers: { ...json(CLINICIAN_KEY), ...(etag === undefined ? {} : { 'if-match': etag }) },
      payload: appointment(at(9), { status }),
    });
  assert.equal((await update('arrived', undefined)).statusCode, 428);
  const arrived = await update('arrived', first.headers.etag as string);
  assert.equal(arrived.statusCode, 200, arrived.body);
  assert.equal(await subject(patient.dir), 'coordination:update: appointment booked → arrived');
  const fulfilled = await update('fulfilled', arrived.headers.etag as string);
  assert.equal(fulfilled.statusCode, 200, fulfilled.body);
  const back = await update('booked', fulfilled.headers.etag as string);
  assert.equal(back.statusCode, 409);
  assert.equal(back.json().code, 'INVALID_STATE');

  const encounter = await add(patient, 'encounters', {
    status: 'in-progress',
    class: 'AMB',
    period: { start: new Date(Date.now() - 600_000).toISOString() },
    care_location: location,
    participants: [{ actor_id: 'test-clinician', display_name: 'Dr Ada Synthetic', role: 'practitioner' }],
    reason: { text: 'Review' },
    appointment_id: first.json().event_id,
  });
  assert.equal(encounter.statusCode, 201, encounter.body);
  const referral = await add(patient, 'referrals', {
    status: 'active',
    service: { text: 'Retinal screening' },
    reason: { text: 'Diabetes' },
    requester: { actor_id: 'test-clinician', display_name: 'Dr Ada Synthetic' },
    performer: { display_name: 'Synthetic Eye Service' },
  });
  assert.equal(referral.statusCode, 201, referral.body);
  assert.match(
    await git(patient.dir, ['show', `HEAD:referrals/${referral.json().event_id}.yaml`]),
    /resourceType: ServiceRequest/,
  );
  const rows = () =>
    service.runtime.projection.client.query(
      'SELECT event_id, event_kind, status, start_at, care_location FROM care_events ORDER BY event_id',
    );
  const live = await rows();
  await reindex(service.runtime.projection.client, service.runtime.store, { threads: 0 });
  assert.deepEqual(await rows(), live);
  await assertCleanAndSound(patient.dir);
});
