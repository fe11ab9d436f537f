// Structured clinical entries: every validation rule of each kind (with the field path in the
// error and never the value), the openEHR COMPOSITION each is stored as, the exact round trip
// through YAML (examples and properties), and lenient, safe reading of files that are not entries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CORE_SCHEMA, load } from 'js-yaml';
import { parse } from 'yaml';
import { isVprError } from '../errors.js';
import {
  BLOOD_PRESSURE_POSITIONS,
  CUFF_LOCATIONS,
  ENTRY_ARCHETYPES,
  ENTRY_KINDS,
  ENTRY_TITLES,
  HEART_RHYTHMS,
  LAB_INTERPRETATIONS,
  LAB_STATUSES,
  PROBLEM_SEVERITIES,
  PROBLEM_STATUSES,
  STATES_OF_DRESS,
  entrySummary,
  isObservationKind,
  parseEntryInput,
  readEntryComposition,
  renderEntryComposition,
  type EntryInput,
  type EntryKind,
} from './entries.js';

const now = new Date('2026-03-01T12:00:00Z');
const entryId = '20260301T115900.000Z-0b9e6a4c-8f3d-4d2a-9c1e-5f6a7b8c9d0e';
const earlierId = '20260201T080000.000Z-1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
const composer = { name: 'Dr Testy Fixture', role: 'Clinician' };

const bloodPressure = { recorded_at: '2026-03-01T09:30:00Z', systolic_mmhg: 128, diastolic_mmhg: 82 };
const heartRate = { recorded_at: '2026-03-01T09:30:00Z', rate_bpm: 72 };
const bodyWeight = { recorded_at: '2026-03-01T09:30:00Z', weight_kg: 70.5 };
const labResult = {
  recorded_at: '2026-03-01T09:30:00Z',
  test_name: 'Haemoglobin',
  value_quantity: { value: 135, unit: 'g/L' },
};
const problem = { name: 'Asthma', status: 'active' };

const minimal: Record<EntryKind, Record<string, unknown>> = {
  blood_pressure: bloodPressure,
  heart_rate: heartRate,
  body_weight: bodyWeight,
  lab_result: labResult,
  problem,
};

/** Every optional field of every kind given. */
const full: Record<EntryKind, Record<string, unknown>> = {
  blood_pressure: {
    ...bloodPressure,
    position: 'sitting',
    cuff_location: 'left_arm',
    comment: 'After five minutes of rest.\r\n\tSecond reading.',
  },
  heart_rate: {
    ...heartRate,
    recorded_at: '2026-03-01t10:30:00.123+01:00',
    rhythm: 'irregular',
    comment: 'Apical',
  },
  body_weight: { ...bodyWeight, weight_kg: 70.125, state_of_dress: 'light_clothing', comment: 'Morning' },
  lab_result: {
    ...labResult,
    test_name: '  Haemoglobin   (total) ',
    test_code: { system: 'http://loinc.org', code: '718-7' },
    reference_range: { low: 130, high: 170, unit: 'g/L' },
    interpretation: 'normal',
    specimen: 'Venous blood',
    status: 'preliminary',
    comment: 'Repeat in two weeks',
  },
  problem: {
    ...problem,
    recorded_at: '2026-02-28T18:00:00-05:00',
    code: { terminology: 'SNOMED-CT', value: '195967001' },
    status: 'resolved',
    onset_date: '2001-02-03',
    resolved_date: '2020-01-01',
    severity: 'moderate',
    comment: 'Childhood asthma.\nNo symptoms since 2019.',
  },
};

function refuses(kind: unknown, body: unknown, field: string, message?: RegExp): void {
  assert.throws(
    () => parseEntryInput(kind, body, now),
    (error: unknown) => {
      assert.ok(isVprError(error, 'INVALID_INPUT'), String(error));
      assert.deepEqual(error.details, { field }, error.message);
      if (message !== undefined) assert.match(error.message, message);
      return true;
    },
    `${String(kind)} ${field}`,
  );
}

const render = (entry: EntryInput, supersedes?: string) =>
  renderEntryComposition({ entryId, entry, composer, ...(supersedes === undefined ? {} : { supersedes }) });

/** Parses an entry of one kind, typed as that kind. */
function parseAs<K extends EntryKind>(kind: K, body: unknown): Extract<EntryInput, { kind: K }> {
  const entry = parseEntryInput(kind, body, now);
  assert.equal(entry.kind, kind);
  return entry as Extract<EntryInput, { kind: K }>;
}

