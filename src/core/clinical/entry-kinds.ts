// The structured clinical entries the API accepts — blood pressure, heart rate, body weight,
// laboratory results and problems (diagnoses) — as one vocabulary: the kinds, their fields, the
// values each coded field may take, their limits, and every validation rule, applied here once
// before anything is written. `parseEntryInput` returns the canonical form (text NFC-normalised
// and trimmed, single-line text with runs of white space collapsed, CRLF in comments made LF,
// `T`/`Z` of date-times upper-cased, -0 made 0, defaults filled in). How an entry is stored as an
// openEHR COMPOSITION is entries.ts's business.
//
// The value lists and limits are exported so the API's schemas are built from them and the docs
// and the rules cannot drift apart. Error messages say what is wrong with a field, never its value.
import { invalidInput } from '../errors.js';
import {
  fieldAt as at,
  given,
  objectAt,
  optional,
  parseEnum,
  parseNoteText,
  parsePrintableLine,
  refuseUnknown,
  required,
  type Input,
} from '../input.js';

export const ENTRY_KINDS = ['blood_pressure', 'heart_rate', 'body_weight', 'lab_result', 'problem'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

/** The kinds recorded as an openEHR OBSERVATION (an event at a point in time). */
export const OBSERVATION_KINDS = ['blood_pressure', 'heart_rate', 'body_weight', 'lab_result'] as const;
export type ObservationKind = (typeof OBSERVATION_KINDS)[number];

export function isObservationKind(kind: unknown): kind is ObservationKind {
  return OBSERVATION_KINDS.includes(kind as ObservationKind);
}

export function isEntryKind(kind: unknown): kind is EntryKind {
  return ENTRY_KINDS.includes(kind as EntryKind);
}

/** A human title per kind: the composition's name and the title of list entries. */
export const ENTRY_TITLES: Readonly<Record<EntryKind, string>> = {
  blood_pressure: 'Blood pressure',
  heart_rate: 'Heart rate',
  body_weight: 'Body weight',
  lab_result: 'Laboratory test result',
  problem: 'Problem or diagnosis',
};

/** The openEHR archetype of each kind's entry (the COMPOSITION's one content item). */
export const ENTRY_ARCHETYPES: Readonly<Record<EntryKind, string>> = {
  blood_pressure: 'openEHR-EHR-OBSERVATION.blood_pressure.v2',
  heart_rate: 'openEHR-EHR-OBSERVATION.pulse.v2',
  body_weight: 'openEHR-EHR-OBSERVATION.body_weight.v2',
  lab_result: 'openEHR-EHR-OBSERVATION.laboratory_test_result.v1',
  problem: 'openEHR-EHR-EVALUATION.problem_diagnosis.v1',
};

export const BLOOD_PRESSURE_POSITIONS = ['sitting', 'standing', 'lying', 'reclining'] as const;
export type BloodPressurePosition = (typeof BLOOD_PRESSURE_POSITIONS)[number];

export const CUFF_LOCATIONS = ['left_arm', 'right_arm', 'left_thigh', 'right_thigh', 'other'] as const;
export type CuffLocation = (typeof CUFF_LOCATIONS)[number];

export const HEART_RHYTHMS = ['regular', 'irregular'] as const;
export type HeartRhythm = (typeof HEART_RHYTHMS)[number];

export const STATES_OF_DRESS = ['clothed', 'light_clothing', 'naked'] as const;
export type StateOfDress = (typeof STATES_OF_DRESS)[number];

export const LAB_INTERPRETATIONS = [
  'normal',
  'low',
  'high',
  'critical_low',
  'critical_high',
  'abnormal',
] as const;
export type LabInterpretation = (typeof LAB_INTERPRETATIONS)[number];

export const LAB_STATUSES = ['preliminary', 'final', 'amended', 'corrected'] as const;
export type LabStatus = (typeof LAB_STATUSES)[number];

export const PROBLEM_STATUSES = ['active', 'inactive', 'resolved'] as const;
export type ProblemStatus = (typeof PROBLEM_STATUSES)[number];

export const PROBLEM_SEVERITIES = ['mild', 'moderate', 'severe'] as const;
export type ProblemSeverity = (typeof PROBLEM_SEVERITIES)[number];

/** Every limit the rules apply, for the API's schemas. Lengths are in UTF-16 code units, after trimming. */
export const ENTRY_LIMITS = {
  commentMaxLength: 2000,
  testNameMaxLength: 200,
  codeSystemMaxLength: 200,
  codeMaxLength: 64,
  unitMaxLength: 32,
  valueTextMaxLength: 500,
  specimenMaxLength: 200,
  problemNameMaxLength: 200,
  terminologyMaxLength: 64,
  /** Blood pressure, mmHg: greater than 0, at most this. */
  bloodPressureMaxMmHg: 400,
  /** Heart rate, beats per minute: a whole number from 1 to this. */
  heartRateMaxBpm: 400,
  /** Body weight, kg: greater than 0, at most this, at most `weightDecimals` decimals. */
  weightMaxKg: 700,
  weightDecimals: 3,
  /** How far past the server's clock a recorded_at may be (clock skew between devices). */
  futureToleranceMinutes: 5,
  /** No date or date-time is accepted before the first day of this year. */
  earliestYear: 1900,
} as const;

/** The fields every kind has (besides `kind`, which a body may repeat if it agrees). */
export const COMMON_ENTRY_FIELDS = ['recorded_at', 'comment'] as const;

/** The fields of each kind, in the order they are documented and returned. */
export const ENTRY_FIELDS: Readonly<Record<EntryKind, readonly string[]>> = {
  blood_pressure: ['systolic_mmhg', 'diastolic_mmhg', 'position', 'cuff_location'],
  heart_rate: ['rate_bpm', 'rhythm'],
  body_weight: ['weight_kg', 'state_of_dress'],
  lab_result: [
    'test_name',
    'test_code',
    'value_quantity',
    'value_text',
    'reference_range',
    'interpretation',
    'specimen',
    'status',
  ],
  problem: ['name', 'code', 'status', 'onset_date', 'resolved_date', 'severity'],
};
export const TEST_CODE_FIELDS = ['system', 'code'] as const;
export const QUANTITY_FIELDS = ['value', 'unit'] as const;
export const REFERENCE_RANGE_FIELDS = ['low', 'high', 'unit'] as const;
export const PROBLEM_CODE_FIELDS = ['terminology', 'value'] as const;

interface EntryBase {
  /** ISO 8601 date-time with `Z` or an offset, as given (offset kept). */
  readonly recorded_at: string;
  /** Free text; may hold line breaks (LF) and tabs. */
  readonly comment?: string;
}

export interface BloodPressureEntry extends EntryBase {
  readonly kind: 'blood_pressure';
  readonly systolic_mmhg: number;
  readonly diastolic_mmhg: number;
  readonly position?: BloodPressurePosition;
  readonly cuff_location?: CuffLocation;
}

export interface HeartRateEntry extends EntryBase {
  readonly kind: 'heart_rate';
  readonly rate_bpm: number;
  readonly rhythm?: HeartRhythm;
}

export interface BodyWeightEntry extends EntryBase {
  readonly kind: 'body_weight';
  readonly weight_kg: number;
  readonly state_of_dress?: StateOfDress;
}

/** A code in a terminology such as LOINC (`http://loinc.org` or `LOINC`). */
export interface TestCode {
  readonly system: string;
  readonly code: string;
}

/** A measured value with its unit (UCUM-like, e.g. mmol/L). */
export interface Quantity {
  readonly value: number;
  readonly unit: string;
}

/** At least one of low and high; low ≤ high when both are given. */
export interface ReferenceRange {
  readonly low?: number;
  readonly high?: number;
  readonly unit?: string;
}

interface LabResultBase extends EntryBase {
  readonly kind: 'lab_result';
  readonly test_name: string;
  readonly test_code?: TestCode;
  readonly reference_range?: ReferenceRange;
  readonly interpretation?: LabInterpretation;
  readonly specimen?: string;
  /** Defaults to final. */
  readonly status: LabStatus;
}

/** A laboratory result holds exactly one of a quantity and a text result. */
export type LabResultEntry = LabResultBase &
  (
    | { readonly value_quantity: Quantity; readonly value_text?: never }
    | { readonly value_text: string; readonly value_quantity?: never }
  );

/** A code in a terminology such as SNOMED-CT or ICD-10. */
export interface ProblemCode {
  readonly terminology: string;
  readonly value: string;
}

export interface ProblemEntry extends EntryBase {
  readonly kind: 'problem';
  readonly name: string;
  readonly code?: ProblemCode;
  readonly status: ProblemStatus;
  /** Calendar date, YYYY-MM-DD. */
  readonly onset_date?: string;
  /** Calendar date, YYYY-MM-DD; only with status resolved, never before onset_date. */
  readonly resolved_date?: string;
  readonly severity?: ProblemSeverity;
}

/** A validated entry in canonical form, by kind. */
export type EntryInput =
  BloodPressureEntry | HeartRateEntry | BodyWeightEntry | LabResultEntry | ProblemEntry;

const parseLine = parsePrintableLine;

/** A unit such as mmol/L or 10*9/L: one word of printable text. */
function parseUnit(value: unknown, field: string): string {
  const unit = parseLine(value, field, ENTRY_LIMITS.unitMaxLength);
  if (/\s/u.test(unit)) throw invalidInput(field, 'must be a unit without spaces, such as mmol/L');
  return unit;
}

/** Free text that may run over several lines: NFC, CRLF and CR made LF, trimmed, bounded. */
function parseComment(value: unknown, field: string): string {
  return parseNoteText(value, field, ENTRY_LIMITS.commentMaxLength);
}

/** A finite JSON number (never a string, NaN or Infinity) that passes `ok`; -0 is made 0. */
function parseNumber(value: unknown, field: string, rule: string, ok: (n: number) => boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw invalidInput(field, `must be ${rule}`);
  }
  return value === 0 ? 0 : value;
}

