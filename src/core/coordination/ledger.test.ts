// A thread's ledger.yaml: every rule of the create and update requests (with the field path in
// the error and never the value), the status transitions and participant rules of an update,
// the file's fixed layout, the exact round trip (examples and properties, read with `yaml` and
// with js-yaml's core schema as the projection does) and lenient, restrictive reading.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CORE_SCHEMA, load } from 'js-yaml';
import { isVprError, type ErrorCode } from '../errors.js';
import { parseTimestampId } from '../ids/timestamp-id.js';
import {
  applyLedgerChange,
  canMoveStatus,
  communicationDir,
  communicationIdOfPath,
  createLedger,
  DEFAULT_POLICIES,
  DEFAULT_VISIBILITY,
  ledgerPath,
  MAX_PARTICIPANTS,
  MESSAGE_ROLES,
  parseLedgerChange,
  parseLedgerInput,
  readLedger,
  renderLedger,
  SENSITIVITIES,
  THREAD_STATUSES,
  touchLedger,
  type Ledger,
  type LedgerChange,
  type Participant,
  type ThreadStatus,
} from './ledger.js';

const communicationId = parseTimestampId('20260301T115900.000Z-0b9e6a4c-8f3d-4d2a-9c1e-5f6a7b8c9d0e');
const created = '2026-03-01T11:59:00.000Z';
const later = '2026-03-02T08:00:00.000Z';
const clinician: Participant = {
  participant_id: 'clin-1',
  role: 'clinician',
  display_name: 'Dr Testy Fixture',
};
const patient: Participant = { participant_id: 'patient:42', role: 'patient', display_name: 'Testy Patient' };
const admin: Participant = {
  participant_id: 'admin@example.org',
  role: 'careadministrator',
  display_name: 'Ward Office',
};

const ledger: Ledger = createLedger(
  communicationId,
  parseLedgerInput({ participants: [clinician, patient] }),
  created,
);

const participantsOf = (n: number): Participant[] =>
  Array.from({ length: n }, (_, i) => ({
    participant_id: `p${i}`,
    role: 'clinician',
    display_name: `P ${i}`,
  }));