test('valid entries of every kind are accepted and come back in canonical form', () => {
  assert.deepEqual(parseEntryInput('blood_pressure', minimal.blood_pressure, now), {
    kind: 'blood_pressure',
    ...bloodPressure,
  });
  assert.deepEqual(parseEntryInput('blood_pressure', full.blood_pressure, now), {
    kind: 'blood_pressure',
    ...bloodPressure,
    position: 'sitting',
    cuff_location: 'left_arm',
    comment: 'After five minutes of rest.\n\tSecond reading.',
  });
  assert.deepEqual(parseEntryInput('heart_rate', full.heart_rate, now), {
    kind: 'heart_rate',
    recorded_at: '2026-03-01T10:30:00.123+01:00',
    rate_bpm: 72,
    rhythm: 'irregular',
    comment: 'Apical',
  });
  assert.deepEqual(parseEntryInput('body_weight', full.body_weight, now), {
    kind: 'body_weight',
    recorded_at: bodyWeight.recorded_at,
    weight_kg: 70.125,
    state_of_dress: 'light_clothing',
    comment: 'Morning',
  });
  assert.deepEqual(parseEntryInput('lab_result', minimal.lab_result, now), {
    kind: 'lab_result',
    ...labResult,
    status: 'final',
  });
  assert.deepEqual(parseEntryInput('lab_result', full.lab_result, now), {
    kind: 'lab_result',
    recorded_at: labResult.recorded_at,
    test_name: 'Haemoglobin (total)',
    test_code: { system: 'http://loinc.org', code: '718-7' },
    value_quantity: { value: 135, unit: 'g/L' },
    reference_range: { low: 130, high: 170, unit: 'g/L' },
    interpretation: 'normal',
    specimen: 'Venous blood',
    status: 'preliminary',
    comment: 'Repeat in two weeks',
  });
  assert.deepEqual(
    parseEntryInput('lab_result', { ...labResult, value_quantity: undefined, value_text: 'No growth' }, now),
    {
      kind: 'lab_result',
      recorded_at: labResult.recorded_at,
      test_name: 'Haemoglobin',
      value_text: 'No growth',
      status: 'final',
    },
  );
  assert.deepEqual(parseEntryInput('problem', minimal.problem, now), {
    kind: 'problem',
    recorded_at: now.toISOString(),
    name: 'Asthma',
    status: 'active',
  });
  assert.deepEqual(parseEntryInput('problem', full.problem, now), {
    kind: 'problem',
    recorded_at: '2026-02-28T18:00:00-05:00',
    name: 'Asthma',
    code: { terminology: 'SNOMED-CT', value: '195967001' },
    status: 'resolved',
    onset_date: '2001-02-03',
    resolved_date: '2020-01-01',
    severity: 'moderate',
    comment: 'Childhood asthma.\nNo symptoms since 2019.',
  });
});

test('null means not given, the body may repeat its kind, and small normalisations apply', () => {
  assert.deepEqual(
    parseEntryInput(
      'blood_pressure',
      { ...bloodPressure, position: null, comment: null, kind: 'blood_pressure' },
      now,
    ),
    { kind: 'blood_pressure', ...bloodPressure },
  );
  assert.equal(
    parseAs('lab_result', { ...labResult, value_quantity: { value: -0, unit: 'mmol/L' } }).value_quantity
      ?.value,
    0,
  );
  assert.ok(
    Object.is(
      parseAs('lab_result', { ...labResult, value_quantity: { value: -0, unit: 'x' } }).value_quantity?.value,
      0,
    ),
  );
  assert.equal(parseAs('problem', { ...problem, name: 'Cafe\u0301' }).name, 'Café', 'NFC');
  assert.equal(
    parseEntryInput('blood_pressure', { ...bloodPressure, recorded_at: '2026-03-01T12:04:59Z' }, now)
      .recorded_at,
    '2026-03-01T12:04:59Z',
    'up to five minutes ahead of the clock is allowed',
  );
  assert.equal(
    parseEntryInput('heart_rate', { ...heartRate, recorded_at: '2026-03-01T09:30+14:00' }, now).recorded_at,
    '2026-03-01T09:30+14:00',
    'seconds are optional',
  );
  assert.equal(
    parseAs('problem', { ...problem, onset_date: '2026-03-02' }).onset_date,
    '2026-03-02',
    'tomorrow in UTC is already today in UTC+14 at noon UTC',
  );
  assert.ok(isObservationKind('lab_result'));
  assert.ok(!isObservationKind('problem'));
  assert.ok(!isObservationKind('letter'));
});