const anyNumber = (value: unknown, field: string) => parseNumber(value, field, 'a number', () => true);

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MINUTE_MS = 60_000;

/** Whether year-month-day (month 1-12) names a day that exists. */
function isCalendarDate(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/**
 * An ISO 8601 date-time with `Z` or an offset (seconds and fractions optional), a real instant
 * not before `earliestYear` and not more than `futureToleranceMinutes` ahead of `now`. Returned as
 * given with `T` and `Z` upper-cased: the offset says when it was on the recorder's clock.
 */
export function parseDateTime(value: unknown, field: string, now: Date = new Date()): string {
  const match = typeof value === 'string' ? DATE_TIME.exec(value) : null;
  if (typeof value !== 'string' || match === null) {
    throw invalidInput(field, 'must be a date and time such as 2026-01-31T09:30:00Z, with Z or an offset');
  }
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, oh, om] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s ?? '0'].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [offsetHours, offsetMinutes] = zulu === undefined ? [Number(oh), Number(om)] : [0, 0];
  if (
    !isCalendarDate(year, month, day) ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    offsetMinutes > 59 ||
    offsetHours * 60 + offsetMinutes > 14 * 60
  ) {
    throw invalidInput(field, 'must be a real date and time');
  }
  if (year < ENTRY_LIMITS.earliestYear) {
    throw invalidInput(field, `must not be before ${ENTRY_LIMITS.earliestYear}`);
  }
  const ms = Number((fraction ?? '').padEnd(3, '0').slice(0, 3));
  const offset = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  const instant = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset * MINUTE_MS;
  if (instant > now.getTime() + ENTRY_LIMITS.futureToleranceMinutes * MINUTE_MS) {
    throw invalidInput(field, 'must not be in the future');
  }
  return value.replace(/[tz]/g, (c) => c.toUpperCase());
}

