// Strict parsing of care events as a client sends them (the JSON body of an appointment,
// encounter or referral): unknown fields refused, wrong types refused, every rule of
// care-event-kinds.ts applied once here before anything is written. `parseCareEventInput`
// returns the canonical form: text NFC-normalised and trimmed, single-line text with runs of white
// space collapsed, CRLF in free text made LF, `T`/`Z` of date-times upper-cased, defaults filled
// in, empty lists of clinical references left out. Every error is INVALID_INPUT naming the field
// by its path (`participants[0].role`, `period.end`); messages never carry the value.
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
import { parseTimestampId, type TimestampId } from '../ids/timestamp-id.js';
import {
  APPOINTMENT_PARTICIPANT_FIELDS,
  APPOINTMENT_STATUSES,
  CARE_EVENT_FIELDS,
  CARE_EVENT_KINDS,
  CARE_EVENT_LIMITS as LIMITS,
  CODED_TEXT_FIELDS,
  CODING_FIELDS,
  DEFAULT_APPOINTMENT_STATUS,
  DEFAULT_REFERRAL_INTENT,
  DEFAULT_REFERRAL_PRIORITY,
  ENCOUNTER_CLASSES,
  ENCOUNTER_PARTICIPANT_FIELDS,
  ENCOUNTER_STATUSES,
  ENDED_ENCOUNTER_STATUSES,
  PARTICIPANT_REQUIRED,
  PARTICIPATION_STATUSES,
  PERFORMER_FIELDS,
  PERIOD_FIELDS,
  REFERRAL_INTENTS,
  REFERRAL_PRIORITIES,
  REFERRAL_STATUSES,
  REQUESTER_FIELDS,
  UNSCHEDULED_APPOINTMENT_STATUSES,
  type AppointmentInput,
  type AppointmentParticipant,
  type CareEventInput,
  type CodedText,
  type Coding,
  type EncounterInput,
  type EncounterParticipant,
  type ReferralInput,
  type ReferralPerformer,
  type ReferralRequester,
} from './care-event-kinds.js';

// ---- Values ---------------------------------------------------------------------------------

/** A single line of printable text: NFC, trimmed, runs of white space collapsed, bounded. */
function parseLine(value: unknown, field: string, max: number = LIMITS.lineMaxLength): string {
  return parsePrintableLine(value, field, max);
}

/** Free text that may run over several lines: NFC, CRLF and CR made LF, trimmed, bounded. */
function parseFreeText(value: unknown, field: string): string {
  return parseNoteText(value, field, LIMITS.freeTextMaxLength);
}

const ACTOR_ID = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/;

/** An actor's id: one word of letters, digits and `. _ : / @ + -`, such as Practitioner/123. */
function parseActorId(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string');
  if (value.length > LIMITS.actorIdMaxLength) {
    throw invalidInput(field, `must be at most ${LIMITS.actorIdMaxLength} characters`);
  }
  if (!ACTOR_ID.test(value)) {
    throw invalidInput(field, 'must be letters, digits and . _ : / @ + -, starting with a letter or digit');
  }
  return value;
}

/** A TimestampId naming another item; INVALID_INPUT (not INVALID_ID) because it is a body field. */
function parseReference(value: unknown, field: string): TimestampId {
  try {
    return parseTimestampId(value, field);
  } catch {
    throw invalidInput(field, 'must be an id written YYYYMMDDTHHMMSS.mmmZ-<uuid v4>');
  }
}

/** A list of TimestampIds without repeats; `[]` when the list is empty. */
function parseReferences(value: unknown, field: string): readonly TimestampId[] {
  if (!Array.isArray(value)) throw invalidInput(field, 'must be a list');
  if (value.length > LIMITS.clinicalRefsMax) {
    throw invalidInput(field, `must have at most ${LIMITS.clinicalRefsMax} entries`);
  }
  const ids = value.map((v: unknown, i) => parseReference(v, `${field}[${i}]`));
  if (new Set(ids).size !== ids.length) throw invalidInput(field, 'must not repeat an entry');
  return ids;
}

