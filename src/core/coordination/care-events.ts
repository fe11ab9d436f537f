// Care events of the coordination repository — appointments, encounters and referrals — as the
// files that store them: each a FHIR R4 resource written as YAML (Appointment, Encounter,
// ServiceRequest for a referral), with a small `vpr:` block for what FHIR has no element for
// (the care location lists are kept by, the clinical record items the event concerns, who
// recorded it). Writing is deterministic (fixed key order, no line folding) from a validated
// event only; reading is lenient — what the file holds, nothing invented, never a throw — and
// reads back exactly what was written. Also the one-line summary list projections show.
//
// The vocabulary (kinds, value sets, limits, paths) is care-event-kinds.ts, strict parsing of
// client input care-event-input.ts, the status workflow care-event-status.ts; all re-exported here.
import { parseYamlMappingWithoutAliases, renderRecordYaml } from '../yaml-mapping.js';
import { parseSingleLine } from '../commit/author.js';
import { parseTimestampId, type TimestampId } from '../ids/timestamp-id.js';
import {
  ACT_CODE_SYSTEM,
  CARE_EVENT_KINDS,
  CARE_EVENT_RESOURCE_TYPES,
  CARE_EVENT_STATUSES,
  CARE_EVENT_TITLES,
  DEFAULT_REFERRAL_INTENT,
  DEFAULT_REFERRAL_PRIORITY,
  ENCOUNTER_CLASSES,
  ENCOUNTER_CLASS_DISPLAYS,
  PARTICIPANT_REQUIRED,
  PARTICIPATION_STATUSES,
  REFERRAL_CATEGORY,
  REFERRAL_INTENTS,
  REFERRAL_PRIORITIES,
  type AppointmentInput,
  type AppointmentParticipant,
  type CareEventInput,
  type CareEventKind,
  type CareEventStatus,
  type CodedText,
  type EncounterInput,
  type EncounterParticipant,
  type ReferralInput,
  type ReferralPerformer,
} from './care-event-kinds.js';

export * from './care-event-kinds.js';
export * from './care-event-input.js';
export * from './care-event-status.js';

/** Who recorded the event (the author of the change), as the file records it. */
export interface CareEventRecorder {
  readonly name: string;
  readonly role: string;
}

export interface CareEventDocumentInput {
  /** A TimestampId: the event's id, its file name and the resource's id. */
  readonly id: string;
  readonly event: CareEventInput;
  readonly recordedBy: CareEventRecorder;
}

/** A care event file as read back. */
export interface StoredCareEvent {
  readonly id: TimestampId;
  readonly kind: CareEventKind;
  /** Empty strings when the file names no recorder. */
  readonly recordedBy: CareEventRecorder;
  readonly event: CareEventInput;
}

/** Larger than any care event VPR writes by far; a bigger file is not read as one. */
const MAX_RESOURCE_CHARS = 256 * 1024;

// ---- Writing --------------------------------------------------------------------------------

type Node = Readonly<Record<string, unknown>>;

/** `{ [key]: make(value) }` when the value is defined, else `{}`: for spreading into a node. */
function maybe<K extends string, T>(key: K, value: T | undefined, make: (value: T) => unknown = (v) => v) {
  return value === undefined ? {} : ({ [key]: make(value) } as { readonly [P in K]: unknown });
}

/** FHIR CodeableConcept: the one coding (when coded), then the text. */
const concept = (value: CodedText): Node => ({
  ...maybe('coding', value.code, (c) => [{ system: c.system, code: c.code }]),
  text: value.text,
});

/** FHIR Reference: the actor's id as the reference (when it has one), then its display. */
const reference = (actorId: string | undefined, display: string): Node => ({
  ...maybe('reference', actorId),
  display,
});

const roleOf = (role: string): Node[] => [{ text: role }];

