// Care events (appointments, encounters, referrals): every input rule of each kind (the field
// path in the error, never the value), the FHIR status workflow pair by pair, the FHIR-style YAML
// each is stored as, the exact round trip (examples and a property), lenient and safe reading of
// files that are not care events, paths and list summaries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CORE_SCHEMA, load } from 'js-yaml';
import { parse } from 'yaml';
import { isVprError } from '../errors.js';
import type { TimestampId } from '../ids/timestamp-id.js';
import {
  APPOINTMENT_STATUSES,
  CARE_EVENT_KINDS,
  CARE_EVENT_STATUSES,
  ENCOUNTER_CLASSES,
  ENCOUNTER_STATUSES,
  PARTICIPANT_REQUIRED,
  PARTICIPATION_STATUSES,
  REFERRAL_INTENTS,
  REFERRAL_PRIORITIES,
  REFERRAL_STATUSES,
  allowedTransitions,
  assertStatusTransition,
  careEventOfPath,
  careEventPath,
  careEventSummary,
  isFinalStatus,
  parseCareEventInput,
  readCareEvent,
  renderCareEvent,
  type CareEventInput,
  type CareEventKind,
  type CareEventStatus,
} from './care-events.js';

const now = new Date('2026-03-01T12:00:00Z');
const id = '20260301T115900.000Z-0b9e6a4c-8f3d-4d2a-9c1e-5f6a7b8c9d0e' as TimestampId;
const referralId = '20260201T080000.000Z-1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f' as TimestampId;
const letterId = '20260115T101500.250Z-2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a' as TimestampId;
const recordedBy = { name: 'Dr Testy Fixture', role: 'Clinician' };

const clinician = { actor_id: 'Practitioner/gp-1', display_name: 'Dr A Jones', role: 'practitioner' };
const patient = { display_name: 'The patient', role: 'patient' };

const appointment = {
  start: '2026-03-10T09:30:00Z',
  end: '2026-03-10T09:45:00Z',
  care_location: 'Riverside Surgery',
  participants: [clinician],
};
const encounter = {
  status: 'in-progress',
  class: 'AMB',
  period: { start: '2026-03-01T09:30:00Z' },
  care_location: 'Riverside Surgery',
  participants: [clinician],
};
const referral = {
  status: 'active',
  service: { text: 'Cardiology outpatient assessment' },
  requester: { display_name: 'Dr A Jones' },
};

const minimal: Record<CareEventKind, Record<string, unknown>> = { appointment, encounter, referral };

/** Every optional field of every kind given, in a form the parser canonicalises. */
const full: Record<CareEventKind, Record<string, unknown>> = {
  appointment: {
    kind: 'appointment',
    status: 'cancelled',
    start: '2026-03-10t10:30:00.5+01:00',
    end: '2026-03-10T10:00:00Z',
    minutes_duration: 20,
    service_type: '  Diabetes   review ',
    appointment_type: 'Follow-up',
    reason: { text: 'Type 2 diabetes', code: { system: 'http://snomed.info/sct', code: '44054006' } },
    description: 'Bring your blood glucose diary.\r\n\tFasting from midnight.',
    care_location: 'Riverside Surgery, Room 2',
    participants: [
      { ...clinician, required: 'required', status: 'accepted' },
      { ...patient, required: 'required', status: 'needs-action' },
      { actor_id: 'Location/room-2', display_name: 'Room 2', role: 'location', required: 'information-only' },
    ],
    cancellation_reason: 'Clinician unwell',
    based_on_referral: referralId,
    clinical_refs: [letterId, referralId],
  },
  encounter: {
    status: 'finished',
    class: 'VR',
    period: { start: '2026-03-01T09:30:00+00:00', end: '2026-03-01T09:30:00Z' },
    care_location: 'Virtual clinic',
    participants: [clinician, patient],
    reason: { text: 'Medication review' },
    appointment_id: id,
    clinical_refs: [letterId],
  },
  referral: {
    status: 'draft',
    intent: 'proposal',
    priority: 'urgent',
    service: { text: 'Cardiology', code: { system: 'http://snomed.info/sct', code: '183519002' } },
    reason: { text: 'Palpitations' },
    requester: { actor_id: 'Practitioner/gp-1', display_name: 'Dr A Jones' },
    performer: { display_name: 'Cardiology department', organisation: 'St Elsewhere Hospital' },
    occurrence: '2026-04-01T09:00:00Z',
    authored_on: '2026-02-28T16:00:00-05:00',
    notes: 'Please see within two weeks.\nECG attached.',
    clinical_refs: [letterId],
  },
};

const parseAs = (kind: CareEventKind, body: unknown) => parseCareEventInput(kind, body, now);
const render = (event: CareEventInput) => renderCareEvent({ id, event, recordedBy });

function refuses(kind: unknown, body: unknown, field: string): void {
  assert.throws(
    () => parseCareEventInput(kind, body, now),
    (error: unknown) => {
      assert.ok(isVprError(error, 'INVALID_INPUT'), String(error));
      assert.deepEqual(error.details, { field }, error.message);
      assert.ok(error.message.startsWith(`${field}: `), error.message);
      return true;
    },
    `${String(kind)} ${field}`,
  );
}

// ---- Valid input -----------------------------------------------------------------------------

test('minimal valid events of each kind are accepted, defaults filled in', () => {
  assert.deepEqual(parseAs('appointment', appointment), {
    kind: 'appointment',
    status: 'booked',
    ...appointment,
  });
  assert.deepEqual(parseAs('encounter', encounter), { kind: 'encounter', ...encounter });
  assert.deepEqual(parseAs('referral', referral), {
    kind: 'referral',
    ...referral,
    intent: 'order',
    priority: 'routine',
    authored_on: '2026-03-01T12:00:00.000Z',
  });
});

