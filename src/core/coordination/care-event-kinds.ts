// The care events of the coordination repository — appointments, encounters and referrals — as
// one vocabulary: the kinds, where each is stored, the FHIR R4 resource each is written as
// (Appointment, Encounter, ServiceRequest), the value sets of their coded fields, the fields a
// client may send, every limit, and the canonical form a validated event takes. Parsing lives in
// care-event-input.ts, the status workflow in care-event-status.ts, the YAML in care-events.ts.
//
// One event per file: `appointments/<id>.yaml`, `encounters/<id>.yaml`, `referrals/<id>.yaml`,
// the id a TimestampId, so a folder lists its events in the order they were made. The value
// lists and limits are exported so the API's schemas are built from them and cannot drift.
import { parseTimestampId, type TimestampId } from '../ids/timestamp-id.js';

export const CARE_EVENT_KINDS = ['appointment', 'encounter', 'referral'] as const;
export type CareEventKind = (typeof CARE_EVENT_KINDS)[number];

export function isCareEventKind(kind: unknown): kind is CareEventKind {
  return CARE_EVENT_KINDS.includes(kind as CareEventKind);
}

/** The folder of the coordination repository that holds each kind, one file per event. */
export const CARE_EVENT_DIRS: Readonly<Record<CareEventKind, string>> = {
  appointment: 'appointments',
  encounter: 'encounters',
  referral: 'referrals',
};

/** The FHIR R4 resource each kind is written as. */
export const CARE_EVENT_RESOURCE_TYPES = {
  appointment: 'Appointment',
  encounter: 'Encounter',
  referral: 'ServiceRequest',
} as const satisfies Readonly<Record<CareEventKind, string>>;
export type CareEventResourceType = (typeof CARE_EVENT_RESOURCE_TYPES)[CareEventKind];

/** A human title per kind: the title of list entries. */
export const CARE_EVENT_TITLES: Readonly<Record<CareEventKind, string>> = {
  appointment: 'Appointment',
  encounter: 'Encounter',
  referral: 'Referral',
};

/** The repository path of an event's file. */
export function careEventPath(kind: CareEventKind, id: TimestampId): string {
  return `${CARE_EVENT_DIRS[kind]}/${id}.yaml`;
}

/** The kind and id of the event a repository path holds, if it is a care event file. */
export function careEventOfPath(path: string): { kind: CareEventKind; id: TimestampId } | undefined {
  const match = /^([a-z]+)\/([^/]+)\.yaml$/.exec(path);
  if (match === null) return undefined;
  const kind = CARE_EVENT_KINDS.find((k) => CARE_EVENT_DIRS[k] === match[1]);
  if (kind === undefined) return undefined;
  try {
    return { kind, id: parseTimestampId(match[2]) };
  } catch {
    return undefined;
  }
}

// ---- Value sets (FHIR R4 codes, as FHIR spells them) ----------------------------------------

/** FHIR R4 AppointmentStatus (http://hl7.org/fhir/appointmentstatus). */
export const APPOINTMENT_STATUSES = [
  'proposed',
  'pending',
  'booked',
  'arrived',
  'fulfilled',
  'cancelled',
  'noshow',
  'entered-in-error',
  'checked-in',
  'waitlist',
] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

/** The appointment statuses that need no start and end (FHIR invariants app-2, app-3). */
export const UNSCHEDULED_APPOINTMENT_STATUSES = [
  'proposed',
  'pending',
  'waitlist',
  'cancelled',
  'entered-in-error',
] as const satisfies readonly AppointmentStatus[];

/** FHIR R4 EncounterStatus (http://hl7.org/fhir/encounter-status). */
export const ENCOUNTER_STATUSES = [
  'planned',
  'arrived',
  'triaged',
  'in-progress',
  'onleave',
  'finished',
  'cancelled',
  'entered-in-error',
  'unknown',
] as const;
export type EncounterStatus = (typeof ENCOUNTER_STATUSES)[number];

/** The encounter statuses whose period may have an end. */
export const ENDED_ENCOUNTER_STATUSES = [
  'finished',
  'cancelled',
  'entered-in-error',
] as const satisfies readonly EncounterStatus[];

/** FHIR R4 RequestStatus (http://hl7.org/fhir/request-status), ServiceRequest.status. */
export const REFERRAL_STATUSES = [
  'draft',
  'active',
  'on-hold',
  'revoked',
  'completed',
  'entered-in-error',
  'unknown',
] as const;
export type ReferralStatus = (typeof REFERRAL_STATUSES)[number];

/** The status value sets by kind. */
export const CARE_EVENT_STATUSES = {
  appointment: APPOINTMENT_STATUSES,
  encounter: ENCOUNTER_STATUSES,
  referral: REFERRAL_STATUSES,
} as const satisfies Readonly<Record<CareEventKind, readonly string[]>>;