function fails(code: ErrorCode, run: () => unknown, field?: string, message?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(isVprError(error, code), String(error));
    if (field !== undefined) assert.deepEqual(error.details, { field });
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

const refusesInput = (input: unknown, field: string, message?: RegExp) =>
  fails('INVALID_INPUT', () => parseLedgerInput(input), field, message);
const refusesChange = (input: unknown, field: string, message?: RegExp) =>
  fails('INVALID_INPUT', () => parseLedgerChange(input), field, message);

test('the roles and enums are the seed’s', () => {
  assert.deepEqual(MESSAGE_ROLES, [
    'clinician',
    'careadministrator',
    'patient',
    'patientassociate',
    'system',
  ]);
  assert.deepEqual(THREAD_STATUSES, ['open', 'closed', 'archived']);
  assert.deepEqual(SENSITIVITIES, ['standard', 'confidential', 'restricted']);
});

test('a thread lives in communications/<communication_id>/', () => {
  assert.equal(communicationDir(communicationId), `communications/${communicationId}`);
  assert.equal(ledgerPath(communicationId), `communications/${communicationId}/ledger.yaml`);
  assert.equal(communicationIdOfPath(`communications/${communicationId}/thread.md`), communicationId);
  assert.equal(communicationIdOfPath(`communications/not-an-id/thread.md`), undefined);
  assert.equal(communicationIdOfPath(`correspondence/letter/${communicationId}/body.md`), undefined);
});

test('a create request’s ledger takes the defaults for what it leaves out', () => {
  assert.deepEqual(parseLedgerInput({ participants: [clinician] }), {
    participants: [clinician],
    visibility: { sensitivity: 'standard', restricted: false },
    policies: { allow_patient_participation: true, allow_external_organisations: true },
  });
  assert.deepEqual(DEFAULT_VISIBILITY, { sensitivity: 'standard', restricted: false });
  assert.deepEqual(DEFAULT_POLICIES, {
    allow_patient_participation: true,
    allow_external_organisations: true,
  });
  assert.deepEqual(
    parseLedgerInput({
      participants: [clinician],
      visibility: null,
      policies: { allow_patient_participation: null },
    }),
    parseLedgerInput({ participants: [clinician] }),
  );
  assert.deepEqual(
    parseLedgerInput({
      participants: [
        { participant_id: '  clin-1 ', role: 'clinician', display_name: '  Dr Testy Fixture ' },
        patient,
        admin,
      ],
      visibility: { sensitivity: 'confidential' },
      policies: { allow_external_organisations: false },
    }),
    {
      participants: [clinician, patient, admin],
      visibility: { sensitivity: 'confidential', restricted: false },
      policies: { allow_patient_participation: true, allow_external_organisations: false },
    },
  );
  assert.deepEqual(
    parseLedgerInput({
      participants: [clinician],
      visibility: { sensitivity: 'restricted', restricted: true },
      policies: { allow_patient_participation: false, allow_external_organisations: false },
    }),
    {
      participants: [clinician],
      visibility: { sensitivity: 'restricted', restricted: true },
      policies: { allow_patient_participation: false, allow_external_organisations: false },
    },
  );
});

test('a new ledger is open and created and updated at once', () => {
  assert.deepEqual(ledger, {
    communication_id: communicationId,
    status: 'open',
    created_at: created,
    last_updated_at: created,
    participants: [clinician, patient],
    visibility: DEFAULT_VISIBILITY,
    policies: DEFAULT_POLICIES,
  });
});

test('a create request’s ledger is refused field by field', () => {
  refusesInput(undefined, 'body', /must be an object/);
  refusesInput([], 'body', /must be an object/);
  refusesInput({ participants: [clinician], status: 'open' }, 'status', /not a known field/);
  refusesInput({}, 'participants', /is required/);
  refusesInput({ participants: null }, 'participants', /is required/);
  refusesInput({ participants: clinician }, 'participants', /must be a list/);
  refusesInput({ participants: [] }, 'participants', /must not be empty/);
  refusesInput({ participants: participantsOf(MAX_PARTICIPANTS + 1) }, 'participants', /at most 100/);
  assert.equal(parseLedgerInput({ participants: participantsOf(MAX_PARTICIPANTS) }).participants.length, 100);
  refusesInput(
    { participants: [clinician, patient, { ...admin, participant_id: ' clin-1' }] },
    'participants[2].participant_id',
    /must not repeat/,
  );
  refusesInput({ participants: ['clin-1'] }, 'participants[0]', /must be an object/);
  refusesInput(
    { participants: [{ ...clinician, email: 'x@example.org' }] },
    'participants[0].email',
    /not a known field/,
  );
  refusesInput(
    { participants: [{ role: 'clinician', display_name: 'X' }] },
    'participants[0].participant_id',
    /must be a string/,
  );
  refusesInput(
    { participants: [{ ...clinician, participant_id: 42 }] },
    'participants[0].participant_id',
    /must be a string/,
  );
  refusesInput(
    { participants: [{ ...clinician, participant_id: '  ' }] },
    'participants[0].participant_id',
    /must not be empty/,
  );
  for (const bad of ['clin 1', 'clin/1', 'clín', 'a#b', 'a,b', 'ä']) {
    refusesInput(
      { participants: [{ ...clinician, participant_id: bad }] },
      'participants[0].participant_id',
      /letters, digits/,
    );
  }
  refusesInput(
    { participants: [{ ...clinician, participant_id: 'a\nb' }] },
    'participants[0].participant_id',
    /single line/,
  );
  refusesInput(
    { participants: [{ ...clinician, participant_id: 'a'.repeat(129) }] },
    'participants[0].participant_id',
    /at most 128/,
  );
  assert.equal(
    parseLedgerInput({ participants: [{ ...clinician, participant_id: 'A-z.0_9:@-'.padEnd(128, 'x') }] })
      .participants[0]?.participant_id.length,
    128,
  );
  refusesInput(
    { participants: [{ ...clinician, role: 'doctor' }] },
    'participants[0].role',
    /must be one of clinician/,
  );
  refusesInput(
    { participants: [{ ...clinician, role: 'Clinician' }] },
    'participants[0].role',
    /must be one of/,
  );
  refusesInput(
    { participants: [{ ...clinician, role: undefined }] },
    'participants[0].role',
    /must be one of/,
  );
  refusesInput(
    { participants: [{ ...clinician, display_name: undefined }] },
    'participants[0].display_name',
    /must be a string/,
  );
  refusesInput(
    { participants: [{ ...clinician, display_name: '' }] },
    'participants[0].display_name',
    /must not be empty/,
  );
  refusesInput(
    { participants: [{ ...clinician, display_name: 'Dr\nFixture' }] },
    'participants[0].display_name',
    /single line/,
  );
  refusesInput(
    { participants: [{ ...clinician, display_name: 'x'.repeat(201) }] },
    'participants[0].display_name',
    /at most 200/,
  );
  refusesInput({ participants: [clinician], visibility: 'standard' }, 'visibility', /must be an object/);
  refusesInput(
    { participants: [clinician], visibility: { level: 1 } },
    'visibility.level',
    /not a known field/,
  );
  refusesInput(
    { participants: [clinician], visibility: { sensitivity: 'secret' } },
    'visibility.sensitivity',
    /must be one of standard, confidential, restricted/,
  );
  refusesInput(
    { participants: [clinician], visibility: { restricted: 'yes' } },
    'visibility.restricted',
    /true or false/,
  );
  refusesInput({ participants: [clinician], policies: [] }, 'policies', /must be an object/);
  refusesInput(
    { participants: [clinician], policies: { allow_everything: true } },
    'policies.allow_everything',
    /not a known field/,
  );
  refusesInput(
    { participants: [clinician], policies: { allow_patient_participation: 1 } },
    'policies.allow_patient_participation',
    /true or false/,
  );
  refusesInput(
    { participants: [clinician], policies: { allow_external_organisations: 'false' } },
    'policies.allow_external_organisations',
    /true or false/,
  );
});

test('errors never carry the value that was refused', () => {
  const secret = 'Ms Secret Patient Name';
  for (const run of [
    () => parseLedgerInput({ participants: [{ ...clinician, participant_id: secret }] }),
    () => parseLedgerInput({ participants: [{ ...clinician, role: secret }] }),
    () => parseLedgerInput({ participants: [{ ...clinician, display_name: `${secret}\n`.repeat(20) }] }),
    () => parseLedgerInput({ participants: [clinician], visibility: { sensitivity: secret } }),
    () => parseLedgerChange({ status: secret }),
    () => parseLedgerChange({ remove_participants: [secret] }),
  ]) {
    assert.throws(run, (error: unknown) => {
      assert.ok(isVprError(error));
      assert.ok(!error.message.includes('Secret'), error.message);
      assert.ok(!JSON.stringify(error.details).includes('Secret'));
      return true;
    });
  }
});

test('the ledger part can sit inside a larger body', () => {
  const body = { ledger: { participants: [clinician, { ...patient, role: 'nurse' }] } };
  fails('INVALID_INPUT', () => parseLedgerInput(body.ledger, 'ledger'), 'ledger.participants[1].role');
  fails('INVALID_INPUT', () => parseLedgerInput({ participants: [] }, 'ledger'), 'ledger.participants');
  fails('INVALID_INPUT', () => parseLedgerInput({}, 'ledger'), 'ledger.participants');
  fails('INVALID_INPUT', () => parseLedgerInput('x', 'ledger'), 'ledger', /must be an object/);
  fails('INVALID_INPUT', () => parseLedgerInput({ participants: [clinician], message: {} }), 'message');
  assert.deepEqual(
    parseLedgerInput({ participants: [clinician], message: {} }, '', { allow: ['message'] }).participants,
    [clinician],
  );
});

test('an update request gives at least one change and each is checked', () => {
  assert.deepEqual(parseLedgerChange({ status: 'closed' }), { status: 'closed' });
  assert.deepEqual(
    parseLedgerChange({
      add_participants: [admin],
      remove_participants: [' patient:42 '],
      visibility: { restricted: true },
      policies: { allow_patient_participation: false },
      status: null,
    }),
    {
      add_participants: [admin],
      remove_participants: ['patient:42'],
      visibility: { restricted: true },
      policies: { allow_patient_participation: false },
    },
  );
  assert.deepEqual(parseLedgerChange({ visibility: { sensitivity: 'restricted', restricted: null } }), {
    visibility: { sensitivity: 'restricted' },
  });
  refusesChange(null, 'body', /must be an object/);
  refusesChange({}, 'body', /at least one of add_participants/);
  refusesChange({ status: null, visibility: null }, 'body', /at least one/);
  refusesChange({ status: 'closed', participants: [clinician] }, 'participants', /not a known field/);
  refusesChange({ status: 'reopened' }, 'status', /must be one of open, closed, archived/);
  refusesChange({ add_participants: [] }, 'add_participants', /must not be empty/);
  refusesChange({ add_participants: admin }, 'add_participants', /must be a list/);
  refusesChange({ add_participants: participantsOf(101) }, 'add_participants', /at most 100/);
  refusesChange(
    { add_participants: [admin, admin] },
    'add_participants[1].participant_id',
    /must not repeat/,
  );
  refusesChange({ add_participants: [{ ...admin, role: 'owner' }] }, 'add_participants[0].role');
  refusesChange({ remove_participants: [] }, 'remove_participants', /must not be empty/);
  refusesChange({ remove_participants: 'clin-1' }, 'remove_participants', /must be a list/);
  refusesChange({ remove_participants: ['clin-1', 'clin-1'] }, 'remove_participants[1]', /must not repeat/);
  refusesChange({ remove_participants: ['clin 1'] }, 'remove_participants[0]', /letters, digits/);
  refusesChange(
    { remove_participants: [{ participant_id: 'clin-1' }] },
    'remove_participants[0]',
    /must be a string/,
  );
  refusesChange(
    { add_participants: [admin, clinician], remove_participants: ['patient:42', 'clin-1'] },
    'remove_participants[1]',
    /must not also be added/,
  );
  refusesChange({ visibility: {} }, 'visibility', /must give sensitivity, restricted or both/);
  refusesChange({ visibility: { sensitivity: null } }, 'visibility', /must give/);
  refusesChange({ visibility: { audience: 'all' } }, 'visibility.audience', /not a known field/);
  refusesChange({ visibility: { sensitivity: 'public' } }, 'visibility.sensitivity', /must be one of/);
  refusesChange({ visibility: { restricted: 0 } }, 'visibility.restricted', /true or false/);
  refusesChange({ policies: {} }, 'policies', /at least one policy/);
  refusesChange(
    { policies: { allow_patient_participation: 'no' } },
    'policies.allow_patient_participation',
    /true or false/,
  );
  refusesChange({ policies: { allow_guests: true } }, 'policies.allow_guests', /not a known field/);
});

test('the status moves only open → closed → archived, or open → archived', () => {
  const allowed = new Set(['open→closed', 'open→archived', 'closed→archived']);
  for (const from of THREAD_STATUSES) {
    for (const to of THREAD_STATUSES) {
      const at: Ledger = { ...ledger, status: from };
      const ok = allowed.has(`${from}→${to}`);
      assert.equal(canMoveStatus(from, to), ok, `${from}→${to}`);
      if (ok) {
        assert.deepEqual(applyLedgerChange(at, { status: to }, later), {
          ...at,
          status: to,
          last_updated_at: later,
        });
      } else {
        fails('INVALID_STATE', () => applyLedgerChange(at, { status: to }, later));
      }
    }
  }
});

test('an archived ledger takes no change at all; a closed one still does', () => {
  const archived: Ledger = { ...ledger, status: 'archived' };
  const changes: LedgerChange[] = [
    { add_participants: [admin] },
    { remove_participants: ['patient:42'] },
    { visibility: { restricted: true } },
    { policies: { allow_external_organisations: false } },
  ];
  for (const change of changes) {
    fails('INVALID_STATE', () => applyLedgerChange(archived, change, later));
    assert.equal(applyLedgerChange({ ...ledger, status: 'closed' }, change, later).status, 'closed');
  }
});

test('participants are added once, removed only when present, and never all removed', () => {
  const added = applyLedgerChange(ledger, { add_participants: [admin] }, later);
  assert.deepEqual(added.participants, [clinician, patient, admin]);
  assert.equal(added.last_updated_at, later);
  assert.equal(added.created_at, created);
  assert.deepEqual(ledger.participants, [clinician, patient], 'the ledger given is not changed');

  fails(
    'ALREADY_EXISTS',
    () =>
      applyLedgerChange(
        ledger,
        { add_participants: [admin, { ...patient, role: 'patientassociate' }] },
        later,
      ),
    'add_participants[1].participant_id',
    /already/,
  );
  fails(
    'INVALID_INPUT',
    () => applyLedgerChange(ledger, { remove_participants: ['clin-1', 'nobody'] }, later),
    'remove_participants[1]',
    /not a participant/,
  );
  fails(
    'INVALID_INPUT',
    () => applyLedgerChange(ledger, { remove_participants: ['clin-1', 'patient:42'] }, later),
    'remove_participants',
    /at least one participant/,
  );
  const single: Ledger = { ...ledger, participants: [clinician] };
  fails(
    'INVALID_INPUT',
    () => applyLedgerChange(single, { remove_participants: ['clin-1'] }, later),
    'remove_participants',
  );
  assert.deepEqual(
    applyLedgerChange(single, { remove_participants: ['clin-1'], add_participants: [admin] }, later)
      .participants,
    [admin],
    'a participant may be replaced in one change',
  );
  assert.deepEqual(applyLedgerChange(ledger, { remove_participants: ['clin-1'] }, later).participants, [
    patient,
  ]);
  const full: Ledger = { ...ledger, participants: participantsOf(MAX_PARTICIPANTS) };
  fails(
    'INVALID_INPUT',
    () => applyLedgerChange(full, { add_participants: [admin] }, later),
    'add_participants',
    /at most 100/,
  );
  assert.equal(
    applyLedgerChange(full, { remove_participants: ['p0'], add_participants: [admin] }, later).participants
      .length,
    MAX_PARTICIPANTS,
  );
});

test('visibility and policies change only in the fields given', () => {
  const changed = applyLedgerChange(
    ledger,
    { visibility: { sensitivity: 'confidential' }, policies: { allow_external_organisations: false } },
    later,
  );
  assert.deepEqual(changed, {
    ...ledger,
    last_updated_at: later,
    visibility: { sensitivity: 'confidential', restricted: false },
    policies: { allow_patient_participation: true, allow_external_organisations: false },
  });
  const parsed = parseLedgerChange({ visibility: { restricted: true }, status: 'closed' });
  assert.deepEqual(applyLedgerChange(changed, parsed, later), {
    ...changed,
    status: 'closed',
    visibility: { sensitivity: 'confidential', restricted: true },
  });
});

test('touching a ledger moves last_updated_at only', () => {
  assert.deepEqual(touchLedger(ledger, later), { ...ledger, last_updated_at: later });
  assert.equal(ledger.last_updated_at, created);
});

test('ledger.yaml has a fixed layout', () => {
  const text = renderLedger({
    ...ledger,
    participants: [
      clinician,
      patient,
      { participant_id: '0b101', role: 'system', display_name: 'true' },
      { participant_id: '-0xA', role: 'system', display_name: '+0o7' },
    ],
  });
  assert.equal(
    text,
    [
      `communication_id: ${communicationId}`,
      'status: open',
      `created_at: ${created}`,
      `last_updated_at: ${created}`,
      'participants:',
      '  - participant_id: clin-1',
      '    role: clinician',
      '    display_name: Dr Testy Fixture',
      '  - participant_id: patient:42',
      '    role: patient',
      '    display_name: Testy Patient',
      '  - participant_id: "0b101"',
      '    role: system',
      '    display_name: "true"',
      '  - participant_id: "-0xA"',
      '    role: system',
      '    display_name: "+0o7"',
      'visibility:',
      '  sensitivity: standard',
      '  restricted: false',
      'policies:',
      '  allow_patient_participation: true',
      '  allow_external_organisations: true',
      '',
    ].join('\n'),
  );
});

// Properties: any valid ledger survives render → read exactly, with both YAML readers.

/** Records with Object.prototype, as the readers make them (deepEqual compares prototypes). */
const plain = { noNullPrototype: true } as const;
const idChar = fc.constantFrom(...'ABCXYZabcxyz0123456789._:@-'.split(''));
const participantId = fc.oneof(
  fc.string({ unit: idChar, minLength: 1, maxLength: 128 }),
  fc.constantFrom(
    '0b1',
    '-0b1',
    '0b10',
    '-0xA',
    '-0o7',
    '0x1F',
    '0o17',
    '1e3',
    '1_000',
    '12:30',
    'null',
    'true',
    '.inf',
    '-',
    '.',
  ),
);
const displayName = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom('"', "'", ':', '#', '- ', '&', '*', '!', '|', '>', '%', '@', '`'),
      fc.string({ unit: 'grapheme', maxLength: 1 }),
    ),
    minLength: 1,
    maxLength: 60,
  })
  .map((s) => s.trim())
  .filter((s) => {
    try {
      parseLedgerInput({ participants: [{ participant_id: 'x', role: 'system', display_name: s }] });
      return true;
    } catch {
      return false;
    }
  });