/**
 * A calendar date YYYY-MM-DD that exists, not before `earliestYear` and not in the future: not
 * after today in the earliest time zone (UTC+14), so that no one's today is refused.
 */
export function parseCalendarDate(value: unknown, field: string, now: Date = new Date()): string {
  const match = typeof value === 'string' ? DATE.exec(value) : null;
  if (typeof value !== 'string' || match === null) {
    throw invalidInput(field, 'must be a date written YYYY-MM-DD');
  }
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  if (!isCalendarDate(year, month, day)) throw invalidInput(field, 'must be a real calendar date');
  if (year < ENTRY_LIMITS.earliestYear) {
    throw invalidInput(field, `must not be before ${ENTRY_LIMITS.earliestYear}`);
  }
  const latest = new Date(now.getTime() + 14 * 60 * MINUTE_MS).toISOString().slice(0, 10);
  if (value > latest) throw invalidInput(field, 'must not be in the future');
  return value;
}

function common(input: Input, now: Date, recordedAtRequired: boolean): EntryBase {
  const recordedAt =
    recordedAtRequired || given(input.recorded_at)
      ? parseDateTime(required(input, 'recorded_at', 'recorded_at'), 'recorded_at', now)
      : now.toISOString();
  return {
    recorded_at: recordedAt,
    ...(given(input.comment) ? { comment: parseComment(input.comment, 'comment') } : {}),
  };
}

const mmHg = (value: unknown, field: string) =>
  parseNumber(
    value,
    field,
    `a number greater than 0 and at most ${ENTRY_LIMITS.bloodPressureMaxMmHg}`,
    (n) => n > 0 && n <= ENTRY_LIMITS.bloodPressureMaxMmHg,
  );