function vprBlock(event: CareEventInput, recordedBy: CareEventRecorder): Node {
  return {
    ...(event.kind === 'referral' ? {} : { care_location: event.care_location }),
    ...maybe('clinical_refs', event.clinical_refs, (refs) => [...refs]),
    recorded_by: { name: recordedBy.name, role: recordedBy.role },
  };
}

function renderAppointment(id: TimestampId, e: AppointmentInput): Node {
  return {
    resourceType: CARE_EVENT_RESOURCE_TYPES.appointment,
    id,
    status: e.status,
    ...maybe('cancelationReason', e.cancellation_reason, (text) => ({ text })),
    ...maybe('serviceType', e.service_type, (text) => [{ text }]),
    ...maybe('appointmentType', e.appointment_type, (text) => ({ text })),
    ...maybe('reasonCode', e.reason, (r) => [concept(r)]),
    ...maybe('description', e.description),
    ...maybe('start', e.start),
    ...maybe('end', e.end),
    ...maybe('minutesDuration', e.minutes_duration),
    ...maybe('basedOn', e.based_on_referral, (r) => [{ reference: `ServiceRequest/${r}` }]),
    participant: e.participants.map((p) => ({
      type: roleOf(p.role),
      actor: reference(p.actor_id, p.display_name),
      ...maybe('required', p.required),
      ...maybe('status', p.status),
    })),
  };
}

function renderEncounter(id: TimestampId, e: EncounterInput): Node {
  return {
    resourceType: CARE_EVENT_RESOURCE_TYPES.encounter,
    id,
    status: e.status,
    class: { system: ACT_CODE_SYSTEM, code: e.class, display: ENCOUNTER_CLASS_DISPLAYS[e.class] },
    participant: e.participants.map((p) => ({
      type: roleOf(p.role),
      individual: reference(p.actor_id, p.display_name),
    })),
    ...maybe('appointment', e.appointment_id, (a) => [{ reference: `Appointment/${a}` }]),
    period: { start: e.period.start, ...maybe('end', e.period.end) },
    ...maybe('reasonCode', e.reason, (r) => [concept(r)]),
  };
}

function renderReferral(id: TimestampId, e: ReferralInput): Node {
  return {
    resourceType: CARE_EVENT_RESOURCE_TYPES.referral,
    id,
    status: e.status,
    intent: e.intent,
    category: [{ coding: [{ ...REFERRAL_CATEGORY }] }],
    priority: e.priority,
    code: concept(e.service),
    ...maybe('occurrenceDateTime', e.occurrence),
    authoredOn: e.authored_on,
    requester: reference(e.requester.actor_id, e.requester.display_name),
    ...maybe('performer', e.performer, (p) => [
      { display: p.display_name },
      ...(p.organisation === undefined ? [] : [{ type: 'Organization', display: p.organisation }]),
    ]),
    ...maybe('reasonCode', e.reason, (r) => [concept(r)]),
    ...maybe('note', e.notes, (text) => [{ text }]),
  };
}

/**
 * The YAML text of the FHIR resource that stores a validated care event. Throws INVALID_ID for
 * an id that is not a TimestampId, INVALID_INPUT for a recorder name or role that is not a
 * single line.
 */
export function renderCareEvent(input: CareEventDocumentInput): string {
  const id = parseTimestampId(input.id, 'id');
  const recordedBy = {
    name: parseSingleLine(input.recordedBy.name, 'recordedBy.name'),
    role: parseSingleLine(input.recordedBy.role, 'recordedBy.role', 64),
  };
  const { event } = input;
  const resource =
    event.kind === 'appointment'
      ? renderAppointment(id, event)
      : event.kind === 'encounter'
        ? renderEncounter(id, event)
        : renderReferral(id, event);
  return renderRecordYaml({ ...resource, vpr: vprBlock(event, recordedBy) });
}

// ---- Lenient reading: what the file holds, nothing invented, never a throw --------------------

type Mapping = Readonly<Record<string, unknown>>;