test('every optional field of each kind is accepted and canonicalised', () => {
  const { kind: _kind, ...appointmentBody } = full.appointment;
  assert.deepEqual(parseAs('appointment', full.appointment), {
    ...appointmentBody,
    kind: 'appointment',
    start: '2026-03-10T10:30:00.5+01:00',
    service_type: 'Diabetes review',
    description: 'Bring your blood glucose diary.\n\tFasting from midnight.',
  });
  assert.deepEqual(parseAs('encounter', full.encounter), { kind: 'encounter', ...full.encounter });
  assert.deepEqual(parseAs('referral', full.referral), { kind: 'referral', ...full.referral });
});

test('appointments without times are accepted while unscheduled; null means not given', () => {
  for (const status of ['proposed', 'pending', 'waitlist', 'cancelled', 'entered-in-error']) {
    const { start: _s, end: _e, ...body } = appointment;
    assert.equal(parseAs('appointment', { ...body, status }).status, status);
  }
  const parsed = parseAs('appointment', { ...appointment, reason: null, clinical_refs: [] });
  assert.deepEqual(parsed, { kind: 'appointment', status: 'booked', ...appointment });
  // A 15-minute appointment may ask for exactly 15 minutes.
  assert.equal(parseAs('appointment', { ...appointment, minutes_duration: 15 }).kind, 'appointment');
});

// ---- Every rule refused with its field path ----------------------------------------------------

test('the kind and the body shape are checked', () => {
  refuses('meeting', appointment, 'kind');
  refuses(undefined, appointment, 'kind');
  refuses('appointment', [], 'body');
  refuses('appointment', null, 'body');
  refuses('appointment', { ...appointment, kind: 'encounter' }, 'kind');
  refuses('appointment', { ...appointment, colour: 'red' }, 'colour');
  refuses('encounter', { ...encounter, start: appointment.start }, 'start');
  refuses('referral', { ...referral, care_location: 'Riverside Surgery' }, 'care_location');
});

test('appointment rules', () => {
  const a = appointment;
  const { start: _s, end: _e, ...unscheduled } = a;
  refuses('appointment', { ...a, status: 'done' }, 'status');
  refuses('appointment', { ...a, status: 'Booked' }, 'status');
  refuses('appointment', unscheduled, 'start');
  refuses('appointment', { ...unscheduled, status: 'arrived' }, 'start');
  refuses('appointment', { ...unscheduled, status: 'proposed', end: a.end }, 'start');
  refuses('appointment', { ...a, end: undefined }, 'end');
  refuses('appointment', { ...unscheduled, status: 'proposed', start: a.start }, 'end');
  refuses('appointment', { ...a, start: '2026-03-10 09:30' }, 'start');
  refuses('appointment', { ...a, start: '2026-03-10T09:30:00' }, 'start');
  refuses('appointment', { ...a, start: '2026-02-30T09:30:00Z' }, 'start');
  refuses('appointment', { ...a, start: 1773135000000 }, 'start');
  refuses('appointment', { ...a, start: '1899-12-31T09:30:00Z', end: '1899-12-31T10:00:00Z' }, 'start');
  refuses('appointment', { ...a, start: '2036-03-10T09:30:00Z', end: '2036-03-10T10:00:00Z' }, 'start');
  refuses('appointment', { ...a, end: '2026-03-10T25:00:00Z' }, 'end');
  refuses('appointment', { ...a, end: a.start }, 'end');
  refuses('appointment', { ...a, end: '2026-03-10T10:15:00+01:00' }, 'end');
  refuses('appointment', { ...a, minutes_duration: 0 }, 'minutes_duration');
  refuses('appointment', { ...a, minutes_duration: 7.5 }, 'minutes_duration');
  refuses('appointment', { ...a, minutes_duration: '15' }, 'minutes_duration');
  refuses('appointment', { ...a, minutes_duration: 16 }, 'minutes_duration');
  refuses(
    'appointment',
    { ...unscheduled, status: 'waitlist', minutes_duration: 10_081 },
    'minutes_duration',
  );
  refuses('appointment', { ...a, service_type: '' }, 'service_type');
  refuses('appointment', { ...a, service_type: 'Two\nlines' }, 'service_type');
  refuses('appointment', { ...a, service_type: 'x'.repeat(201) }, 'service_type');
  refuses('appointment', { ...a, appointment_type: ['Follow-up'] }, 'appointment_type');
  refuses('appointment', { ...a, reason: 'Diabetes' }, 'reason');
  refuses('appointment', { ...a, reason: {} }, 'reason.text');
  refuses('appointment', { ...a, reason: { text: 'x'.repeat(501) } }, 'reason.text');
  refuses('appointment', { ...a, reason: { text: 'Diabetes', display: 'x' } }, 'reason.display');
  refuses('appointment', { ...a, reason: { text: 'Diabetes', code: '44054006' } }, 'reason.code');
  refuses(
    'appointment',
    { ...a, reason: { text: 'Diabetes', code: { code: '44054006' } } },
    'reason.code.system',
  );
  refuses(
    'appointment',
    { ...a, reason: { text: 'Diabetes', code: { system: 'SNOMED', code: 'x'.repeat(65) } } },
    'reason.code.code',
  );
  refuses('appointment', { ...a, description: '   ' }, 'description');
  refuses('appointment', { ...a, description: 'x'.repeat(2001) }, 'description');
  refuses('appointment', { ...a, description: 'Bell\u0007' }, 'description');
  refuses('appointment', { ...a, care_location: undefined }, 'care_location');
  refuses('appointment', { ...a, care_location: 42 }, 'care_location');
  refuses('appointment', { ...a, participants: undefined }, 'participants');
  refuses('appointment', { ...a, participants: [] }, 'participants');
  refuses('appointment', { ...a, participants: clinician }, 'participants');
  refuses('appointment', { ...a, participants: Array(33).fill(clinician) }, 'participants');
  refuses('appointment', { ...a, participants: [clinician, 'Dr B'] }, 'participants[1]');
  refuses('appointment', { ...a, participants: [{ ...clinician, email: 'x' }] }, 'participants[0].email');
  refuses('appointment', { ...a, participants: [{ role: 'patient' }] }, 'participants[0].display_name');
  refuses('appointment', { ...a, participants: [{ display_name: 'Dr A' }] }, 'participants[0].role');
  refuses(
    'appointment',
    { ...a, participants: [{ ...patient, role: 'x'.repeat(65) }] },
    'participants[0].role',
  );
  refuses(
    'appointment',
    { ...a, participants: [{ ...clinician, actor_id: 'gp 1' }] },
    'participants[0].actor_id',
  );
  refuses('appointment', { ...a, participants: [{ ...clinician, actor_id: 7 }] }, 'participants[0].actor_id');
  refuses(
    'appointment',
    { ...a, participants: [{ ...clinician, actor_id: 'a'.repeat(129) }] },
    'participants[0].actor_id',
  );
  refuses(
    'appointment',
    { ...a, participants: [{ ...clinician, required: 'yes' }] },
    'participants[0].required',
  );
  refuses(
    'appointment',
    { ...a, participants: [{ ...clinician, status: 'booked' }] },
    'participants[0].status',
  );
  refuses('appointment', { ...a, cancellation_reason: 'Unwell' }, 'cancellation_reason');
  refuses('appointment', { ...a, status: 'cancelled', cancellation_reason: 'a\tb' }, 'cancellation_reason');
  refuses('appointment', { ...a, based_on_referral: 'referral-1' }, 'based_on_referral');
  refuses('appointment', { ...a, clinical_refs: letterId }, 'clinical_refs');
  refuses('appointment', { ...a, clinical_refs: [letterId, 'letter-2'] }, 'clinical_refs[1]');
  refuses('appointment', { ...a, clinical_refs: [letterId, letterId] }, 'clinical_refs');
  refuses('appointment', { ...a, clinical_refs: Array(33).fill(letterId) }, 'clinical_refs');
});