/** The status type of one kind (or of any kind). */
export type CareEventStatus<K extends CareEventKind = CareEventKind> = {
  readonly appointment: AppointmentStatus;
  readonly encounter: EncounterStatus;
  readonly referral: ReferralStatus;
}[K];

/** The status an appointment is given when the client names none. */
export const DEFAULT_APPOINTMENT_STATUS = 'booked' satisfies AppointmentStatus;

/** v3 ActCode, the code system of Encounter.class. */
export const ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/** Encounter.class: the v3 ActEncounterCode codes VPR accepts. */
export const ENCOUNTER_CLASSES = ['AMB', 'IMP', 'EMER', 'VR', 'HH'] as const;
export type EncounterClass = (typeof ENCOUNTER_CLASSES)[number];

/** The display name v3 ActCode gives each class. */
export const ENCOUNTER_CLASS_DISPLAYS: Readonly<Record<EncounterClass, string>> = {
  AMB: 'ambulatory',
  IMP: 'inpatient encounter',
  EMER: 'emergency',
  VR: 'virtual',
  HH: 'home health',
};

/** FHIR R4 RequestIntent, the ones a referral may have. */
export const REFERRAL_INTENTS = ['proposal', 'plan', 'order'] as const;
export type ReferralIntent = (typeof REFERRAL_INTENTS)[number];
export const DEFAULT_REFERRAL_INTENT = 'order' satisfies ReferralIntent;

/** FHIR R4 RequestPriority. */
export const REFERRAL_PRIORITIES = ['routine', 'urgent', 'asap', 'stat'] as const;
export type ReferralPriority = (typeof REFERRAL_PRIORITIES)[number];
export const DEFAULT_REFERRAL_PRIORITY = 'routine' satisfies ReferralPriority;

/** SNOMED CT 3457005 "Patient referral": the ServiceRequest.category that marks a referral. */
export const SNOMED_SYSTEM = 'http://snomed.info/sct';
export const REFERRAL_CATEGORY = {
  system: SNOMED_SYSTEM,
  code: '3457005',
  display: 'Patient referral',
} as const;

/** FHIR R4 ParticipantRequired (Appointment.participant.required). */
export const PARTICIPANT_REQUIRED = ['required', 'optional', 'information-only'] as const;
export type ParticipantRequired = (typeof PARTICIPANT_REQUIRED)[number];

/** FHIR R4 ParticipationStatus (Appointment.participant.status). */
export const PARTICIPATION_STATUSES = ['accepted', 'declined', 'tentative', 'needs-action'] as const;
export type ParticipationStatus = (typeof PARTICIPATION_STATUSES)[number];

// ---- Limits and fields -----------------------------------------------------------------------

/** Every limit the rules apply, for the API's schemas. Lengths are in UTF-16 code units, after trimming. */
export const CARE_EVENT_LIMITS = {
  /** Single-line texts: care location, service and appointment type, display names, organisation. */
  lineMaxLength: 200,
  /** A reason's text and an appointment's cancellation reason (single line). */
  reasonMaxLength: 500,
  /** A participant's role, e.g. practitioner, patient, location. */
  roleMaxLength: 64,
  /** Free text over several lines: an appointment's description, a referral's notes. */
  freeTextMaxLength: 2000,
  codeSystemMaxLength: 200,
  codeMaxLength: 64,
  /** An actor id: letters, digits and `. _ : / @ + -`, starting with a letter or digit. */
  actorIdMaxLength: 128,
  participantsMax: 32,
  clinicalRefsMax: 32,
  /** An appointment's minutes_duration: a whole number from 1 to this (one week). */
  minutesDurationMax: 10_080,
  /** No date-time is accepted before the first day of this year... */
  earliestYear: 1900,
  /** ...nor more than this many years after the server's clock. */
  latestYearsAhead: 10,
  /** How far past the server's clock a referral's authored_on may be (clock skew between devices). */
  futureToleranceMinutes: 5,
} as const;