const asMapping = (value: unknown): Mapping | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Mapping) : undefined;
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const mappings = (value: unknown): Mapping[] =>
  Array.isArray(value) ? value.filter((v: unknown): v is Mapping => asMapping(v) !== undefined) : [];
const first = (value: unknown): Mapping | undefined => mappings(value)[0];

function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T | undefined {
  return allowed.includes(value as T) ? (value as T) : undefined;
}

function timestampIdOf(value: unknown): TimestampId | undefined {
  try {
    return parseTimestampId(value);
  } catch {
    return undefined;
  }
}

/** `{ [key]: value }` when the value was found, else `{}`: for spreading into an event. */
function optional<K extends string, T>(key: K, value: T | undefined): { readonly [P in K]?: T } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: T });
}

/** A CodeableConcept as text with its first coding; its text, else the coding's display. */
function readConcept(value: unknown): CodedText | undefined {
  const concept = asMapping(value);
  const coding = first(concept?.coding);
  const text = asString(concept?.text) ?? asString(coding?.display);
  if (text === undefined) return undefined;
  const system = asString(coding?.system);
  const code = asString(coding?.code);
  return { text, ...(system === undefined || code === undefined ? {} : { code: { system, code } }) };
}

/** The TimestampId a Reference to `resourceType/<id>` names. */
function referencedId(value: unknown, resourceType: string): TimestampId | undefined {
  const ref = asString(asMapping(value)?.reference);
  const prefix = `${resourceType}/`;
  return ref?.startsWith(prefix) ? timestampIdOf(ref.slice(prefix.length)) : undefined;
}

function readParticipant(value: Mapping, actorKey: 'actor' | 'individual'): EncounterParticipant | undefined {
  const actor = asMapping(value[actorKey]);
  const display = asString(actor?.display);
  const role = readConcept(first(value.type))?.text;
  if (display === undefined || role === undefined) return undefined;
  return { ...optional('actor_id', asString(actor?.reference)), display_name: display, role };
}

const defined = <T>(value: T | undefined): value is T => value !== undefined;

interface ReadContext<K extends CareEventKind> {
  readonly root: Mapping;
  readonly vpr: Mapping | undefined;
  readonly status: CareEventStatus<K>;
}

function common(vpr: Mapping | undefined) {
  const refs = Array.isArray(vpr?.clinical_refs) ? vpr.clinical_refs.map(timestampIdOf).filter(defined) : [];
  return refs.length === 0 ? {} : { clinical_refs: refs };
}

function readAppointment({ root, vpr, status }: ReadContext<'appointment'>): AppointmentInput {
  const minutes = root.minutesDuration;
  const participants = mappings(root.participant)
    .map((p): AppointmentParticipant | undefined => {
      const participant = readParticipant(p, 'actor');
      return participant === undefined
        ? undefined
        : {
            ...participant,
            ...optional('required', oneOf(p.required, PARTICIPANT_REQUIRED)),
            ...optional('status', oneOf(p.status, PARTICIPATION_STATUSES)),
          };
    })
    .filter(defined);
  return {
    kind: 'appointment',
    status,
    ...optional('start', asString(root.start)),
    ...optional('end', asString(root.end)),
    ...optional(
      'minutes_duration',
      typeof minutes === 'number' && Number.isInteger(minutes) && minutes > 0 ? minutes : undefined,
    ),
    ...optional('service_type', readConcept(first(root.serviceType))?.text),
    ...optional('appointment_type', readConcept(root.appointmentType)?.text),
    ...optional('reason', readConcept(first(root.reasonCode))),
    ...optional('description', asString(root.description)),
    care_location: asString(vpr?.care_location) ?? '',
    participants,
    ...optional('cancellation_reason', readConcept(root.cancelationReason)?.text),
    ...optional(
      'based_on_referral',
      mappings(root.basedOn)
        .map((r) => referencedId(r, CARE_EVENT_RESOURCE_TYPES.referral))
        .find(defined),
    ),
    ...common(vpr),
  };
}