test('encounter rules', () => {
  const e = encounter;
  refuses('encounter', { ...e, status: undefined }, 'status');
  refuses('encounter', { ...e, status: 'booked' }, 'status');
  refuses('encounter', { ...e, class: undefined }, 'class');
  refuses('encounter', { ...e, class: 'amb' }, 'class');
  refuses('encounter', { ...e, class: { code: 'AMB' } }, 'class');
  refuses('encounter', { ...e, period: undefined }, 'period');
  refuses('encounter', { ...e, period: e.period.start }, 'period');
  refuses('encounter', { ...e, period: {} }, 'period.start');
  refuses('encounter', { ...e, period: { ...e.period, length: 5 } }, 'period.length');
  refuses('encounter', { ...e, period: { start: '2026-03-01' } }, 'period.start');
  refuses('encounter', { ...e, period: { ...e.period, end: '2026-03-01T10:00:00Z' } }, 'period.end');
  refuses(
    'encounter',
    { ...e, status: 'finished', period: { ...e.period, end: '2026-03-01T09:29:59.999Z' } },
    'period.end',
  );
  refuses('encounter', { ...e, status: 'finished', period: { ...e.period, end: 'soon' } }, 'period.end');
  refuses('encounter', { ...e, care_location: '' }, 'care_location');
  refuses('encounter', { ...e, participants: [] }, 'participants');
  refuses(
    'encounter',
    { ...e, participants: [{ ...clinician, status: 'accepted' }] },
    'participants[0].status',
  );
  refuses(
    'encounter',
    { ...e, participants: [clinician, { ...patient, display_name: null }] },
    'participants[1].display_name',
  );
  refuses('encounter', { ...e, reason: { code: { system: 'SNOMED', code: '1' } } }, 'reason.text');
  refuses('encounter', { ...e, appointment_id: 42 }, 'appointment_id');
  refuses('encounter', { ...e, clinical_refs: [null] }, 'clinical_refs[0]');
});

test('referral rules', () => {
  const r = referral;
  refuses('referral', { ...r, status: undefined }, 'status');
  refuses('referral', { ...r, status: 'cancelled' }, 'status');
  refuses('referral', { ...r, intent: 'instance-order' }, 'intent');
  refuses('referral', { ...r, priority: 'high' }, 'priority');
  refuses('referral', { ...r, service: undefined }, 'service');
  refuses('referral', { ...r, service: 'Cardiology' }, 'service');
  refuses('referral', { ...r, service: { text: 'x'.repeat(201) } }, 'service.text');
  refuses(
    'referral',
    { ...r, service: { text: 'Cardiology', code: { system: 'SNOMED' } } },
    'service.code.code',
  );
  refuses('referral', { ...r, reason: { text: 'a\u2028b' } }, 'reason.text');
  refuses('referral', { ...r, requester: undefined }, 'requester');
  refuses('referral', { ...r, requester: {} }, 'requester.display_name');
  refuses('referral', { ...r, requester: { display_name: 'Dr A', role: 'gp' } }, 'requester.role');
  refuses('referral', { ...r, requester: { display_name: 'Dr A', actor_id: '/gp' } }, 'requester.actor_id');
  refuses('referral', { ...r, performer: 'Cardiology' }, 'performer');
  refuses('referral', { ...r, performer: { organisation: 'St Elsewhere' } }, 'performer.display_name');
  refuses(
    'referral',
    { ...r, performer: { display_name: 'Cardiology', organisation: '' } },
    'performer.organisation',
  );
  refuses(
    'referral',
    { ...r, performer: { display_name: 'Cardiology', organization: 'x' } },
    'performer.organization',
  );
  refuses('referral', { ...r, occurrence: '2026-04-01' }, 'occurrence');
  refuses('referral', { ...r, occurrence: '2040-04-01T09:00:00Z' }, 'occurrence');
  refuses('referral', { ...r, authored_on: '2026-03-01T12:05:01Z' }, 'authored_on');
  refuses('referral', { ...r, authored_on: '2026-03-01T12:00:00+15:00' }, 'authored_on');
  refuses('referral', { ...r, notes: 12 }, 'notes');
  refuses('referral', { ...r, notes: 'x'.repeat(2001) }, 'notes');
  refuses('referral', { ...r, clinical_refs: {} }, 'clinical_refs');
  // Five minutes of clock skew are tolerated.
  assert.equal(parseAs('referral', { ...r, authored_on: '2026-03-01T12:05:00Z' }).kind, 'referral');
});

