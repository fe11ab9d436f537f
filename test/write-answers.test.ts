// A write answers from the bytes it committed, not by reading them back: for every kind of item
// a POST creates (letters, superseding letters, entries, superseding entries, threads, messages,
// care events), the answer must be exactly what a read of the same commit answers, on PGlite
// and on the machine's PostgreSQL + Redis.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CLINIC,
  CLINICIAN_KEY,
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

/** POSTs `payload`, then reads `readUrl(answer)` at HEAD and at the answer's commit: all three agree. */
async function assertAnswerIsTheRead(
  service: TestService,
  url: string,
  payload: Json,
  readUrl: (answer: Json) => string,
  versioned: boolean,
): Promise<Json> {
  const written = await service.inject({ method: 'POST', url, headers: json(CLINICIAN_KEY), payload });
  assert.equal(written.statusCode, 201, written.body);
  const answer = written.json() as Json;
  const atHead = await service.inject({ url: readUrl(answer), headers: auth(READER_KEY) });
  assert.equal(atHead.statusCode, 200, atHead.body);
  assert.deepEqual(answer, atHead.json(), `POST ${url} answers what a read of HEAD answers`);
  assert.equal(written.headers.etag, atHead.headers.etag, `POST ${url}: the same ETag`);
  if (versioned) {
    const atCommit = await service.inject({
      url: `${readUrl(answer)}?version=${answer.commit as string}`,
      headers: auth(READER_KEY),
    });
    assert.deepEqual(answer, atCommit.json(), `POST ${url} answers what a read of its commit answers`);
  }
  return answer;
}

for (const backend of withServices) {
  test(`[${backend}] every create answers exactly what a read of its commit answers`, async (t) => {
    const service = await startService(t, backend);
    const created = await service.inject({
      method: 'POST',
      url: '/api/v1/patients',
      headers: json(WRITER_KEY),
      payload: patientBody(),
    });
    assert.equal(created.statusCode, 201, created.body);
    const base = `/api/v1/patients/${(created.json() as Json).patient_id as string}`;

    const letter = await assertAnswerIsTheRead(
      service,
      `${base}/letters`,
      {
        title: 'Synthetic clinic letter',
        body: '# Review\n\nNon-ASCII kept exactly: café, 血压, ✓\n',
        clinical_lists: [{ kind: 'diagnoses', items: [{ text: 'Hypertension' }] }],
      },
      (a) => `${base}/letters/${a.letter_id as string}`,
      true,
    );
    assert.equal(letter.superseded_by, null);
    const newer = await assertAnswerIsTheRead(
      service,
      `${base}/letters`,
      {
        title: 'Synthetic clinic letter, corrected',
        body: 'Replaces the first.\n',
        references: letter.letter_id,
      },
      (a) => `${base}/letters/${a.letter_id as string}`,
      true,
    );
    assert.equal(newer.references, letter.letter_id);
    const old = (
      await service.inject({ url: `${base}/letters/${letter.letter_id}`, headers: auth(READER_KEY) })
    ).json();
    assert.equal(old.superseded_by, newer.letter_id, 'the older letter now names the newer one');

    const reading = { recorded_at: '2026-05-01T09:00:00Z', systolic_mmhg: 138, diastolic_mmhg: 86 };
    const entry = await assertAnswerIsTheRead(
      service,
      `${base}/entries/blood_pressure`,
      reading,
      (a) => `${base}/entries/blood_pressure/${a.entry_id as string}`,
      true,
    );
    const superseding = await assertAnswerIsTheRead(
      service,
      `${base}/entries/blood_pressure/${entry.entry_id as string}:supersede`,
      { ...reading, systolic_mmhg: 136 },
      (a) => `${base}/entries/blood_pressure/${a.entry_id as string}`,
      true,
    );
    assert.equal(superseding.supersedes, entry.entry_id);

    const ledger = {
      participants: [
        { participant_id: 'test-clinician', role: 'clinician', display_name: 'Dr Ada Synthetic' },
        { participant_id: 'test-patient-app', role: 'patient', display_name: 'Testy Fixture' },
      ],
    };
    const thread = await assertAnswerIsTheRead(
      service,
      `${base}/threads`,
      { ledger, message: { body: 'First message.' } },
      (a) => `${base}/threads/${a.communication_id as string}`,
      true,
    );
    const replied = await assertAnswerIsTheRead(
      service,
      `${base}/threads/${thread.communication_id as string}/messages`,
      { body: 'A reply, with the first message kept above it.' },
      () => `${base}/threads/${thread.communication_id as string}`,
      true,
    );
    assert.equal(replied.messages.length, 2);

    const start = new Date(Date.now() + 2 * 24 * 3600_000);
    await assertAnswerIsTheRead(
      service,
      `${base}/appointments`,
      {
        status: 'booked',
        start: start.toISOString(),
        end: new Date(start.getTime() + 30 * 60_000).toISOString(),
        service_type: 'Diabetes review',
        care_location: CLINIC,
        participants: [
          { actor_id: 'test-clinician', display_name: 'Dr Ada Synthetic', role: 'practitioner' },
        ],
      },
      (a) => `${base}/appointments/${a.event_id as string}`,
      false,
    );
  });
}