function readEncounter({ root, vpr, status }: ReadContext<'encounter'>): EncounterInput | undefined {
  const encounterClass = oneOf(asMapping(root.class)?.code, ENCOUNTER_CLASSES);
  const period = asMapping(root.period);
  const start = asString(period?.start);
  if (encounterClass === undefined || start === undefined) return undefined;
  return {
    kind: 'encounter',
    status,
    class: encounterClass,
    period: { start, ...optional('end', asString(period?.end)) },
    care_location: asString(vpr?.care_location) ?? '',
    participants: mappings(root.participant)
      .map((p) => readParticipant(p, 'individual'))
      .filter(defined),
    ...optional('reason', readConcept(first(root.reasonCode))),
    ...optional(
      'appointment_id',
      mappings(root.appointment)
        .map((r) => referencedId(r, CARE_EVENT_RESOURCE_TYPES.appointment))
        .find(defined),
    ),
    ...common(vpr),
  };
}

function readPerformer(value: unknown): ReferralPerformer | undefined {
  const performers = mappings(value);
  const isOrganisation = (p: Mapping) => p.type === 'Organization';
  const person = asString(performers.find((p) => !isOrganisation(p))?.display);
  const organisation = asString(performers.find(isOrganisation)?.display);
  if (person === undefined) return organisation === undefined ? undefined : { display_name: organisation };
  return { display_name: person, ...optional('organisation', organisation) };
}

function readReferral({ root, vpr, status }: ReadContext<'referral'>): ReferralInput | undefined {
  const service = readConcept(root.code);
  const authoredOn = asString(root.authoredOn);
  if (service === undefined || authoredOn === undefined) return undefined;
  const requester = asMapping(root.requester);
  return {
    kind: 'referral',
    status,
    intent: oneOf(root.intent, REFERRAL_INTENTS) ?? DEFAULT_REFERRAL_INTENT,
    priority: oneOf(root.priority, REFERRAL_PRIORITIES) ?? DEFAULT_REFERRAL_PRIORITY,
    service,
    ...optional('reason', readConcept(first(root.reasonCode))),
    requester: {
      ...optional('actor_id', asString(requester?.reference)),
      display_name: asString(requester?.display) ?? '',
    },
    ...optional('performer', readPerformer(root.performer)),
    ...optional('occurrence', asString(root.occurrenceDateTime)),
    authored_on: authoredOn,
    ...optional('notes', asString(first(root.note)?.text)),
    ...common(vpr),
  };
}

/** The YAML text's top-level mapping; undefined for anything else. */
function parseMapping(text: string): Mapping | undefined {
  if (typeof text !== 'string' || text.length > MAX_RESOURCE_CHARS) return undefined;
  try {
    return asMapping(parseYamlMappingWithoutAliases(text));
  } catch {
    return undefined;
  }
}

/**
 * A care event file read back; undefined when the text is not one: not YAML, not a mapping, not
 * an Appointment, Encounter or ServiceRequest, an id that is not a TimestampId, a status outside
 * the kind's value set, or without what the kind cannot be listed without (an encounter's class
 * and period start, a referral's code and authoredOn). A missing care location or requester name
 * reads as '', participants without a name or role are left out, and so are optional values the
 * file holds in an unexpected form. Never throws; YAML aliases are refused, so an alias bomb
 * costs nothing.
 */