test('error messages never carry the value that was refused', () => {
  const secret = 'Zebedee-Quux-7731';
  const bodies: [CareEventKind, Record<string, unknown>][] = [
    ['appointment', { ...appointment, status: secret }],
    ['appointment', { ...appointment, start: secret }],
    ['appointment', { ...appointment, start: `2026-13-01T09:00:00Z` }],
    ['appointment', { ...appointment, service_type: `${secret}\nand more` }],
    ['appointment', { ...appointment, service_type: secret.repeat(20) }],
    ['appointment', { ...appointment, participants: [{ ...clinician, actor_id: `${secret} x` }] }],
    ['appointment', { ...appointment, participants: [{ ...clinician, required: secret }] }],
    ['appointment', { ...appointment, cancellation_reason: secret }],
    ['appointment', { ...appointment, based_on_referral: secret }],
    ['appointment', { ...appointment, minutes_duration: secret }],
    ['encounter', { ...encounter, class: secret }],
    ['encounter', { ...encounter, period: { start: secret } }],
    ['referral', { ...referral, priority: secret }],
    ['referral', { ...referral, notes: `${secret}\u0000` }],
    ['referral', { ...referral, clinical_refs: [secret] }],
  ];
  for (const [kind, body] of bodies) {
    assert.throws(
      () => parseCareEventInput(kind, body, now),
      (error: unknown) => {
        assert.ok(isVprError(error, 'INVALID_INPUT'), String(error));
        assert.ok(!error.message.includes(secret), error.message);
        assert.ok(!error.message.includes('2026-13'), error.message);
        return true;
      },
    );
  }
  // A field's name is its path, the one thing a message does name; an unknown kind is not echoed.
  assert.throws(
    () => parseCareEventInput(secret, appointment, now),
    (e: unknown) => {
      assert.ok(isVprError(e) && !e.message.includes(secret));
      return true;
    },
  );
});

// ---- Status transitions --------------------------------------------------------------------------

/** The brief's workflow, written out independently of the module's table. */
const EXPECTED: { readonly [K in CareEventKind]: Readonly<Record<CareEventStatus<K>, readonly string[]>> } = {
  appointment: {
    proposed: ['pending', 'booked', 'waitlist', 'cancelled', 'entered-in-error'],
    pending: ['booked', 'waitlist', 'cancelled', 'entered-in-error'],
    waitlist: ['proposed', 'pending', 'booked', 'cancelled', 'entered-in-error'],
    booked: ['arrived', 'checked-in', 'cancelled', 'noshow', 'entered-in-error'],
    arrived: ['checked-in', 'fulfilled', 'cancelled', 'entered-in-error'],
    'checked-in': ['fulfilled', 'cancelled', 'entered-in-error'],
    fulfilled: ['entered-in-error'],
    cancelled: ['entered-in-error'],
    noshow: ['entered-in-error'],
    'entered-in-error': [],
  },
  encounter: {
    planned: ['arrived', 'triaged', 'in-progress', 'cancelled', 'entered-in-error'],
    arrived: ['triaged', 'in-progress', 'cancelled', 'entered-in-error'],
    triaged: ['in-progress', 'cancelled', 'entered-in-error'],
    'in-progress': ['onleave', 'finished', 'cancelled', 'entered-in-error'],
    onleave: ['in-progress', 'finished', 'entered-in-error'],
    finished: ['entered-in-error'],
    cancelled: ['entered-in-error'],
    'entered-in-error': [],
    unknown: ENCOUNTER_STATUSES.filter((s) => s !== 'unknown'),
  },
  referral: {
    draft: ['active', 'revoked', 'entered-in-error'],
    active: ['on-hold', 'completed', 'revoked', 'entered-in-error'],
    'on-hold': ['active', 'revoked', 'entered-in-error'],
    completed: ['entered-in-error'],
    revoked: ['entered-in-error'],
    'entered-in-error': [],
    unknown: REFERRAL_STATUSES.filter((s) => s !== 'unknown'),
  },
};