const participant = fc.record(
  {
    participant_id: participantId,
    role: fc.constantFrom(...MESSAGE_ROLES),
    display_name: displayName,
  },
  plain,
);
const instant = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
const anyLedger: fc.Arbitrary<Ledger> = fc.record(
  {
    communication_id: fc.constant(communicationId),
    status: fc.constantFrom<ThreadStatus>(...THREAD_STATUSES),
    created_at: instant,
    last_updated_at: instant,
    participants: fc.uniqueArray(participant, {
      minLength: 1,
      maxLength: 8,
      selector: (p) => p.participant_id,
    }),
    visibility: fc.record(
      { sensitivity: fc.constantFrom(...SENSITIVITIES), restricted: fc.boolean() },
      plain,
    ),
    policies: fc.record(
      {
        allow_patient_participation: fc.boolean(),
        allow_external_organisations: fc.boolean(),
      },
      plain,
    ),
  },
  plain,
);

test('property: a ledger reads back exactly as it was rendered, with yaml and with js-yaml', () => {
  fc.assert(
    fc.property(anyLedger, (l) => {
      const text = renderLedger(l);
      assert.deepEqual(readLedger(text), l);
      assert.deepEqual(load(text, { schema: CORE_SCHEMA }), JSON.parse(JSON.stringify(l)));
      assert.equal(renderLedger(readLedger(text)!), text);
    }),
    { numRuns: 300 },
  );
});