/** `{ clinical_refs }` when the body gives a non-empty list, else `{}`. */
function clinicalRefs(input: Input): { readonly clinical_refs?: readonly TimestampId[] } {
  if (!given(input.clinical_refs)) return {};
  const refs = parseReferences(input.clinical_refs, 'clinical_refs');
  return refs.length === 0 ? {} : { clinical_refs: refs };
}

function parseCoding(value: unknown, field: string): Coding {
  const input = objectAt(value, field);
  refuseUnknown(input, CODING_FIELDS, field);
  return {
    system: parseLine(
      required(input, 'system', at(field, 'system')),
      at(field, 'system'),
      LIMITS.codeSystemMaxLength,
    ),
    code: parseLine(required(input, 'code', at(field, 'code')), at(field, 'code'), LIMITS.codeMaxLength),
  };
}

function parseCodedText(value: unknown, field: string, max: number): CodedText {
  const input = objectAt(value, field);
  refuseUnknown(input, CODED_TEXT_FIELDS, field);
  return {
    text: parseLine(required(input, 'text', at(field, 'text')), at(field, 'text'), max),
    ...optional(input, 'code', field, parseCoding),
  };
}

const parseReason = (value: unknown, field: string) => parseCodedText(value, field, LIMITS.reasonMaxLength);

// ---- Date-times -----------------------------------------------------------------------------

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const MINUTE_MS = 60_000;

/** A date-time as given (canonical text) and the instant it names (ms since the epoch). */
interface DateTime {
  readonly text: string;
  readonly ms: number;
}

/** The instant an ISO 8601 date-time with `Z` or an offset names; NaN when it names none. */
function instantOf(value: string): number {
  const match = DATE_TIME.exec(value);
  if (match === null) return Number.NaN;
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
  const date = new Date(Date.UTC(year, month - 1, day));
  const real =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetMinutes <= 59 &&
    offsetHours * 60 + offsetMinutes <= 14 * 60;
  if (!real) return Number.NaN;
  const ms = Number((fraction ?? '').padEnd(3, '0').slice(0, 3));
  const offset = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset * MINUTE_MS;
}

/**
 * An ISO 8601 date-time with `Z` or an offset (seconds and fractions optional), a real instant
 * from `earliestYear` to `latestYearsAhead` years after `now` (or, when `notFuture`, not more
 * than `futureToleranceMinutes` after it). Kept as given with `T` and `Z` upper-cased: the offset
 * says when it is on the clock of the place it happens.
 */
function parseDateTime(value: unknown, field: string, now: Date, notFuture = false): DateTime {
  if (typeof value !== 'string' || !DATE_TIME.test(value)) {
    throw invalidInput(field, 'must be a date and time such as 2026-01-31T09:30:00Z, with Z or an offset');
  }
  const ms = instantOf(value);
  if (Number.isNaN(ms)) throw invalidInput(field, 'must be a real date and time');
  if (Number(value.slice(0, 4)) < LIMITS.earliestYear) {
    throw invalidInput(field, `must not be before ${LIMITS.earliestYear}`);
  }
  if (notFuture) {
    if (ms > now.getTime() + LIMITS.futureToleranceMinutes * MINUTE_MS) {
      throw invalidInput(field, 'must not be in the future');
    }
  } else {
    const latest = new Date(now.getTime());
    latest.setUTCFullYear(latest.getUTCFullYear() + LIMITS.latestYearsAhead);
    if (ms > latest.getTime()) {
      throw invalidInput(field, `must not be more than ${LIMITS.latestYearsAhead} years ahead`);
    }
  }
  return { text: value.replace(/[tz]/g, (c) => c.toUpperCase()), ms };
}

// ---- Participants, requester, performer -----------------------------------------------------

function parseParticipantList<T>(
  value: unknown,
  field: string,
  parse: (input: Input, field: string) => T,
): readonly T[] {
  if (!Array.isArray(value)) throw invalidInput(field, 'must be a list');
  if (value.length === 0) throw invalidInput(field, 'must have at least one entry');
  if (value.length > LIMITS.participantsMax) {
    throw invalidInput(field, `must have at most ${LIMITS.participantsMax} entries`);
  }
  return value.map((raw: unknown, i) => {
    const f = `${field}[${i}]`;
    return parse(objectAt(raw, f), f);
  });
}