test('every pair of statuses: the allowed transitions pass, all others are INVALID_STATE', () => {
  let allowed = 0;
  let refused = 0;
  for (const kind of CARE_EVENT_KINDS) {
    const statuses = CARE_EVENT_STATUSES[kind] as readonly CareEventStatus[];
    const expected = EXPECTED[kind] as Readonly<Record<string, readonly string[]>>;
    assert.deepEqual(Object.keys(expected).sort(), [...statuses].sort());
    for (const from of statuses) {
      assert.deepEqual(
        [...allowedTransitions(kind, from)].sort(),
        [...expected[from]!].sort(),
        `${kind} ${from}`,
      );
      for (const to of statuses) {
        const ok = from === to || expected[from]!.includes(to);
        if (ok) {
          assert.doesNotThrow(() => assertStatusTransition(kind, from, to), `${kind} ${from} → ${to}`);
          allowed += 1;
        } else {
          assert.throws(
            () => assertStatusTransition(kind, from, to),
            (error: unknown) => {
              assert.ok(isVprError(error, 'INVALID_STATE'), String(error));
              assert.ok(!error.message.includes(from), error.message);
              assert.ok(!error.message.includes(to), error.message);
              assert.deepEqual(error.details, { field: 'status', from, to, allowed: expected[from] });
              return true;
            },
            `${kind} ${from} → ${to}`,
          );
          refused += 1;
        }
      }
    }
  }
  assert.ok(allowed > 60 && refused > 100, `${allowed} allowed, ${refused} refused`);
});

test('a sample of transitions FHIR does not allow', () => {
  const refused: [CareEventKind, string, string][] = [
    ['appointment', 'fulfilled', 'booked'],
    ['appointment', 'cancelled', 'booked'],
    ['appointment', 'noshow', 'arrived'],
    ['appointment', 'proposed', 'noshow'],
    ['appointment', 'arrived', 'noshow'],
    ['appointment', 'arrived', 'booked'],
    ['appointment', 'checked-in', 'arrived'],
    ['appointment', 'booked', 'fulfilled'],
    ['appointment', 'entered-in-error', 'booked'],
    ['encounter', 'finished', 'in-progress'],
    ['encounter', 'planned', 'finished'],
    ['encounter', 'onleave', 'cancelled'],
    ['encounter', 'in-progress', 'planned'],
    ['encounter', 'triaged', 'unknown'],
    ['referral', 'completed', 'active'],
    ['referral', 'draft', 'completed'],
    ['referral', 'on-hold', 'completed'],
    ['referral', 'revoked', 'draft'],
    ['referral', 'active', 'draft'],
  ];
  for (const [kind, from, to] of refused) {
    assert.throws(
      () => assertStatusTransition(kind, from as CareEventStatus, to as CareEventStatus),
      (e: unknown) => isVprError(e, 'INVALID_STATE'),
      `${kind} ${from} → ${to}`,
    );
  }
  assert.ok(isFinalStatus('appointment', 'noshow'));
  assert.ok(isFinalStatus('encounter', 'entered-in-error'));
  assert.ok(!isFinalStatus('referral', 'on-hold'));
});

test('transitions to a status the kind does not have, or from one unknown, are refused', () => {
  assert.throws(
    () => assertStatusTransition('referral', 'active', 'booked' as CareEventStatus<'referral'>),
    (e: unknown) => isVprError(e, 'INVALID_INPUT') && e.details?.field === 'status',
  );
  assert.throws(
    () => assertStatusTransition('meeting' as CareEventKind, 'booked', 'booked'),
    (e: unknown) => isVprError(e, 'INVALID_INPUT') && e.details?.field === 'kind',
  );
  assert.throws(
    () => assertStatusTransition('encounter', 'Zebedee' as CareEventStatus<'encounter'>, 'finished'),
    (e: unknown) =>
      isVprError(e, 'INVALID_STATE') && !e.message.includes('Zebedee') && e.details?.from === null,
  );
});

// ---- Paths -------------------------------------------------------------------------------------

test('each kind has its folder, and paths map back to kind and id', () => {
  assert.equal(careEventPath('appointment', id), `appointments/${id}.yaml`);
  assert.equal(careEventPath('encounter', id), `encounters/${id}.yaml`);
  assert.equal(careEventPath('referral', id), `referrals/${id}.yaml`);
  for (const kind of CARE_EVENT_KINDS)
    assert.deepEqual(careEventOfPath(careEventPath(kind, id)), { kind, id });
  for (const path of [
    `appointment/${id}.yaml`,
    `appointments/${id}.yml`,
    `appointments/x/${id}.yaml`,
    'appointments/not-an-id.yaml',
    `threads/${id}.yaml`,
    `/appointments/${id}.yaml`,
    'COORDINATION_STATUS.yaml',
  ]) {
    assert.equal(careEventOfPath(path), undefined, path);
  }
});

// ---- Writing and reading back ----------------------------------------------------------------

test('an appointment is written as a FHIR Appointment, keys in a fixed order', () => {
  const text = render(parseAs('appointment', full.appointment));
  assert.equal(
    text,
    [
      'resourceType: Appointment',
      `id: ${id}`,
      'status: cancelled',
      'cancelationReason:',
      '  text: Clinician unwell',
      'serviceType:',
      '  - text: Diabetes review',
      'appointmentType:',
      '  text: Follow-up',
      'reasonCode:',
      '  - coding:',
      '      - system: http://snomed.info/sct',
      '        code: "44054006"',
      '    text: Type 2 diabetes',
      'description: |-',
      '  Bring your blood glucose diary.',
      '  \tFasting from midnight.',
      'start: 2026-03-10T10:30:00.5+01:00',
      'end: 2026-03-10T10:00:00Z',
      'minutesDuration: 20',
      'basedOn:',
      `  - reference: ServiceRequest/${referralId}`,
      'participant:',
      '  - type:',
      '      - text: practitioner',
      '    actor:',
      '      reference: Practitioner/gp-1',
      '      display: Dr A Jones',
      '    required: required',
      '    status: accepted',
      '  - type:',
      '      - text: patient',
      '    actor:',
      '      display: The patient',
      '    required: required',
      '    status: needs-action',
      '  - type:',
      '      - text: location',
      '    actor:',
      '      reference: Location/room-2',
      '      display: Room 2',
      '    required: information-only',
      'vpr:',
      '  care_location: Riverside Surgery, Room 2',
      '  clinical_refs:',
      `    - ${letterId}`,
      `    - ${referralId}`,
      '  recorded_by:',
      '    name: Dr Testy Fixture',
      '    role: Clinician',
      '',
    ].join('\n'),
  );
});