test('property: what a valid request parses to, a valid change applies to', () => {
  fc.assert(
    fc.property(
      anyLedger,
      fc.uniqueArray(participant, { minLength: 1, maxLength: 4, selector: (p) => p.participant_id }),
      (l, extra) => {
        const open: Ledger = { ...l, status: 'open' };
        const fresh = extra.filter(
          (p) => !open.participants.some((q) => q.participant_id === p.participant_id),
        );
        if (fresh.length === 0) return;
        const change = parseLedgerChange({ add_participants: fresh, status: 'closed' });
        const next = applyLedgerChange(open, change, later);
        assert.deepEqual(next.participants, [...open.participants, ...fresh]);
        assert.equal(next.status, 'closed');
        assert.deepEqual(readLedger(renderLedger(next)), next);
      },
    ),
    { numRuns: 100 },
  );
});

test('a ledger is read leniently, and what cannot be read is restrictive', () => {
  const text = renderLedger(ledger);
  assert.equal(readLedger('not: [yaml'), undefined);
  assert.equal(readLedger('- a\n- b\n'), undefined);
  assert.equal(readLedger(''), undefined);
  assert.equal(readLedger(text.replace('status: open', 'status: reopened')), undefined);
  assert.equal(readLedger(text.replace(/^status: open\n/m, '')), undefined);
  assert.equal(readLedger(text.replace(communicationId, 'thread-1')), undefined);
  assert.equal(
    readLedger(`anchor: &a x\n${text}`.replace('created_at: ', 'created_at: *a #')),
    undefined,
    'aliases refused',
  );

  const minimal = readLedger(`communication_id: ${communicationId}\nstatus: closed\n`);
  assert.deepEqual(minimal, {
    communication_id: communicationId,
    status: 'closed',
    created_at: '',
    last_updated_at: '',
    participants: [],
    visibility: { sensitivity: 'restricted', restricted: true },
    policies: { allow_patient_participation: false, allow_external_organisations: false },
  });

  const odd = readLedger(
    [
      `communication_id: ${communicationId}`,
      'status: open',
      `created_at: ${created}`,
      `last_updated_at: ${later}`,
      'extra: kept out',
      'participants:',
      '  - participant_id: clin-1',
      '    role: clinician',
      '  - participant_id: clin-1',
      '    role: patient',
      '    display_name: Second',
      '  - participant_id: x',
      '    role: nurse',
      '  - role: patient',
      '  - just text',
      'visibility:',
      '  sensitivity: secret',
      '  restricted: "no"',
      'policies:',
      '  allow_patient_participation: true',
      '',
    ].join('\n'),
  );
  assert.deepEqual(odd, {
    communication_id: communicationId,
    status: 'open',
    created_at: created,
    last_updated_at: later,
    participants: [{ participant_id: 'clin-1', role: 'clinician', display_name: 'clin-1' }],
    visibility: { sensitivity: 'restricted', restricted: true },
    policies: { allow_patient_participation: true, allow_external_organisations: false },
  });
});