function parseEncounterParticipant(input: Input, field: string): EncounterParticipant {
  refuseUnknown(input, ENCOUNTER_PARTICIPANT_FIELDS, field);
  return {
    ...optional(input, 'actor_id', field, parseActorId),
    display_name: parseLine(
      required(input, 'display_name', at(field, 'display_name')),
      at(field, 'display_name'),
    ),
    role: parseLine(required(input, 'role', at(field, 'role')), at(field, 'role'), LIMITS.roleMaxLength),
  };
}

function parseAppointmentParticipant(input: Input, field: string): AppointmentParticipant {
  refuseUnknown(input, APPOINTMENT_PARTICIPANT_FIELDS, field);
  const { actor_id, display_name, role, ...rest } = input;
  return {
    ...parseEncounterParticipant({ actor_id, display_name, role }, field),
    ...optional(rest, 'required', field, (v, f) => parseEnum(v, PARTICIPANT_REQUIRED, f)),
    ...optional(rest, 'status', field, (v, f) => parseEnum(v, PARTICIPATION_STATUSES, f)),
  };
}

function parseRequester(value: unknown, field: string): ReferralRequester {
  const input = objectAt(value, field);
  refuseUnknown(input, REQUESTER_FIELDS, field);
  return {
    ...optional(input, 'actor_id', field, parseActorId),
    display_name: parseLine(
      required(input, 'display_name', at(field, 'display_name')),
      at(field, 'display_name'),
    ),
  };
}

function parsePerformer(value: unknown, field: string): ReferralPerformer {
  const input = objectAt(value, field);
  refuseUnknown(input, PERFORMER_FIELDS, field);
  return {
    display_name: parseLine(
      required(input, 'display_name', at(field, 'display_name')),
      at(field, 'display_name'),
    ),
    ...optional(input, 'organisation', field, (v, f) => parseLine(v, f)),
  };
}

const careLocation = (input: Input) =>
  parseLine(required(input, 'care_location', 'care_location'), 'care_location');

// ---- The kinds ------------------------------------------------------------------------------

function parseAppointment(input: Input, now: Date): AppointmentInput {
  const status = given(input.status)
    ? parseEnum(input.status, APPOINTMENT_STATUSES, 'status')
    : DEFAULT_APPOINTMENT_STATUS;
  const start = given(input.start) ? parseDateTime(input.start, 'start', now) : undefined;
  const end = given(input.end) ? parseDateTime(input.end, 'end', now) : undefined;
  const unscheduled = (UNSCHEDULED_APPOINTMENT_STATUSES as readonly string[]).includes(status);
  if (start === undefined && (end !== undefined || !unscheduled)) {
    throw invalidInput(
      'start',
      unscheduled ? 'is required when end is given' : 'is required for this status',
    );
  }
  if (end === undefined && start !== undefined) throw invalidInput('end', 'is required when start is given');
  if (start !== undefined && end !== undefined && end.ms <= start.ms) {
    throw invalidInput('end', 'must be after start');
  }
  const minutes = given(input.minutes_duration)
    ? parseMinutes(input.minutes_duration, 'minutes_duration')
    : undefined;
  if (minutes !== undefined && start !== undefined && end !== undefined) {
    if (minutes * MINUTE_MS > end.ms - start.ms) {
      throw invalidInput('minutes_duration', 'must not be longer than the time from start to end');
    }
  }
  if (given(input.cancellation_reason) && status !== 'cancelled') {
    throw invalidInput('cancellation_reason', 'is only allowed when status is cancelled');
  }
  return {
    kind: 'appointment',
    status,
    ...(start === undefined ? {} : { start: start.text }),
    ...(end === undefined ? {} : { end: end.text }),
    ...(minutes === undefined ? {} : { minutes_duration: minutes }),
    ...optional(input, 'service_type', '', (v, f) => parseLine(v, f)),
    ...optional(input, 'appointment_type', '', (v, f) => parseLine(v, f)),
    ...optional(input, 'reason', '', parseReason),
    ...optional(input, 'description', '', parseFreeText),
    care_location: careLocation(input),
    participants: parseParticipantList(
      required(input, 'participants', 'participants'),
      'participants',
      parseAppointmentParticipant,
    ),
    ...optional(input, 'cancellation_reason', '', (v, f) => parseLine(v, f, LIMITS.reasonMaxLength)),
    ...optional(input, 'based_on_referral', '', parseReference),
    ...clinicalRefs(input),
  };
}