test('an encounter and a referral are written as FHIR Encounter and ServiceRequest', () => {
  const encounterYaml = parse(render(parseAs('encounter', full.encounter))) as Record<string, unknown>;
  assert.deepEqual(encounterYaml, {
    resourceType: 'Encounter',
    id,
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'VR', display: 'virtual' },
    participant: [
      {
        type: [{ text: 'practitioner' }],
        individual: { reference: 'Practitioner/gp-1', display: 'Dr A Jones' },
      },
      { type: [{ text: 'patient' }], individual: { display: 'The patient' } },
    ],
    appointment: [{ reference: `Appointment/${id}` }],
    period: { start: '2026-03-01T09:30:00+00:00', end: '2026-03-01T09:30:00Z' },
    reasonCode: [{ text: 'Medication review' }],
    vpr: { care_location: 'Virtual clinic', clinical_refs: [letterId], recorded_by: recordedBy },
  });
  const referralYaml = parse(render(parseAs('referral', full.referral))) as Record<string, unknown>;
  assert.deepEqual(referralYaml, {
    resourceType: 'ServiceRequest',
    id,
    status: 'draft',
    intent: 'proposal',
    category: [
      { coding: [{ system: 'http://snomed.info/sct', code: '3457005', display: 'Patient referral' }] },
    ],
    priority: 'urgent',
    code: { coding: [{ system: 'http://snomed.info/sct', code: '183519002' }], text: 'Cardiology' },
    occurrenceDateTime: '2026-04-01T09:00:00Z',
    authoredOn: '2026-02-28T16:00:00-05:00',
    requester: { reference: 'Practitioner/gp-1', display: 'Dr A Jones' },
    performer: [
      { display: 'Cardiology department' },
      { type: 'Organization', display: 'St Elsewhere Hospital' },
    ],
    reasonCode: [{ text: 'Palpitations' }],
    note: [{ text: 'Please see within two weeks.\nECG attached.' }],
    vpr: { clinical_refs: [letterId], recorded_by: recordedBy },
  });
  assert.deepEqual(Object.keys(referralYaml).slice(0, 3), ['resourceType', 'id', 'status']);
});

test('every kind reads back exactly as validated, minimal and full', () => {
  for (const kind of CARE_EVENT_KINDS) {
    for (const body of [minimal[kind], full[kind]]) {
      const event = parseAs(kind, body);
      const text = render(event);
      assert.deepEqual(readCareEvent(text), { id, kind, recordedBy, event }, kind);
      assert.equal(render(event), text, 'deterministic');
    }
  }
});

test('rendering checks the id and the recorder', () => {
  const event = parseAs('appointment', appointment);
  assert.throws(
    () => renderCareEvent({ id: 'x', event, recordedBy }),
    (e: unknown) => isVprError(e, 'INVALID_ID') && e.details?.field === 'id',
  );
  assert.throws(
    () => renderCareEvent({ id, event, recordedBy: { name: 'A\nB', role: 'Clinician' } }),
    (e: unknown) => isVprError(e, 'INVALID_INPUT') && e.details?.field === 'recordedBy.name',
  );
});

// ---- Properties ------------------------------------------------------------------------------

const printable = (s: string) => !/\p{Cc}|\p{Cs}|\p{Noncharacter_Code_Point}|[\u2028\u2029]/u.test(s);
const line = (max: number) =>
  fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: Math.min(max, 40) })
    .filter((s) => s.trim().length > 0 && printable(s) && s.normalize('NFC').trim().length <= max);
const freeText = fc
  .array(fc.oneof(line(2000), fc.constantFrom('\n', '\t', '\r\n', '  ', '\n\n')), {
    minLength: 1,
    maxLength: 8,
  })
  .map((parts) => parts.join(''))
  .filter((s) => s.trim().length > 0);