export function readCareEvent(text: string): StoredCareEvent | undefined {
  const root = parseMapping(text);
  const kind = CARE_EVENT_KINDS.find((k) => CARE_EVENT_RESOURCE_TYPES[k] === root?.resourceType);
  if (root === undefined || kind === undefined) return undefined;
  const id = timestampIdOf(root.id);
  if (id === undefined) return undefined;
  const vpr = asMapping(root.vpr);
  let event: CareEventInput | undefined;
  switch (kind) {
    case 'appointment': {
      const status = oneOf(root.status, CARE_EVENT_STATUSES.appointment);
      event = status === undefined ? undefined : readAppointment({ root, vpr, status });
      break;
    }
    case 'encounter': {
      const status = oneOf(root.status, CARE_EVENT_STATUSES.encounter);
      event = status === undefined ? undefined : readEncounter({ root, vpr, status });
      break;
    }
    case 'referral': {
      const status = oneOf(root.status, CARE_EVENT_STATUSES.referral);
      event = status === undefined ? undefined : readReferral({ root, vpr, status });
      break;
    }
  }
  if (event === undefined) return undefined;
  const recorder = asMapping(vpr?.recorded_by);
  return {
    id,
    kind,
    recordedBy: { name: asString(recorder?.name) ?? '', role: asString(recorder?.role) ?? '' },
    event,
  };
}

// ---- Summaries for lists ---------------------------------------------------------------------

/** The longest snippet a summary gives. */
export const CARE_EVENT_SNIPPET_MAX = 160;

/** What a list shows of a care event. */
export interface CareEventSummary {
  readonly title: string;
  readonly snippet: string;
  /** Appointment start, encounter period start, referral occurrence (else authored on); as stored. */
  readonly start: string | null;
  /** Appointment end, encounter period end; null for a referral. */
  readonly end: string | null;
  readonly status: CareEventStatus;
  /** Null for a referral, and for a file that names none. */
  readonly careLocation: string | null;
}

const withNames = (participants: readonly EncounterParticipant[]): string[] =>
  participants.length === 0 ? [] : [`with ${participants.map((p) => p.display_name).join(', ')}`];

function snippetParts(event: CareEventInput): (string | undefined)[] {
  switch (event.kind) {
    case 'appointment':
      return [
        event.service_type,
        event.appointment_type,
        event.reason?.text,
        ...withNames(event.participants),
      ];
    case 'encounter': {
      const display = ENCOUNTER_CLASS_DISPLAYS[event.class];
      return [
        `${display.charAt(0).toUpperCase()}${display.slice(1)}`,
        event.reason?.text,
        ...withNames(event.participants),
      ];
    }
    case 'referral': {
      const performer = event.performer;
      return [
        event.service.text,
        performer === undefined
          ? undefined
          : `to ${[performer.display_name, performer.organisation].filter(defined).join(', ')}`,
        event.priority === DEFAULT_REFERRAL_PRIORITY ? undefined : event.priority,
      ];
    }
  }
}

function boundsOf(event: CareEventInput): { start: string | null; end: string | null } {
  switch (event.kind) {
    case 'appointment':
      return { start: event.start ?? null, end: event.end ?? null };
    case 'encounter':
      return { start: event.period.start, end: event.period.end ?? null };
    case 'referral':
      return { start: event.occurrence ?? event.authored_on, end: null };
  }
}

/**
 * What a list shows: a title and one-line snippet (e.g. `Appointment` / `Diabetes review, with Dr
 * Jones`), when it is, its status and where.
 */
export function careEventSummary(stored: Pick<StoredCareEvent, 'kind' | 'event'>): CareEventSummary {
  const { event } = stored;
  const title = CARE_EVENT_TITLES[stored.kind];
  const parts = snippetParts(event).filter((p): p is string => p !== undefined && p.length > 0);
  const snippet = (parts.length === 0 ? title : parts.join(', ')).replace(/\s+/g, ' ');
  const careLocation = event.kind === 'referral' || event.care_location === '' ? null : event.care_location;
  return {
    title,
    snippet:
      snippet.length <= CARE_EVENT_SNIPPET_MAX ? snippet : `${snippet.slice(0, CARE_EVENT_SNIPPET_MAX - 1)}…`,
    ...boundsOf(event),
    status: event.status,
    careLocation,
  };
}