test('each rule is refused with its field path and INVALID_INPUT', () => {
  // kind and body
  refuses('temperature', bloodPressure, 'kind', /must be one of blood_pressure, heart_rate/);
  refuses(undefined, bloodPressure, 'kind');
  refuses('blood_pressure', [bloodPressure], 'body', /must be an object/);
  refuses('blood_pressure', 'systolic', 'body');
  refuses('blood_pressure', { ...bloodPressure, kind: 'heart_rate' }, 'kind', /must match/);
  // unknown fields, top level and nested
  refuses('blood_pressure', { ...bloodPressure, pulse: 70 }, 'pulse', /is not a known field/);
  refuses('heart_rate', { ...heartRate, systolic_mmhg: 120 }, 'systolic_mmhg', /is not a known field/);
  refuses(
    'lab_result',
    { ...labResult, value_quantity: { value: 1, unit: 'g/L', flag: 'H' } },
    'value_quantity.flag',
    /is not a known field/,
  );
  refuses(
    'lab_result',
    { ...labResult, test_code: { system: 'LOINC', code: '718-7', display: 'x' } },
    'test_code.display',
  );
  refuses('lab_result', { ...labResult, reference_range: { low: 1, text: 'x' } }, 'reference_range.text');
  refuses(
    'problem',
    { ...problem, code: { terminology: 'ICD-10', value: 'J45', version: '2019' } },
    'code.version',
  );
  // recorded_at
  refuses('blood_pressure', { ...bloodPressure, recorded_at: undefined }, 'recorded_at', /is required/);
  refuses(
    'blood_pressure',
    { ...bloodPressure, recorded_at: '2026-03-01' },
    'recorded_at',
    /with Z or an offset/,
  );
  refuses(
    'blood_pressure',
    { ...bloodPressure, recorded_at: '2026-03-01T09:30:00' },
    'recorded_at',
    /with Z or an offset/,
  );
  refuses('blood_pressure', { ...bloodPressure, recorded_at: '2026-03-01T09:30:00+0100' }, 'recorded_at');
  refuses('blood_pressure', { ...bloodPressure, recorded_at: 1772357400000 }, 'recorded_at');
  refuses(
    'blood_pressure',
    { ...bloodPressure, recorded_at: '2026-02-30T09:30:00Z' },
    'recorded_at',
    /real date/,
  );
  refuses(
    'blood_pressure',
    { ...bloodPressure, recorded_at: '2026-03-01T24:00:00Z' },
    'recorded_at',
    /real date/,
  );
  refuses(
    'blood_pressure',
    { ...bloodPressure, recorded_at: '2026-03-01T09:30:00+15:00' },
    'recorded_at',
    /real date/,
  );
  refuses(
    'blood_pressure',
    { ...bloodPressure, recorded_at: '2026-03-01T12:05:01Z' },
    'recorded_at',
    /future/,
  );
  refuses(
    'blood_pressure',
    { ...bloodPressure, recorded_at: '2026-03-01T11:00:00-01:30' },
    'recorded_at',
    /future/,
  );
  refuses('blood_pressure', { ...bloodPressure, recorded_at: '1899-12-31T23:59:59Z' }, 'recorded_at', /1900/);
  refuses('problem', { ...problem, recorded_at: '2027-01-01T00:00:00Z' }, 'recorded_at', /future/);
  // comment
  refuses('heart_rate', { ...heartRate, comment: 42 }, 'comment', /must be a string/);
  refuses('heart_rate', { ...heartRate, comment: ' \n ' }, 'comment', /must not be empty/);
  refuses('heart_rate', { ...heartRate, comment: 'x'.repeat(2001) }, 'comment', /at most 2000/);
  refuses('heart_rate', { ...heartRate, comment: 'a\u0000b' }, 'comment', /control characters/);
  refuses('heart_rate', { ...heartRate, comment: 'a\u0007b' }, 'comment', /control characters/);
  refuses('heart_rate', { ...heartRate, comment: 'a\u0085b' }, 'comment', /control characters/);
  refuses('heart_rate', { ...heartRate, comment: 'a\uFFFEb' }, 'comment');
  refuses('heart_rate', { ...heartRate, comment: 'a\uD800b' }, 'comment');
  // blood pressure
  refuses('blood_pressure', { ...bloodPressure, systolic_mmhg: undefined }, 'systolic_mmhg', /is required/);
  refuses('blood_pressure', { ...bloodPressure, systolic_mmhg: '128' }, 'systolic_mmhg', /must be a number/);
  refuses('blood_pressure', { ...bloodPressure, systolic_mmhg: Number.NaN }, 'systolic_mmhg');
  refuses('blood_pressure', { ...bloodPressure, systolic_mmhg: Number.POSITIVE_INFINITY }, 'systolic_mmhg');
  refuses(
    'blood_pressure',
    { ...bloodPressure, systolic_mmhg: 401 },
    'systolic_mmhg',
    /greater than 0 and at most 400/,
  );
  refuses('blood_pressure', { ...bloodPressure, diastolic_mmhg: 0 }, 'diastolic_mmhg', /greater than 0/);
  refuses(
    'blood_pressure',
    { ...bloodPressure, diastolic_mmhg: 128 },
    'diastolic_mmhg',
    /less than systolic_mmhg/,
  );
  refuses(
    'blood_pressure',
    { ...bloodPressure, diastolic_mmhg: 140 },
    'diastolic_mmhg',
    /less than systolic_mmhg/,
  );
  refuses(
    'blood_pressure',
    { ...bloodPressure, position: 'supine' },
    'position',
    /sitting, standing, lying, reclining/,
  );
  refuses('blood_pressure', { ...bloodPressure, cuff_location: 'wrist' }, 'cuff_location');
  // heart rate
  refuses('heart_rate', { ...heartRate, rate_bpm: 72.5 }, 'rate_bpm', /whole number from 1 to 400/);
  refuses('heart_rate', { ...heartRate, rate_bpm: 0 }, 'rate_bpm');
  refuses('heart_rate', { ...heartRate, rate_bpm: 401 }, 'rate_bpm');
  refuses('heart_rate', { ...heartRate, rhythm: 'sinus' }, 'rhythm');
  // body weight
  refuses('body_weight', { ...bodyWeight, weight_kg: 0 }, 'weight_kg', /greater than 0 and at most 700/);
  refuses('body_weight', { ...bodyWeight, weight_kg: 700.001 }, 'weight_kg');
  refuses('body_weight', { ...bodyWeight, weight_kg: 70.1234 }, 'weight_kg', /at most 3 decimals/);
  refuses('body_weight', { ...bodyWeight, weight_kg: '70' }, 'weight_kg');
  refuses('body_weight', { ...bodyWeight, state_of_dress: 'shoes' }, 'state_of_dress');
  // laboratory result
  refuses('lab_result', { ...labResult, test_name: undefined }, 'test_name', /is required/);
  refuses('lab_result', { ...labResult, test_name: 'Hb\nA1c' }, 'test_name', /single line/);
  refuses('lab_result', { ...labResult, test_name: 'x'.repeat(201) }, 'test_name', /at most 200/);
  refuses('lab_result', { ...labResult, test_code: 'LOINC 718-7' }, 'test_code', /must be an object/);
  refuses('lab_result', { ...labResult, test_code: { system: 'LOINC' } }, 'test_code.code', /is required/);
  refuses(
    'lab_result',
    { ...labResult, test_code: { system: 'LOINC', code: 'x'.repeat(65) } },
    'test_code.code',
    /at most 64/,
  );
  refuses(
    'lab_result',
    { ...labResult, value_text: 'Raised' },
    'value_text',
    /not be given together with value_quantity/,
  );
  refuses('lab_result', { ...labResult, value_quantity: undefined }, 'value_quantity', /unless value_text/);
  refuses('lab_result', { ...labResult, value_quantity: null, value_text: null }, 'value_quantity');
  refuses(
    'lab_result',
    { ...labResult, value_quantity: { value: '135', unit: 'g/L' } },
    'value_quantity.value',
    /must be a number/,
  );
  refuses(
    'lab_result',
    { ...labResult, value_quantity: { unit: 'g/L' } },
    'value_quantity.value',
    /is required/,
  );
  refuses(
    'lab_result',
    { ...labResult, value_quantity: { value: 1, unit: 'g per L' } },
    'value_quantity.unit',
    /without spaces/,
  );
  refuses(
    'lab_result',
    { ...labResult, value_quantity: { value: 1, unit: 'x'.repeat(33) } },
    'value_quantity.unit',
    /at most 32/,
  );
  refuses(
    'lab_result',
    { ...labResult, value_quantity: [135, 'g/L'] },
    'value_quantity',
    /must be an object/,
  );
  refuses(
    'lab_result',
    { ...labResult, value_quantity: undefined, value_text: 'x'.repeat(501) },
    'value_text',
    /at most 500/,
  );
  refuses('lab_result', { ...labResult, reference_range: {} }, 'reference_range', /low, high or both/);
  refuses(
    'lab_result',
    { ...labResult, reference_range: { low: 170, high: 130 } },
    'reference_range.low',
    /not be greater than reference_range.high/,
  );
  refuses(
    'lab_result',
    { ...labResult, reference_range: { low: '130' } },
    'reference_range.low',
    /must be a number/,
  );
  refuses('lab_result', { ...labResult, reference_range: { high: 1, unit: 'g L' } }, 'reference_range.unit');
  refuses(
    'lab_result',
    { ...labResult, interpretation: 'H' },
    'interpretation',
    /normal, low, high, critical_low/,
  );
  refuses(
    'lab_result',
    { ...labResult, status: 'cancelled' },
    'status',
    /preliminary, final, amended, corrected/,
  );
  refuses('lab_result', { ...labResult, specimen: 'x'.repeat(201) }, 'specimen');
  // problem
  refuses('problem', { ...problem, name: '' }, 'name', /must not be empty/);
  refuses('problem', { ...problem, status: undefined }, 'status', /is required/);
  refuses('problem', { ...problem, status: 'remission' }, 'status', /active, inactive, resolved/);
  refuses('problem', { ...problem, code: { terminology: 'ICD-10' } }, 'code.value', /is required/);
  refuses('problem', { ...problem, code: { value: 'J45' } }, 'code.terminology', /is required/);
  refuses('problem', { ...problem, onset_date: '2026-02-30' }, 'onset_date', /real calendar date/);
  refuses('problem', { ...problem, onset_date: '2019-2-3' }, 'onset_date', /YYYY-MM-DD/);
  refuses('problem', { ...problem, onset_date: '2026-03-03' }, 'onset_date', /future/);
  refuses('problem', { ...problem, onset_date: '1899-12-31' }, 'onset_date', /1900/);
  refuses(
    'problem',
    { ...problem, resolved_date: '2020-01-01' },
    'resolved_date',
    /only allowed when status is resolved/,
  );
  refuses(
    'problem',
    { ...problem, status: 'resolved', onset_date: '2020-01-02', resolved_date: '2020-01-01' },
    'resolved_date',
    /not be before onset_date/,
  );
  refuses(
    'problem',
    { ...problem, status: 'resolved', resolved_date: '2026-03-03' },
    'resolved_date',
    /future/,
  );
  refuses('problem', { ...problem, severity: 'critical' }, 'severity', /mild, moderate, severe/);
});

