// The shapes of the care coordination REST API (coordination status, messaging threads,
// appointments, encounters and referrals) as JSON Schema (TypeBox) for /openapi.json. Bodies are
// validated by the core and only documented here; parameters, query strings and responses are
// checked here. Enums come from the core, so the docs and the rules cannot drift.
import { Type, type TSchema } from 'typebox';
import { LIFECYCLE_STATES } from '../../core/record/coordination-status.js';
import { MESSAGE_ROLES, SENSITIVITIES, THREAD_STATUSES } from '../../core/coordination/ledger.js';
import { DEFAULT_PAGE, MAX_PAGE } from '../../projection/page-cursor.js';

const nullable = (schema: TSchema) => Type.Union([schema, Type.Null()]);
const literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const commit = Type.String({ pattern: '^[0-9a-f]{40}$', description: 'A Git commit id.' });
const instant = Type.String({ format: 'date-time' });
const page = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })),
  cursor: Type.Optional(Type.String({ maxLength: 1024 })),
};
const nextCursor = nullable(
  Type.String({ description: 'Pass as `cursor` for the next page; null on the last.' }),
);

export const CoordinationStatus = Type.Object(
  {
    coordination_id: Type.String(),
    clinical_id: Type.String(),
    lifecycle_state: literals(LIFECYCLE_STATES),
    record_open: Type.Boolean(),
    record_queryable: Type.Boolean(),
    record_modifiable: Type.Boolean(),
    version: Type.String(),
    commit,
  },
  { title: 'CoordinationStatus' },
);

export const CoordinationStatusChange = Type.Object(
  {
    lifecycle_state: Type.Optional(literals(LIFECYCLE_STATES)),
    record_open: Type.Optional(Type.Boolean()),
    record_queryable: Type.Optional(Type.Boolean()),
    record_modifiable: Type.Optional(Type.Boolean()),
  },
  {
    title: 'CoordinationStatusChange',
    additionalProperties: false,
    description: 'At least one field. A closed record is closed for good; closing also closes it to changes.',
  },
);

const Participant = Type.Object({
  participant_id: Type.String({ pattern: '^[A-Za-z0-9._:@-]{1,128}$' }),
  role: literals(MESSAGE_ROLES),
  display_name: Type.String({ maxLength: 200 }),
});
const Visibility = Type.Object({ sensitivity: literals(SENSITIVITIES), restricted: Type.Boolean() });
const Policies = Type.Object({
  allow_patient_participation: Type.Boolean(),
  allow_external_organisations: Type.Boolean(),
});

export const Ledger = Type.Object(
  {
    communication_id: Type.String(),
    status: literals(THREAD_STATUSES),
    created_at: Type.String(),
    last_updated_at: Type.String(),
    participants: Type.Array(Participant),
    visibility: Visibility,
    policies: Policies,
  },
  { title: 'Ledger' },
);

export const ThreadCreate = Type.Object(
  {
    ledger: Type.Object({
      participants: Type.Array(Participant, { minItems: 1, maxItems: 100 }),
      visibility: Type.Optional(Type.Partial(Visibility)),
      policies: Type.Optional(Type.Partial(Policies)),
    }),
    message: Type.Optional(Type.Object({ body: Type.String({ description: 'Any text; at most 64 KiB.' }) })),
  },
  { title: 'ThreadCreate', additionalProperties: false },
);

export const MessageCreate = Type.Object(
  {
    body: Type.String({ description: 'Any text a person types; stored exactly; at most 64 KiB.' }),
    corrects: Type.Optional(Type.String({ description: 'The message id this message corrects.' })),
  },
  { title: 'MessageCreate', additionalProperties: false },
);

export const LedgerChange = Type.Object(
  {
    add_participants: Type.Optional(Type.Array(Participant)),
    remove_participants: Type.Optional(Type.Array(Type.String())),
    status: Type.Optional(literals(THREAD_STATUSES)),
    visibility: Type.Optional(Type.Partial(Visibility)),
    policies: Type.Optional(Type.Partial(Policies)),
  },
  {
    title: 'LedgerChange',
    additionalProperties: false,
    description: 'At least one field. Status moves open → closed → archived, or open → archived.',
  },
);

const Message = Type.Object({
  message_id: Type.String(),
  timestamp: Type.String(),
  author_id: Type.String(),
  author_name: Type.String(),
  role: literals(MESSAGE_ROLES),
  corrects: nullable(Type.String()),
  body: Type.String(),
});

export const Thread = Type.Object(
  {
    communication_id: Type.String(),
    patient_id: Type.String(),
    coordination_id: Type.String(),
    version: Type.String(),
    commit,
    ledger: Ledger,
    messages: Type.Array(Message),
  },
  { title: 'Thread' },
);

export const ThreadPage = Type.Object(
  {
    threads: Type.Array(
      Type.Object({
        communication_id: Type.String(),
        patient_id: nullable(Type.String()),
        coordination_id: Type.String(),
        status: Type.String(),
        sensitivity: Type.String(),
        restricted: Type.Boolean(),
        allow_patient_participation: Type.Boolean(),
        message_count: Type.Integer(),
        last_message_at: nullable(Type.String()),
        last_message_snippet: Type.String(),
        last_author_name: Type.String(),
        participants: Type.Array(
          Type.Object({ participant_id: Type.String(), role: Type.String(), display_name: Type.String() }),
        ),
        created_at: instant,
        last_updated_at: instant,
      }),
    ),
    next_cursor: nextCursor,
  },
  { title: 'ThreadPage' },
);

export const ThreadParams = Type.Object(
  { patient_id: Type.String(), communication_id: Type.String() },
  { additionalProperties: false },
);
export const ThreadListQuery = Type.Object(
  { status: Type.Optional(literals(THREAD_STATUSES)), ...page },
  { additionalProperties: false },
);
export const ParticipantThreadsQuery = Type.Object(
  {
    participant_id: Type.String({ description: 'The participant id as ledgers record it.' }),
    status: Type.Optional(literals(THREAD_STATUSES)),
    ...page,
  },
  { additionalProperties: false },
);

export const CareEventItemParams = Type.Object(
  { patient_id: Type.String(), event_id: Type.String() },
  { additionalProperties: false },
);
export const CareEventListQuery = Type.Object(
  {
    upcoming: Type.Optional(
      Type.Boolean({ description: 'Only those still to come (start ≥ now, not cancelled).' }),
    ),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    ...page,
  },
  { additionalProperties: false },
);
export const DayQuery = Type.Object(
  {
    care_location: Type.String(),
    date: Type.String({ description: 'The day, YYYY-MM-DD (UTC).' }),
    ...page,
  },
  { additionalProperties: false },
);
export const CareEventInput = Type.Record(Type.String(), Type.Unknown(), {
  title: 'CareEventInput',
  description: 'The fields of an appointment, encounter or referral (docs/api.md lists them).',
});
export const CareEvent = Type.Object(
  {
    event_id: Type.String(),
    kind: Type.String(),
    patient_id: Type.String(),
    coordination_id: Type.String(),
    version: Type.String(),
    commit,
    status: Type.String(),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { title: 'CareEvent' },
);
export const CareEventPage = Type.Object(
  {
    events: Type.Array(
      Type.Object({
        event_id: Type.String(),
        kind: Type.String(),
        patient_id: nullable(Type.String()),
        status: Type.String(),
        start: nullable(Type.String()),
        end: nullable(Type.String()),
        care_location: nullable(Type.String()),
        title: Type.String(),
        snippet: Type.String(),
        updated_at: instant,
      }),
    ),
    next_cursor: nextCursor,
  },
  { title: 'CareEventPage' },
);