function parseMinutes(value: unknown, field: string): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > LIMITS.minutesDurationMax
  ) {
    throw invalidInput(field, `must be a whole number of minutes from 1 to ${LIMITS.minutesDurationMax}`);
  }
  return value;
}

function parseEncounter(input: Input, now: Date): EncounterInput {
  const status = parseEnum(required(input, 'status', 'status'), ENCOUNTER_STATUSES, 'status');
  const encounterClass = parseEnum(required(input, 'class', 'class'), ENCOUNTER_CLASSES, 'class');
  const period = objectAt(required(input, 'period', 'period'), 'period');
  refuseUnknown(period, PERIOD_FIELDS, 'period');
  const start = parseDateTime(required(period, 'start', 'period.start'), 'period.start', now);
  const end = given(period.end) ? parseDateTime(period.end, 'period.end', now) : undefined;
  if (end !== undefined && !(ENDED_ENCOUNTER_STATUSES as readonly string[]).includes(status)) {
    throw invalidInput('period.end', `is only allowed when status is ${ENDED_ENCOUNTER_STATUSES.join(', ')}`);
  }
  if (end !== undefined && end.ms < start.ms) throw invalidInput('period.end', 'must not be before start');
  return {
    kind: 'encounter',
    status,
    class: encounterClass,
    period: { start: start.text, ...(end === undefined ? {} : { end: end.text }) },
    care_location: careLocation(input),
    participants: parseParticipantList(
      required(input, 'participants', 'participants'),
      'participants',
      parseEncounterParticipant,
    ),
    ...optional(input, 'reason', '', parseReason),
    ...optional(input, 'appointment_id', '', parseReference),
    ...clinicalRefs(input),
  };
}

function parseReferral(input: Input, now: Date): ReferralInput {
  return {
    kind: 'referral',
    status: parseEnum(required(input, 'status', 'status'), REFERRAL_STATUSES, 'status'),
    intent: given(input.intent)
      ? parseEnum(input.intent, REFERRAL_INTENTS, 'intent')
      : DEFAULT_REFERRAL_INTENT,
    priority: given(input.priority)
      ? parseEnum(input.priority, REFERRAL_PRIORITIES, 'priority')
      : DEFAULT_REFERRAL_PRIORITY,
    service: parseCodedText(required(input, 'service', 'service'), 'service', LIMITS.lineMaxLength),
    ...optional(input, 'reason', '', parseReason),
    requester: parseRequester(required(input, 'requester', 'requester'), 'requester'),
    ...optional(input, 'performer', '', parsePerformer),
    ...optional(input, 'occurrence', '', (v, f) => parseDateTime(v, f, now).text),
    authored_on: given(input.authored_on)
      ? parseDateTime(input.authored_on, 'authored_on', now, true).text
      : now.toISOString(),
    ...optional(input, 'notes', '', parseFreeText),
    ...clinicalRefs(input),
  };
}

/**
 * Validates a care event of `kind` as a client sent it (the JSON body) and returns it in
 * canonical form. Every error is INVALID_INPUT with the field's path in `details.field`; unknown
 * fields are refused. The body may repeat `kind` if it agrees. The body is the whole event (an
 * update replaces every field), so an appointment without a status is booked. `now` is the
 * server's clock: the default authored_on, and the bound on how far ahead a date-time may be.
 */
export function parseCareEventInput(kind: unknown, body: unknown, now: Date = new Date()): CareEventInput {
  const eventKind = parseEnum(kind, CARE_EVENT_KINDS, 'kind');
  const input = objectAt(body, 'body');
  refuseUnknown(input, ['kind', ...CARE_EVENT_FIELDS[eventKind]], '');
  if (given(input.kind) && input.kind !== eventKind) {
    throw invalidInput('kind', 'must match the kind of event being recorded');
  }
  switch (eventKind) {
    case 'appointment':
      return parseAppointment(input, now);
    case 'encounter':
      return parseEncounter(input, now);
    case 'referral':
      return parseReferral(input, now);
  }
}