test('error messages name the field and the rule, never the value', () => {
  const MARK = 'Qzx-Synthetic-Marker';
  const NUMBER = 987654.321;
  const cases: [EntryKind | string, Record<string, unknown>, string][] = [
    [MARK, bloodPressure, MARK],
    ['blood_pressure', { ...bloodPressure, systolic_mmhg: NUMBER }, '987654'],
    ['blood_pressure', { ...bloodPressure, diastolic_mmhg: 397.5, systolic_mmhg: 396.25 }, '397'],
    ['blood_pressure', { ...bloodPressure, position: MARK }, MARK],
    ['blood_pressure', { ...bloodPressure, recorded_at: `${MARK}T09:30:00Z` }, MARK],
    ['blood_pressure', { ...bloodPressure, recorded_at: '2099-07-14T09:30:00Z' }, '2099'],
    ['heart_rate', { ...heartRate, rate_bpm: 72.25 }, '72.25'],
    ['heart_rate', { ...heartRate, comment: `${MARK}\u0000` }, MARK],
    ['body_weight', { ...bodyWeight, weight_kg: 70.12345 }, '70.12345'],
    ['lab_result', { ...labResult, test_name: `${MARK}\n` + 'x' }, MARK],
    ['lab_result', { ...labResult, test_name: MARK.repeat(20) }, MARK],
    ['lab_result', { ...labResult, value_quantity: { value: `${NUMBER}`, unit: 'g/L' } }, '987654'],
    ['lab_result', { ...labResult, value_quantity: { value: 1, unit: `${MARK} x` } }, MARK],
    ['lab_result', { ...labResult, reference_range: { low: NUMBER, high: 1 } }, '987654'],
    ['lab_result', { ...labResult, value_text: MARK }, MARK],
    ['problem', { ...problem, name: { text: MARK } }, MARK],
    ['problem', { ...problem, onset_date: '2026-02-30' }, '2026-02-30'],
    [
      'problem',
      { ...problem, status: 'resolved', onset_date: '2020-05-17', resolved_date: '2020-05-16' },
      '2020-05',
    ],
    ['problem', { ...problem, code: { terminology: 'ICD-10', value: MARK, version: MARK } }, MARK],
  ];
  for (const [kind, body, secret] of cases) {
    assert.throws(
      () => parseEntryInput(kind, body, now),
      (error: unknown) => {
        assert.ok(isVprError(error, 'INVALID_INPUT'), String(error));
        assert.ok(!error.message.includes(secret), `${error.message} must not contain the value`);
        assert.ok(!JSON.stringify(error.details).includes(secret), 'nor must its details');
        return true;
      },
    );
  }
});