function parseBloodPressure(input: Input, base: EntryBase): BloodPressureEntry {
  const systolic = mmHg(required(input, 'systolic_mmhg', 'systolic_mmhg'), 'systolic_mmhg');
  const diastolic = mmHg(required(input, 'diastolic_mmhg', 'diastolic_mmhg'), 'diastolic_mmhg');
  if (diastolic >= systolic) throw invalidInput('diastolic_mmhg', 'must be less than systolic_mmhg');
  const { comment, ...rest } = base;
  return {
    kind: 'blood_pressure',
    ...rest,
    systolic_mmhg: systolic,
    diastolic_mmhg: diastolic,
    ...optional(input, 'position', '', (v, f) => parseEnum(v, BLOOD_PRESSURE_POSITIONS, f)),
    ...optional(input, 'cuff_location', '', (v, f) => parseEnum(v, CUFF_LOCATIONS, f)),
    ...(comment === undefined ? {} : { comment }),
  };
}

function parseHeartRate(input: Input, base: EntryBase): HeartRateEntry {
  const max = ENTRY_LIMITS.heartRateMaxBpm;
  const rate = parseNumber(
    required(input, 'rate_bpm', 'rate_bpm'),
    'rate_bpm',
    `a whole number from 1 to ${max}`,
    (n) => Number.isInteger(n) && n >= 1 && n <= max,
  );
  const { comment, ...rest } = base;
  return {
    kind: 'heart_rate',
    ...rest,
    rate_bpm: rate,
    ...optional(input, 'rhythm', '', (v, f) => parseEnum(v, HEART_RHYTHMS, f)),
    ...(comment === undefined ? {} : { comment }),
  };
}

function parseBodyWeight(input: Input, base: EntryBase): BodyWeightEntry {
  const { weightMaxKg: max, weightDecimals: decimals } = ENTRY_LIMITS;
  const weight = parseNumber(
    required(input, 'weight_kg', 'weight_kg'),
    'weight_kg',
    `a number greater than 0 and at most ${max}, with at most ${decimals} decimals`,
    (n) => n > 0 && n <= max && Number(n.toFixed(decimals)) === n,
  );
  const { comment, ...rest } = base;
  return {
    kind: 'body_weight',
    ...rest,
    weight_kg: weight,
    ...optional(input, 'state_of_dress', '', (v, f) => parseEnum(v, STATES_OF_DRESS, f)),
    ...(comment === undefined ? {} : { comment }),
  };
}

function parseTestCode(value: unknown, field: string): TestCode {
  const input = objectAt(value, field);
  refuseUnknown(input, TEST_CODE_FIELDS, field);
  return {
    system: parseLine(
      required(input, 'system', at(field, 'system')),
      at(field, 'system'),
      ENTRY_LIMITS.codeSystemMaxLength,
    ),
    code: parseLine(
      required(input, 'code', at(field, 'code')),
      at(field, 'code'),
      ENTRY_LIMITS.codeMaxLength,
    ),
  };
}

function parseQuantity(value: unknown, field: string): Quantity {
  const input = objectAt(value, field);
  refuseUnknown(input, QUANTITY_FIELDS, field);
  return {
    value: anyNumber(required(input, 'value', at(field, 'value')), at(field, 'value')),
    unit: parseUnit(required(input, 'unit', at(field, 'unit')), at(field, 'unit')),
  };
}

function parseReferenceRange(value: unknown, field: string): ReferenceRange {
  const input = objectAt(value, field);
  refuseUnknown(input, REFERENCE_RANGE_FIELDS, field);
  const low = given(input.low) ? anyNumber(input.low, at(field, 'low')) : undefined;
  const high = given(input.high) ? anyNumber(input.high, at(field, 'high')) : undefined;
  if (low === undefined && high === undefined) throw invalidInput(field, 'must give low, high or both');
  if (low !== undefined && high !== undefined && low > high) {
    throw invalidInput(at(field, 'low'), `must not be greater than ${at(field, 'high')}`);
  }
  return {
    ...(low === undefined ? {} : { low }),
    ...(high === undefined ? {} : { high }),
    ...(given(input.unit) ? { unit: parseUnit(input.unit, at(field, 'unit')) } : {}),
  };
}

