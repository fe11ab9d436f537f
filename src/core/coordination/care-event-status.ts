// The status workflow of care events: which status an appointment, encounter or referral may
// move to from the one it has, following FHIR R4's workflow for Appointment, Encounter and
// ServiceRequest (RequestStatus). Keeping the same status is always allowed: it is an update of
// other fields. Everything else not in the table below is refused with INVALID_STATE.
//
//   appointment  proposed          → pending, booked, waitlist, cancelled, entered-in-error
//                pending           → booked, waitlist, cancelled, entered-in-error
//                waitlist          → proposed, pending, booked, cancelled, entered-in-error
//                booked            → arrived, checked-in, cancelled, noshow, entered-in-error
//                arrived           → checked-in, fulfilled, cancelled, entered-in-error
//                checked-in        → fulfilled, cancelled, entered-in-error
//                fulfilled, cancelled, noshow → entered-in-error (final otherwise)
//                entered-in-error  → nothing
//   encounter    planned           → arrived, triaged, in-progress, cancelled, entered-in-error
//                arrived           → triaged, in-progress, cancelled, entered-in-error
//                triaged           → in-progress, cancelled, entered-in-error
//                in-progress       → onleave, finished, cancelled, entered-in-error
//                onleave           → in-progress, finished, entered-in-error
//                finished, cancelled → entered-in-error (final otherwise)
//                entered-in-error  → nothing
//                unknown           → any other status (once it is known)
//   referral     draft             → active, revoked, entered-in-error
//                active            → on-hold, completed, revoked, entered-in-error
//                on-hold           → active, revoked, entered-in-error
//                completed, revoked → entered-in-error (final otherwise)
//                entered-in-error  → nothing
//                unknown           → any other status (once it is known)
//
// Steps of the way in may be skipped (an encounter planned → in-progress, an appointment booked
// → checked-in), never gone back on; a no-show is only of a booked appointment. Every status but
// entered-in-error may become entered-in-error: the item was recorded by mistake.
import { VprError, invalidInput } from '../errors.js';
import {
  CARE_EVENT_KINDS,
  CARE_EVENT_STATUSES,
  isCareEventKind,
  type AppointmentStatus,
  type CareEventKind,
  type CareEventStatus,
  type EncounterStatus,
  type ReferralStatus,
} from './care-event-kinds.js';

type Transitions<S extends string> = Readonly<Record<S, readonly S[]>>;

const APPOINTMENT_TRANSITIONS: Transitions<AppointmentStatus> = {
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
};

const ENCOUNTER_TRANSITIONS: Transitions<EncounterStatus> = {
  planned: ['arrived', 'triaged', 'in-progress', 'cancelled', 'entered-in-error'],
  arrived: ['triaged', 'in-progress', 'cancelled', 'entered-in-error'],
  triaged: ['in-progress', 'cancelled', 'entered-in-error'],
  'in-progress': ['onleave', 'finished', 'cancelled', 'entered-in-error'],
  onleave: ['in-progress', 'finished', 'entered-in-error'],
  finished: ['entered-in-error'],
  cancelled: ['entered-in-error'],
  'entered-in-error': [],
  unknown: [
    'planned',
    'arrived',
    'triaged',
    'in-progress',
    'onleave',
    'finished',
    'cancelled',
    'entered-in-error',
  ],
};

const REFERRAL_TRANSITIONS: Transitions<ReferralStatus> = {
  draft: ['active', 'revoked', 'entered-in-error'],
  active: ['on-hold', 'completed', 'revoked', 'entered-in-error'],
  'on-hold': ['active', 'revoked', 'entered-in-error'],
  completed: ['entered-in-error'],
  revoked: ['entered-in-error'],
  'entered-in-error': [],
  unknown: ['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error'],
};

/** For each kind and status, the other statuses it may move to (the table above). */
export const CARE_EVENT_TRANSITIONS: {
  readonly appointment: Transitions<AppointmentStatus>;
  readonly encounter: Transitions<EncounterStatus>;
  readonly referral: Transitions<ReferralStatus>;
} = {
  appointment: APPOINTMENT_TRANSITIONS,
  encounter: ENCOUNTER_TRANSITIONS,
  referral: REFERRAL_TRANSITIONS,
};

/** The statuses of each kind after which only entered-in-error (or nothing) may follow. */
export const FINAL_STATUSES = {
  appointment: ['fulfilled', 'cancelled', 'noshow', 'entered-in-error'],
  encounter: ['finished', 'cancelled', 'entered-in-error'],
  referral: ['completed', 'revoked', 'entered-in-error'],
} as const satisfies { readonly [K in CareEventKind]: readonly CareEventStatus<K>[] };

function isStatusOf<K extends CareEventKind>(kind: K, status: unknown): status is CareEventStatus<K> {
  return (CARE_EVENT_STATUSES[kind] as readonly unknown[]).includes(status);
}

/** The statuses an event of `kind` in status `from` may move to, besides staying as it is. */
export function allowedTransitions<K extends CareEventKind>(
  kind: K,
  from: CareEventStatus<K>,
): readonly CareEventStatus<K>[] {
  const table = CARE_EVENT_TRANSITIONS[kind] as Transitions<CareEventStatus<K>>;
  return isStatusOf(kind, from) ? table[from] : [];
}

/** Whether the status is final for its kind: nothing but entered-in-error may follow it. */
export function isFinalStatus<K extends CareEventKind>(kind: K, status: CareEventStatus<K>): boolean {
  return (FINAL_STATUSES[kind] as readonly string[]).includes(status);
}

/**
 * Throws INVALID_STATE unless an event of `kind` may move from status `from` (what it has now)
 * to `to` (what the change asks for); the same status is always allowed. INVALID_INPUT (field
 * `kind` or `status`) when the kind or the status asked for is not one VPR knows. The message
 * names neither status; `details` gives the field, both statuses and those `from` allows.
 */
export function assertStatusTransition<K extends CareEventKind>(
  kind: K,
  from: CareEventStatus<K>,
  to: CareEventStatus<K>,
): void {
  if (!isCareEventKind(kind)) throw invalidInput('kind', `must be one of ${CARE_EVENT_KINDS.join(', ')}`);
  if (!isStatusOf(kind, to)) {
    throw invalidInput('status', `must be one of ${CARE_EVENT_STATUSES[kind].join(', ')}`);
  }
  if (from === to) return;
  const known = isStatusOf(kind, from);
  const allowed = allowedTransitions(kind, from);
  if (allowed.includes(to)) return;
  throw new VprError(
    'INVALID_STATE',
    known
      ? `the ${kind}'s status cannot change to the one asked for from the one it has`
      : `the ${kind}'s stored status is not one VPR knows, so it cannot change`,
    { details: { field: 'status', from: known ? from : null, to, allowed } },
  );
}