/** The value at a path of keys and indexes into parsed YAML (undefined where there is none). */
function dig(node: unknown, ...path: (string | number)[]): unknown {
  let here = node;
  for (const step of path) {
    if (typeof here !== 'object' || here === null) return undefined;
    here = (here as Record<string | number, unknown>)[step];
  }
  return here;
}

test('a rendered composition is plain YAML with _type everywhere and the archetype ids', () => {
  for (const kind of ENTRY_KINDS) {
    const entry = parseEntryInput(kind, full[kind], now);
    const text = render(entry, earlierId);
    const doc: unknown = parse(text);
    assert.equal(dig(doc, '_type'), 'COMPOSITION');
    assert.equal(dig(doc, 'rm_version'), '1.1.0');
    assert.deepEqual(dig(doc, 'uid'), { _type: 'HIER_OBJECT_ID', value: entryId });
    assert.equal(
      dig(doc, 'archetype_node_id'),
      kind === 'problem' ? 'openEHR-EHR-COMPOSITION.problem_list.v2' : 'openEHR-EHR-COMPOSITION.encounter.v1',
    );
    assert.deepEqual(dig(doc, 'name'), { _type: 'DV_TEXT', value: ENTRY_TITLES[kind] });
    assert.equal(dig(doc, 'category', '_type'), 'DV_CODED_TEXT');
    assert.equal(dig(doc, 'category', 'defining_code', 'code_string'), kind === 'problem' ? '431' : '433');
    assert.deepEqual(dig(doc, 'composer'), { _type: 'PARTY_IDENTIFIED', ...composer });
    assert.equal(dig(doc, 'context', '_type'), 'EVENT_CONTEXT');
    assert.deepEqual(dig(doc, 'context', 'start_time'), { _type: 'DV_DATE_TIME', value: entry.recorded_at });
    assert.deepEqual(dig(doc, 'vpr'), { entry_kind: kind, supersedes: earlierId });
    assert.equal(dig(doc, 'content', 'length'), 1);
    assert.equal(dig(doc, 'content', 0, '_type'), kind === 'problem' ? 'EVALUATION' : 'OBSERVATION');
    assert.equal(dig(doc, 'content', 0, 'archetype_node_id'), ENTRY_ARCHETYPES[kind]);
    assert.equal(Object.keys(doc as object)[0], '_type', 'the type comes first');
    // Every mapping that is an RM object says what it is.
    const untyped: string[] = [];
    const walk = (node: unknown, path: string, typed: boolean): void => {
      if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${path}[${i}]`, true));
      else if (typeof node === 'object' && node !== null) {
        if (typed && !('_type' in node)) untyped.push(path);
        for (const [key, value] of Object.entries(node)) walk(value, `${path}.${key}`, key !== 'vpr');
      }
    };
    walk(doc, kind, false);
    assert.deepEqual(untyped, [], `${kind}: nodes without _type`);
    assert.deepEqual(
      load(text, { schema: CORE_SCHEMA }),
      doc,
      `${kind}: js-yaml (the projection's parser) agrees`,
    );
    assert.equal(render(entry, earlierId), text, 'rendering is deterministic');
  }
  const bp: unknown = parse(render(parseEntryInput('blood_pressure', full.blood_pressure, now)));
  const event = dig(bp, 'content', 0, 'data', 'events', 0);
  assert.deepEqual(dig(event, 'data', 'items', 0), {
    _type: 'ELEMENT',
    archetype_node_id: 'at0004',
    name: { _type: 'DV_TEXT', value: 'Systolic' },
    value: { _type: 'DV_QUANTITY', magnitude: 128, units: 'mm[Hg]' },
  });
  assert.equal(dig(event, 'state', 'items', 0, 'value', 'defining_code', 'code_string'), 'at1001');
  assert.equal(
    dig(bp, 'content', 0, 'protocol', 'items', 0, 'value', 'defining_code', 'code_string'),
    'at0026',
  );
  assert.deepEqual(dig(bp, 'vpr'), { entry_kind: 'blood_pressure' }, 'supersedes only when given');
  const lab: unknown = parse(render(parseEntryInput('lab_result', full.lab_result, now)));
  const items = dig(lab, 'content', 0, 'data', 'events', 0, 'data', 'items') as unknown[];
  const analyte = items.find(
    (i) => dig(i, 'archetype_node_id') === 'openEHR-EHR-CLUSTER.laboratory_test_analyte.v1',
  );
  assert.equal(dig(analyte, '_type'), 'CLUSTER');
  assert.deepEqual(dig(analyte, 'items', 0, 'value'), { _type: 'DV_QUANTITY', magnitude: 135, units: 'g/L' });
});

test('each kind reads back exactly as validated, with its composer and supersedes', () => {
  for (const kind of ENTRY_KINDS) {
    for (const body of [minimal[kind], full[kind]]) {
      const entry = parseEntryInput(kind, body, now);
      assert.deepEqual(readEntryComposition(render(entry)), {
        entryId,
        kind,
        recordedAt: entry.recorded_at,
        composer,
        entry,
      });
      assert.deepEqual(readEntryComposition(render(entry, earlierId))?.supersedes, earlierId);
    }
  }
  for (const location of CUFF_LOCATIONS) {
    const entry = parseEntryInput('blood_pressure', { ...bloodPressure, cuff_location: location }, now);
    assert.deepEqual(readEntryComposition(render(entry))?.entry, entry, location);
  }
  const text = parseEntryInput(
    'lab_result',
    { ...labResult, value_quantity: undefined, value_text: '<0.5', reference_range: { high: 5 } },
    now,
  );
  assert.deepEqual(readEntryComposition(render(text))?.entry, text);
});

test('rendering refuses ids that are not TimestampIds and an entry that supersedes itself', () => {
  const entry = parseEntryInput('heart_rate', heartRate, now);
  assert.throws(
    () => renderEntryComposition({ entryId: 'not-an-id', entry, composer }),
    (e: unknown) => isVprError(e, 'INVALID_ID'),
  );
  assert.throws(
    () => renderEntryComposition({ entryId, entry, composer, supersedes: '2026' }),
    (e: unknown) => isVprError(e, 'INVALID_ID'),
  );
  assert.throws(
    () => renderEntryComposition({ entryId, entry, composer, supersedes: entryId }),
    (e: unknown) => isVprError(e, 'INVALID_INPUT') && e.details?.field === 'supersedes',
  );
  assert.throws(
    () => renderEntryComposition({ entryId, entry, composer: { name: 'A\nB', role: 'Clinician' } }),
    (e: unknown) => isVprError(e, 'INVALID_INPUT') && e.details?.field === 'composer.name',
  );
});

// ---- Properties ------------------------------------------------------------------------------

const minMs = Date.UTC(1900, 0, 1);
const instant = fc.integer({ min: minMs, max: now.getTime() + 5 * 60_000 });

/** An instant written with Z or an offset (whole quarter hours from -12:00 to +14:00), any precision. */
const dateTime = fc
  .tuple(instant, fc.integer({ min: -48, max: 56 }), fc.constantFrom('ms', 's', 'min'))
  .map(([ms, quarters, precision]) => {
    const offset = quarters * 15;
    const local = new Date(ms + offset * 60_000)
      .toISOString()
      .slice(0, precision === 'ms' ? 23 : precision === 's' ? 19 : 16);
    if (offset === 0) return `${local}Z`;
    const abs = Math.abs(offset);
    return `${local}${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  })
  .filter((s) => Number(s.slice(0, 4)) >= 1900);

const calendarDate = fc
  .integer({ min: minMs, max: now.getTime() })
  .map((ms) => new Date(ms).toISOString().slice(0, 10));

const printable = (s: string) => !/\p{Cc}|\p{Cs}|\p{Noncharacter_Code_Point}|[\u2028\u2029]/u.test(s);
const line = (max: number) =>
  fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: Math.min(max, 40) })
    .filter((s) => s.trim().length > 0 && printable(s) && s.normalize('NFC').trim().length <= max);
const unit = fc
  .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 })
  .filter((s) => s.trim().length > 0 && !/\s/.test(s.trim()) && printable(s))
  .map((s) => s.trim());
const comment = fc
  .array(fc.oneof(line(2000), fc.constantFrom('\n', '\t', '\r\n', '  ', '\n\n')), {
    minLength: 1,
    maxLength: 8,
  })
  .map((parts) => parts.join(''))
  .filter((s) => s.trim().length > 0);
const anyNumber = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
);
const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const compact = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const mmHgValue = fc.oneof(
  fc.integer({ min: 1, max: 400 }),
  fc.double({ min: 0, max: 400, noNaN: true }).filter((n) => n > 0),
);

const bodies: Record<EntryKind, fc.Arbitrary<Record<string, unknown>>> = {
  blood_pressure: fc
    .record({
      recorded_at: dateTime,
      pair: fc.tuple(mmHgValue, mmHgValue).filter(([a, b]) => a !== b),
      position: opt(fc.constantFrom(...BLOOD_PRESSURE_POSITIONS)),
      cuff_location: opt(fc.constantFrom(...CUFF_LOCATIONS)),
      comment: opt(comment),
    })
    .map(({ pair: [a, b], ...rest }) =>
      compact({ ...rest, systolic_mmhg: Math.max(a, b), diastolic_mmhg: Math.min(a, b) }),
    ),
  heart_rate: fc
    .record({
      recorded_at: dateTime,
      rate_bpm: fc.integer({ min: 1, max: 400 }),
      rhythm: opt(fc.constantFrom(...HEART_RHYTHMS)),
      comment: opt(comment),
    })
    .map(compact),
  body_weight: fc
    .record({
      recorded_at: dateTime,
      weight_kg: fc.integer({ min: 1, max: 700_000 }).map((g) => g / 1000),
      state_of_dress: opt(fc.constantFrom(...STATES_OF_DRESS)),
      comment: opt(comment),
    })
    .map(compact),
  lab_result: fc
    .record({
      recorded_at: dateTime,
      test_name: line(200),
      test_code: opt(fc.record({ system: line(200), code: line(64) })),
      result: fc.oneof(
        fc.record({ value_quantity: fc.record({ value: anyNumber, unit }) }),
        fc.record({ value_text: line(500) }),
      ),
      reference_range: opt(
        fc
          .record({ low: opt(anyNumber), high: opt(anyNumber), unit: opt(unit) })
          .filter((r) => r.low !== undefined || r.high !== undefined)
          .map((r) =>
            compact(
              r.low !== undefined && r.high !== undefined && r.low > r.high
                ? { ...r, low: r.high, high: r.low }
                : r,
            ),
          ),
      ),
      interpretation: opt(fc.constantFrom(...LAB_INTERPRETATIONS)),
      specimen: opt(line(200)),
      status: opt(fc.constantFrom(...LAB_STATUSES)),
      comment: opt(comment),
    })
    .map(({ result, ...rest }) => compact({ ...rest, ...result })),
  problem: fc
    .record({
      recorded_at: opt(dateTime),
      name: line(200),
      code: opt(fc.record({ terminology: line(64), value: line(64) })),
      status: fc.constantFrom(...PROBLEM_STATUSES),
      dates: fc.tuple(opt(calendarDate), opt(calendarDate)),
      severity: opt(fc.constantFrom(...PROBLEM_SEVERITIES)),
      comment: opt(comment),
    })
    .map(({ dates: [a, b], ...rest }) => {
      const resolved = rest.status === 'resolved' ? b : undefined;
      const ordered =
        a !== undefined && resolved !== undefined && a > resolved ? [resolved, a] : [a, resolved];
      return compact({ ...rest, onset_date: ordered[0], resolved_date: ordered[1] });
    }),
};

const anyEntry = fc
  .constantFrom(...ENTRY_KINDS)
  .chain((kind) => bodies[kind].map((body) => ({ kind, body })));

test('property: every valid entry is accepted and reads back exactly, with both YAML parsers agreeing', () => {
  fc.assert(
    fc.property(
      anyEntry,
      fc.option(fc.constant(earlierId), { nil: undefined }),
      ({ kind, body }, supersedes) => {
        const entry = parseEntryInput(kind, body, now);
        const text = render(entry, supersedes);
        const stored = readEntryComposition(text);
        assert.deepEqual(stored, {
          entryId,
          kind,
          recordedAt: entry.recorded_at,
          composer,
          ...(supersedes === undefined ? {} : { supersedes }),
          entry,
        });
        assert.deepEqual(load(text, { schema: CORE_SCHEMA }), parse(text));
        const summary = entrySummary(stored);
        assert.equal(summary.title, ENTRY_TITLES[kind]);
        assert.ok(
          summary.snippet.length > 0 && summary.snippet.length <= 160 && !summary.snippet.includes('\n'),
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('property: arbitrary JSON bodies are either accepted or refused with INVALID_INPUT, never a crash', () => {
  const field = fc.constantFrom(
    'recorded_at',
    'comment',
    'systolic_mmhg',
    'diastolic_mmhg',
    'rate_bpm',
    'weight_kg',
    'test_name',
    'value_quantity',
    'value_text',
    'reference_range',
    'name',
    'status',
    'onset_date',
    'resolved_date',
    'kind',
  );
  const noise = fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.double(), fc.string());
  fc.assert(
    fc.property(
      fc.oneof(fc.constantFrom<unknown>(...ENTRY_KINDS), fc.jsonValue()),
      anyEntry,
      fc.dictionary(field, noise, { maxKeys: 3 }),
      (kind, { body }, changes) => {
        try {
          parseEntryInput(kind, { ...body, ...changes }, now);
        } catch (error) {
          assert.ok(isVprError(error, 'INVALID_INPUT'), String(error));
          assert.equal(typeof error.details?.field, 'string');
        }
      },
    ),
    { numRuns: 300 },
  );
});

// ---- Reading what is not (quite) an entry ----------------------------------------------------

test('readEntryComposition returns undefined for what is not an entry composition', () => {
  const letter = [
    '_type: COMPOSITION',
    'rm_version: 1.1.0',
    `uid: {_type: HIER_OBJECT_ID, value: ${entryId}}`,
    'archetype_node_id: openEHR-EHR-COMPOSITION.correspondence.v1',
    'name: {_type: DV_TEXT, value: Discharge letter}',
    'vpr: {status: draft}',
    'content:',
    '  - _type: SECTION',
    '    archetype_node_id: openEHR-EHR-SECTION.correspondence.v1',
    '    items: []',
    '',
  ].join('\n');
  const good = render(parseEntryInput('blood_pressure', full.blood_pressure, now));
  const notEntries: [string, string][] = [
    ['a letter composition', letter],
    ['empty', ''],
    ['a scalar', 'just some text\n'],
    ['a list', '- _type: COMPOSITION\n'],
    ['not YAML', '{ unclosed: [\n'],
    ['binary', '\u0000\u0001\u0002\uFFFD'],
    ['JSON null', 'null'],
    ['duplicate keys', `${good}_type: COMPOSITION\n`],
    ['another RM type', good.replace(/^_type: COMPOSITION/, '_type: EHR_STATUS')],
    ['a bad uid', good.replace(entryId, 'not-a-timestamp-id')],
    ['an unknown kind and archetype', good.replace(/blood_pressure/g, 'body_temperature')],
    ['kind and archetype disagreeing', good.replace('entry_kind: blood_pressure', 'entry_kind: heart_rate')],
    ['no recorded time', good.replace(/value: 2026-03-01T09:30:00Z/g, 'value: 7')],
    ['no systolic', good.replace('archetype_node_id: at0004', 'archetype_node_id: at9999')],
    ['a systolic that is not a number', good.replace('magnitude: 128', 'magnitude: "128"')],
    ['an alias', good.replace('rm_version: 1.1.0', 'rm_version: &v 1.1.0\nalias: *v')],
    ['too large', `${good}padding: "${'x'.repeat(300 * 1024)}"\n`],
  ];
  for (const [label, text] of notEntries) assert.equal(readEntryComposition(text), undefined, label);
  assert.ok(readEntryComposition(good) !== undefined, 'the unaltered file reads');
});

test('readEntryComposition refuses a billion-laughs alias bomb at once, without expanding it', () => {
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 12; i++) {
    const name = String.fromCharCode(97 + i);
    const previous = String.fromCharCode(96 + i);
    levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
  }
  const bomb = `_type: COMPOSITION\n${levels.join('\n')}\n`;
  const started = performance.now();
  assert.equal(readEntryComposition(bomb), undefined);
  assert.ok(performance.now() - started < 1000, 'returns quickly');
});

test('readEntryComposition is lenient with files edited by hand', () => {
  const entry = parseAs('blood_pressure', full.blood_pressure);
  const good = render(entry, earlierId);
  const noVpr = good.replace(/^vpr:\n(?: {2}.*\n)+/m, '');
  assert.ok(!noVpr.includes('entry_kind'));
  assert.deepEqual(readEntryComposition(noVpr)?.entry, entry, 'the kind follows from the archetype');
  assert.equal(readEntryComposition(noVpr)?.supersedes, undefined);
  const withoutPosition = Object.fromEntries(Object.entries(entry).filter(([key]) => key !== 'position'));
  assert.deepEqual(
    readEntryComposition(
      good.replace('code_string: at1001', 'code_string: at9999').replace('value: Sitting', 'value: Perched'),
    )?.entry,
    withoutPosition,
    'an unknown code is left out',
  );
  const byText = readEntryComposition(
    good.replace('code_string: at1001', 'code_string: at9999').replace('value: Sitting', 'value: standing'),
  )?.entry;
  assert.equal(
    byText?.kind === 'blood_pressure' ? byText.position : undefined,
    'standing',
    'else by its text',
  );
  const anonymous = readEntryComposition(good.replace(/^composer:\n(?: {2}.*\n)+/m, ''));
  assert.deepEqual(anonymous?.composer, { name: '', role: '' });
  assert.equal(
    readEntryComposition(good.replace(`supersedes: ${earlierId}`, 'supersedes: yesterday'))?.supersedes,
    undefined,
  );
  const lab = parseEntryInput('lab_result', labResult, now);
  const noStatus = render(lab)
    .replace('code_string: at0038', 'code_string: x')
    .replace('value: Final', 'value: x');
  assert.equal(
    (readEntryComposition(noStatus)?.entry as { status?: string }).status,
    'final',
    'status defaults to final',
  );
});

test('entrySummary gives a title and a one-line snippet', () => {
  const summary = (kind: EntryKind, body: Record<string, unknown>) =>
    entrySummary({ kind, entry: parseEntryInput(kind, body, now) });
  assert.deepEqual(summary('blood_pressure', { ...bloodPressure, position: 'sitting' }), {
    title: 'Blood pressure',
    snippet: '128/82 mmHg, sitting',
  });
  assert.deepEqual(summary('blood_pressure', full.blood_pressure).snippet, '128/82 mmHg, sitting, left arm');
  assert.deepEqual(summary('heart_rate', { ...heartRate, rhythm: 'regular' }), {
    title: 'Heart rate',
    snippet: '72 bpm, regular',
  });
  assert.deepEqual(summary('body_weight', full.body_weight).snippet, '70.125 kg, light clothing');
  assert.deepEqual(
    summary('lab_result', { ...labResult, interpretation: 'critical_low', status: 'amended' }).snippet,
    'Haemoglobin: 135 g/L, critical low, amended',
  );
  assert.deepEqual(summary('problem', full.problem), {
    title: 'Problem or diagnosis',
    snippet: 'Asthma, resolved, moderate, since 2001-02-03',
  });
  const long = summary('lab_result', {
    ...labResult,
    value_quantity: undefined,
    value_text: 'x'.repeat(500),
  }).snippet;
  assert.equal(long.length, 160);
  assert.ok(long.endsWith('…'));
});