function parseLabResult(input: Input, base: EntryBase): LabResultEntry {
  const testName = parseLine(
    required(input, 'test_name', 'test_name'),
    'test_name',
    ENTRY_LIMITS.testNameMaxLength,
  );
  const hasQuantity = given(input.value_quantity);
  const hasText = given(input.value_text);
  if (hasQuantity && hasText)
    throw invalidInput('value_text', 'must not be given together with value_quantity');
  if (!hasQuantity && !hasText)
    throw invalidInput('value_quantity', 'is required unless value_text is given');
  const testCode = given(input.test_code) ? { test_code: parseTestCode(input.test_code, 'test_code') } : {};
  const quantity = hasQuantity ? parseQuantity(input.value_quantity, 'value_quantity') : undefined;
  const text = hasText
    ? parseLine(input.value_text, 'value_text', ENTRY_LIMITS.valueTextMaxLength)
    : undefined;
  const { comment, ...rest } = base;
  const head = { kind: 'lab_result' as const, ...rest, test_name: testName, ...testCode };
  const tail = {
    ...optional(input, 'reference_range', '', parseReferenceRange),
    ...optional(input, 'interpretation', '', (v, f) => parseEnum(v, LAB_INTERPRETATIONS, f)),
    ...optional(input, 'specimen', '', (v, f) => parseLine(v, f, ENTRY_LIMITS.specimenMaxLength)),
    status: given(input.status) ? parseEnum(input.status, LAB_STATUSES, 'status') : ('final' as const),
    ...(comment === undefined ? {} : { comment }),
  };
  return quantity !== undefined
    ? { ...head, value_quantity: quantity, ...tail }
    : { ...head, value_text: text as string, ...tail };
}

function parseProblemCode(value: unknown, field: string): ProblemCode {
  const input = objectAt(value, field);
  refuseUnknown(input, PROBLEM_CODE_FIELDS, field);
  return {
    terminology: parseLine(
      required(input, 'terminology', at(field, 'terminology')),
      at(field, 'terminology'),
      ENTRY_LIMITS.terminologyMaxLength,
    ),
    value: parseLine(
      required(input, 'value', at(field, 'value')),
      at(field, 'value'),
      ENTRY_LIMITS.codeMaxLength,
    ),
  };
}

function parseProblem(input: Input, base: EntryBase, now: Date): ProblemEntry {
  const name = parseLine(required(input, 'name', 'name'), 'name', ENTRY_LIMITS.problemNameMaxLength);
  const status = parseEnum(required(input, 'status', 'status'), PROBLEM_STATUSES, 'status');
  const onset = given(input.onset_date) ? parseCalendarDate(input.onset_date, 'onset_date', now) : undefined;
  const resolved = given(input.resolved_date)
    ? parseCalendarDate(input.resolved_date, 'resolved_date', now)
    : undefined;
  if (resolved !== undefined && status !== 'resolved') {
    throw invalidInput('resolved_date', 'is only allowed when status is resolved');
  }
  if (resolved !== undefined && onset !== undefined && resolved < onset) {
    throw invalidInput('resolved_date', 'must not be before onset_date');
  }
  const { comment, ...rest } = base;
  return {
    kind: 'problem',
    ...rest,
    name,
    ...optional(input, 'code', '', parseProblemCode),
    status,
    ...(onset === undefined ? {} : { onset_date: onset }),
    ...(resolved === undefined ? {} : { resolved_date: resolved }),
    ...optional(input, 'severity', '', (v, f) => parseEnum(v, PROBLEM_SEVERITIES, f)),
    ...(comment === undefined ? {} : { comment }),
  };
}

/**
 * Validates an entry of `kind` as a client sent it (the JSON body) and returns it in canonical
 * form. Every error is INVALID_INPUT with the field's path in `details.field` (nested as
 * `reference_range.low`); unknown fields are refused. The body may repeat `kind` if it agrees.
 * `recorded_at` is required for observations; a problem without one is recorded at `now`.
 */
export function parseEntryInput(kind: unknown, body: unknown, now: Date = new Date()): EntryInput {
  const entryKind = parseEnum(kind, ENTRY_KINDS, 'kind');
  const input = objectAt(body, 'body');
  refuseUnknown(input, ['kind', ...COMMON_ENTRY_FIELDS, ...ENTRY_FIELDS[entryKind]], '');
  if (given(input.kind) && input.kind !== entryKind) {
    throw invalidInput('kind', 'must match the kind of entry being recorded');
  }
  const base = common(input, now, isObservationKind(entryKind));
  switch (entryKind) {
    case 'blood_pressure':
      return parseBloodPressure(input, base);
    case 'heart_rate':
      return parseHeartRate(input, base);
    case 'body_weight':
      return parseBodyWeight(input, base);
    case 'lab_result':
      return parseLabResult(input, base);
    case 'problem':
      return parseProblem(input, base, now);
  }
}