/** The fields of each kind a client may send (besides `kind`, which a body may repeat if it agrees). */
export const CARE_EVENT_FIELDS: Readonly<Record<CareEventKind, readonly string[]>> = {
  appointment: [
    'status',
    'start',
    'end',
    'minutes_duration',
    'service_type',
    'appointment_type',
    'reason',
    'description',
    'care_location',
    'participants',
    'cancellation_reason',
    'based_on_referral',
    'clinical_refs',
  ],
  encounter: [
    'status',
    'class',
    'period',
    'care_location',
    'participants',
    'reason',
    'appointment_id',
    'clinical_refs',
  ],
  referral: [
    'status',
    'intent',
    'priority',
    'service',
    'reason',
    'requester',
    'performer',
    'occurrence',
    'authored_on',
    'notes',
    'clinical_refs',
  ],
};
export const CODING_FIELDS = ['system', 'code'] as const;
export const CODED_TEXT_FIELDS = ['text', 'code'] as const;
export const APPOINTMENT_PARTICIPANT_FIELDS = [
  'actor_id',
  'display_name',
  'role',
  'required',
  'status',
] as const;
export const ENCOUNTER_PARTICIPANT_FIELDS = ['actor_id', 'display_name', 'role'] as const;
export const PERIOD_FIELDS = ['start', 'end'] as const;
export const REQUESTER_FIELDS = ['actor_id', 'display_name'] as const;
export const PERFORMER_FIELDS = ['display_name', 'organisation'] as const;

// ---- The canonical form of a validated event -------------------------------------------------

/** A code in a code system such as SNOMED CT (`http://snomed.info/sct`). */
export interface Coding {
  readonly system: string;
  readonly code: string;
}

/** Text, optionally coded (FHIR CodeableConcept with text and one coding). */
export interface CodedText {
  readonly text: string;
  readonly code?: Coding;
}

/** Someone or something taking part: a practitioner, the patient, a location, a device. */
export interface EncounterParticipant {
  /** The actor's id where it has one (written as the FHIR reference). */
  readonly actor_id?: string;
  readonly display_name: string;
  /** Open text such as practitioner, patient, location. */
  readonly role: string;
}

export interface AppointmentParticipant extends EncounterParticipant {
  readonly required?: ParticipantRequired;
  readonly status?: ParticipationStatus;
}

export interface AppointmentInput {
  readonly kind: 'appointment';
  /** Defaults to booked. */
  readonly status: AppointmentStatus;
  /**
   * ISO 8601 date-times with `Z` or an offset, as given (offset kept, `T`/`Z` upper-cased); both or
   * neither, end after start; required unless the status is one of UNSCHEDULED_APPOINTMENT_STATUSES.
   */
  readonly start?: string;
  readonly end?: string;
  /** At most the minutes between start and end when both are given. */
  readonly minutes_duration?: number;
  readonly service_type?: string;
  readonly appointment_type?: string;
  readonly reason?: CodedText;
  /** Free text; may hold line breaks (LF) and tabs. */
  readonly description?: string;
  readonly care_location: string;
  /** At least one. */
  readonly participants: readonly AppointmentParticipant[];
  /** Only with status cancelled. */
  readonly cancellation_reason?: string;
  /** The referral this appointment is for. */
  readonly based_on_referral?: TimestampId;
  /** Items of the clinical record (letters, entries) this event concerns; never empty when given. */
  readonly clinical_refs?: readonly TimestampId[];
}

export interface EncounterPeriod {
  readonly start: string;
  /** Only when the status is one of ENDED_ENCOUNTER_STATUSES; not before start. */
  readonly end?: string;
}

export interface EncounterInput {
  readonly kind: 'encounter';
  readonly status: EncounterStatus;
  readonly class: EncounterClass;
  readonly period: EncounterPeriod;
  readonly care_location: string;
  /** At least one. */
  readonly participants: readonly EncounterParticipant[];
  readonly reason?: CodedText;
  /** The appointment this encounter fulfils. */
  readonly appointment_id?: TimestampId;
  readonly clinical_refs?: readonly TimestampId[];
}

/** Who asks for the referral. */
export interface ReferralRequester {
  readonly actor_id?: string;
  readonly display_name: string;
}

/** Who is asked to act on it: a person or service, and the organisation they belong to. */
export interface ReferralPerformer {
  readonly display_name: string;
  readonly organisation?: string;
}

export interface ReferralInput {
  readonly kind: 'referral';
  readonly status: ReferralStatus;
  /** Defaults to order. */
  readonly intent: ReferralIntent;
  /** Defaults to routine. */
  readonly priority: ReferralPriority;
  /** The service requested (FHIR ServiceRequest.code). */
  readonly service: CodedText;
  readonly reason?: CodedText;
  readonly requester: ReferralRequester;
  readonly performer?: ReferralPerformer;
  /** When the service should happen: a date-time with `Z` or an offset. */
  readonly occurrence?: string;
  /** When the referral was written; defaults to the server's clock (ISO 8601, UTC). */
  readonly authored_on: string;
  /** Free text; may hold line breaks (LF) and tabs. */
  readonly notes?: string;
  readonly clinical_refs?: readonly TimestampId[];
}

/** A validated care event in canonical form, by kind. */
export type CareEventInput = AppointmentInput | EncounterInput | ReferralInput;