const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const compact = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** A day in, so that no offset writes a year before 1900. */
const minMs = Date.UTC(1900, 0, 2);
const maxMs = Date.UTC(2036, 2, 1);
/** An instant written with Z or an offset (whole quarter hours from -12:00 to +14:00), any precision. */
const dateTimeAt = (ms: number, quarters: number, precision: 'ms' | 's' | 'min') => {
  const offset = quarters * 15;
  const local = new Date(ms + offset * 60_000)
    .toISOString()
    .slice(0, precision === 'ms' ? 23 : precision === 's' ? 19 : 16);
  if (offset === 0) return `${local}Z`;
  const abs = Math.abs(offset);
  return `${local}${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
};
const writtenAs = fc.tuple(fc.integer({ min: -48, max: 56 }), fc.constantFrom('ms' as const, 's' as const));
const coding = fc.record({ system: line(200), code: line(64) });
const codedText = (max: number) => fc.record({ text: line(max), code: opt(coding) }).map(compact);
const actorId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,40}$/);
const timestampId = fc
  .tuple(fc.integer({ min: minMs, max: now.getTime() }), fc.uuid({ version: 4 }))
  .map(([ms, uuid]) => `${new Date(ms).toISOString().replace(/[-:]/g, '')}-${uuid}`);
const refs = opt(fc.uniqueArray(timestampId, { minLength: 1, maxLength: 4 }));
const participant = fc
  .record({
    actor_id: opt(actorId),
    display_name: line(200),
    role: line(64),
    required: opt(fc.constantFrom(...PARTICIPANT_REQUIRED)),
    status: opt(fc.constantFrom(...PARTICIPATION_STATUSES)),
  })
  .map(compact);

const appointmentBody = fc
  .record({
    status: opt(fc.constantFrom(...APPOINTMENT_STATUSES)),
    times: opt(
      fc
        .tuple(fc.integer({ min: minMs, max: maxMs - 86_400_000 }), fc.integer({ min: 1, max: 86_400_000 }))
        .chain(([start, length]) =>
          fc.record({
            start: writtenAs.map(([q, p]) => dateTimeAt(start, q, p)),
            end: writtenAs.map(([q, p]) => dateTimeAt(start + length + (p === 's' ? 1000 : 0), q, p)),
            minutes:
              length < 60_000
                ? fc.constant(undefined)
                : opt(fc.integer({ min: 1, max: Math.floor(length / 60_000) })),
          }),
        ),
    ),
    service_type: opt(line(200)),
    appointment_type: opt(line(200)),
    reason: opt(codedText(500)),
    description: opt(freeText),
    care_location: line(200),
    participants: fc.array(participant, { minLength: 1, maxLength: 4 }),
    cancellation_reason: opt(line(500)),
    based_on_referral: opt(timestampId),
    clinical_refs: refs,
  })
  .map(({ status, times, cancellation_reason, ...rest }) => {
    const scheduled =
      times !== undefined || !['proposed', 'pending', 'waitlist', 'cancelled'].includes(status ?? 'booked');
    const t = times ?? { start: '2026-03-10T09:30:00Z', end: '2026-03-10T09:45:00Z', minutes: undefined };
    return compact({
      ...rest,
      status,
      ...(scheduled ? { start: t.start, end: t.end, minutes_duration: t.minutes } : {}),
      ...(status === 'cancelled' ? { cancellation_reason } : {}),
    });
  });

const encounterBody = fc
  .record({
    status: fc.constantFrom(...ENCOUNTER_STATUSES),
    class: fc.constantFrom(...ENCOUNTER_CLASSES),
    start: fc.integer({ min: minMs, max: maxMs - 86_400_000 }),
    length: opt(fc.integer({ min: 0, max: 86_400_000 })),
    written: writtenAs,
    care_location: line(200),
    participants: fc.array(
      participant.map(({ required: _r, status: _s, ...p }) => p),
      { minLength: 1, maxLength: 4 },
    ),
    reason: opt(codedText(500)),
    appointment_id: opt(timestampId),
    clinical_refs: refs,
  })
  .map(({ start, length, written: [q, p], ...rest }) =>
    compact({
      ...rest,
      period: compact({
        start: dateTimeAt(start, q, p),
        end:
          length !== undefined && ['finished', 'cancelled', 'entered-in-error'].includes(rest.status)
            ? dateTimeAt(start + length, q, p)
            : undefined,
      }),
    }),
  );

const referralBody = fc
  .record({
    status: fc.constantFrom(...REFERRAL_STATUSES),
    intent: opt(fc.constantFrom(...REFERRAL_INTENTS)),
    priority: opt(fc.constantFrom(...REFERRAL_PRIORITIES)),
    service: codedText(200),
    reason: opt(codedText(500)),
    requester: fc.record({ actor_id: opt(actorId), display_name: line(200) }).map(compact),
    performer: opt(fc.record({ display_name: line(200), organisation: opt(line(200)) }).map(compact)),
    occurrence: opt(fc.tuple(fc.integer({ min: minMs, max: maxMs }), writtenAs)),
    authored_on: opt(fc.tuple(fc.integer({ min: minMs, max: now.getTime() }), writtenAs)),
    notes: opt(freeText),
    clinical_refs: refs,
  })
  .map(({ occurrence, authored_on, ...rest }) =>
    compact({
      ...rest,
      occurrence: occurrence === undefined ? undefined : dateTimeAt(occurrence[0], ...occurrence[1]),
      authored_on: authored_on === undefined ? undefined : dateTimeAt(authored_on[0], ...authored_on[1]),
    }),
  );

const bodies: Record<CareEventKind, fc.Arbitrary<Record<string, unknown>>> = {
  appointment: appointmentBody,
  encounter: encounterBody,
  referral: referralBody,
};
const anyEvent = fc
  .constantFrom(...CARE_EVENT_KINDS)
  .chain((kind) => bodies[kind].map((body) => ({ kind, body })));

test('property: every valid event is accepted and reads back exactly, with both YAML parsers agreeing', () => {
  fc.assert(
    fc.property(anyEvent, ({ kind, body }) => {
      const event = parseCareEventInput(kind, body, now);
      const text = render(event);
      assert.deepEqual(readCareEvent(text), { id, kind, recordedBy, event });
      assert.deepEqual(load(text, { schema: CORE_SCHEMA }), parse(text));
      const summary = careEventSummary({ kind, event });
      assert.ok(
        summary.snippet.length > 0 && summary.snippet.length <= 160 && !summary.snippet.includes('\n'),
      );
      assert.equal(summary.status, event.status);
    }),
    { numRuns: 300 },
  );
});

test('property: arbitrary changes to a valid body are accepted or refused with INVALID_INPUT, never a crash', () => {
  const field = fc.constantFrom(
    'status',
    'start',
    'end',
    'minutes_duration',
    'reason',
    'care_location',
    'participants',
    'cancellation_reason',
    'class',
    'period',
    'service',
    'requester',
    'performer',
    'occurrence',
    'authored_on',
    'clinical_refs',
    'kind',
  );
  const noise = fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.double(), fc.string());
  fc.assert(
    fc.property(
      fc.oneof(fc.constantFrom<unknown>(...CARE_EVENT_KINDS), fc.jsonValue()),
      anyEvent,
      fc.dictionary(field, noise, { maxKeys: 3 }),
      (kind, { body }, changes) => {
        try {
          parseCareEventInput(kind, { ...body, ...changes }, now);
        } catch (error) {
          assert.ok(isVprError(error, 'INVALID_INPUT'), String(error));
          assert.equal(typeof error.details?.field, 'string');
        }
      },
    ),
    { numRuns: 300 },
  );
});

// ---- Reading what is not (quite) a care event ------------------------------------------------

test('readCareEvent returns undefined for what is not a care event', () => {
  const good = render(parseAs('encounter', encounter));
  const texts = [
    '',
    'just text',
    '[1, 2]',
    'resourceType: Patient\nid: x',
    good.replace('resourceType: Encounter', 'resourceType: EpisodeOfCare'),
    good.replace(`id: ${id}`, 'id: 42'),
    good.replace('status: in-progress', 'status: booked'),
    good.replace('code: AMB', 'code: XYZ'),
    good.replace(/period:\n {2}start: .*\n/, ''),
    `${good}status: finished\n`,
    `${good}x: &a [1]\ny: *a\n`,
    `x: ${'y'.repeat(300 * 1024)}`,
    '{unclosed',
  ];
  for (const text of texts) assert.equal(readCareEvent(text), undefined, text.slice(0, 80));
  const referralText = render(parseAs('referral', referral));
  assert.equal(readCareEvent(referralText.replace(/code:\n {2}text: .*\n/, '')), undefined);
  assert.equal(readCareEvent(referralText.replace(/authoredOn: .*\n/, '')), undefined);
});

test('readCareEvent is lenient with what a file may lack or hold oddly', () => {
  const handWritten = [
    'resourceType: Appointment',
    `id: ${id}`,
    'status: proposed',
    'minutesDuration: -5',
    'serviceType: Diabetes review',
    'reasonCode:',
    '  - coding: [{ system: http://snomed.info/sct, code: "44054006", display: Diabetes }]',
    'participant:',
    '  - actor: { display: Dr A Jones }',
    '    type: [{ text: practitioner }]',
    '    required: maybe',
    '  - actor: { reference: Location/1 }',
    '    type: [{ text: location }]',
    'basedOn: [{ reference: ServiceRequest/not-an-id }, { reference: Appointment/1 }]',
    `vpr: { clinical_refs: [nope, ${letterId}] }`,
  ].join('\n');
  assert.deepEqual(readCareEvent(handWritten), {
    id,
    kind: 'appointment',
    recordedBy: { name: '', role: '' },
    event: {
      kind: 'appointment',
      status: 'proposed',
      reason: { text: 'Diabetes', code: { system: 'http://snomed.info/sct', code: '44054006' } },
      care_location: '',
      participants: [{ display_name: 'Dr A Jones', role: 'practitioner' }],
      clinical_refs: [letterId],
    },
  });
  const referralText = [
    'resourceType: ServiceRequest',
    `id: ${id}`,
    'status: active',
    'intent: reflex-order',
    'code: { text: Cardiology }',
    'authoredOn: 2026-02-28T16:00:00Z',
    'performer: [{ type: Organization, display: St Elsewhere }]',
  ].join('\n');
  assert.deepEqual(readCareEvent(referralText)?.event, {
    kind: 'referral',
    status: 'active',
    intent: 'order',
    priority: 'routine',
    service: { text: 'Cardiology' },
    requester: { display_name: '' },
    performer: { display_name: 'St Elsewhere' },
    authored_on: '2026-02-28T16:00:00Z',
  });
});

// ---- Summaries -------------------------------------------------------------------------------

test('summaries give title, snippet, when, status and where', () => {
  const summaryOf = (kind: CareEventKind, body: unknown) =>
    careEventSummary({ kind, event: parseAs(kind, body) });
  assert.deepEqual(summaryOf('appointment', full.appointment), {
    title: 'Appointment',
    snippet: 'Diabetes review, Follow-up, Type 2 diabetes, with Dr A Jones, The patient, Room 2',
    start: '2026-03-10T10:30:00.5+01:00',
    end: '2026-03-10T10:00:00Z',
    status: 'cancelled',
    careLocation: 'Riverside Surgery, Room 2',
  });
  const { start: _s, end: _e, ...unscheduled } = appointment;
  assert.deepEqual(summaryOf('appointment', { ...unscheduled, status: 'waitlist' }), {
    title: 'Appointment',
    snippet: 'with Dr A Jones',
    start: null,
    end: null,
    status: 'waitlist',
    careLocation: 'Riverside Surgery',
  });
  assert.deepEqual(summaryOf('encounter', full.encounter), {
    title: 'Encounter',
    snippet: 'Virtual, Medication review, with Dr A Jones, The patient',
    start: '2026-03-01T09:30:00+00:00',
    end: '2026-03-01T09:30:00Z',
    status: 'finished',
    careLocation: 'Virtual clinic',
  });
  assert.deepEqual(summaryOf('referral', full.referral), {
    title: 'Referral',
    snippet: 'Cardiology, to Cardiology department, St Elsewhere Hospital, urgent',
    start: '2026-04-01T09:00:00Z',
    end: null,
    status: 'draft',
    careLocation: null,
  });
  assert.equal(summaryOf('referral', referral).start, '2026-03-01T12:00:00.000Z');
  const long = summaryOf('appointment', { ...appointment, service_type: 'x'.repeat(200) }).snippet;
  assert.equal(long.length, 160);
  assert.ok(long.endsWith('…'));
});
