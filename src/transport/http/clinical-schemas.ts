// The shapes of the clinical REST API (letters, structured entries, patient contributions), as
// JSON Schema (TypeBox) for /openapi.json. As for patients, bodies are validated by the core
// (parseLetterInput, parseEntryInput, parseContributionInput) and only documented here; query
// strings, parameters and responses are checked here. Limits and enums come from the core.
import { Type, type TSchema } from 'typebox';
import {
  MAX_ATTACHMENTS,
  MAX_CLINICAL_LISTS,
  MAX_LETTER_BODY_CHARS,
  MAX_LIST_ITEMS,
} from '../../core/clinical/letter.js';
import { CONTRIBUTION_KINDS } from '../../core/clinical/contribution.js';
import { ENTRY_KINDS } from '../../core/clinical/entries.js';
import { DEFAULT_PAGE, MAX_PAGE } from '../../projection/page-cursor.js';
import { MAX_HISTORY_PAGE } from '../../services/patient-service.js';

const nullable = (schema: TSchema) => Type.Union([schema, Type.Null()]);
const commit = Type.String({ pattern: '^[0-9a-f]{40}$', description: 'A Git commit id.' });
const timestampId = (description: string) =>
  Type.String({
    description: `${description} YYYYMMDDTHHMMSS.mmmZ-<uuid v4>.`,
    examples: ['20260111T143522.045Z-550e8400-e29b-41d4-a716-446655440000'],
  });
const instant = Type.String({ format: 'date-time' });
const page = { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })) };
const cursor = { cursor: Type.Optional(Type.String({ maxLength: 1024 })) };
const nextCursor = nullable(
  Type.String({ description: 'Pass as `cursor` for the next page; null on the last.' }),
);

const Code = Type.Object({ terminology: Type.String(), value: Type.String() });
const ClinicalList = Type.Object(
  {
    kind: Type.String({
      pattern: '^[a-z][a-z0-9_]{0,63}$',
      description: 'Open-ended: diagnoses, medications, …',
    }),
    name: Type.Optional(Type.String()),
    items: Type.Array(Type.Object({ text: Type.String(), code: Type.Optional(Code) }), {
      maxItems: MAX_LIST_ITEMS,
    }),
    narrative: Type.Optional(Type.String()),
  },
  { title: 'ClinicalList', description: 'A letter-scoped snapshot: what the author considered relevant.' },
);

export const LetterInput = Type.Object(
  {
    title: Type.Optional(Type.String({ maxLength: 200, default: 'Clinical letter' })),
    body: Type.Optional(
      Type.String({ maxLength: MAX_LETTER_BODY_CHARS, description: 'The letter in Markdown.' }),
    ),
    start_time: Type.Optional(instant),
    clinical_lists: Type.Optional(Type.Array(ClinicalList, { maxItems: MAX_CLINICAL_LISTS })),
    references: Type.Optional(timestampId('The earlier letter this one supersedes.')),
    sign_off: Type.Optional(
      Type.Boolean({
        description: 'Sign off at once (the key’s author needs a registration).',
        default: false,
      }),
    ),
  },
  {
    title: 'LetterInput',
    description: `JSON, or multipart/form-data with a \`letter\` field (this object as JSON) first and then up to ${MAX_ATTACHMENTS} file parts. A letter needs a body, an attachment, or both.`,
    additionalProperties: false,
  },
);

export const LetterEdit = Type.Object(
  {
    title: Type.Optional(Type.String({ maxLength: 200 })),
    body: Type.Optional(Type.String({ maxLength: MAX_LETTER_BODY_CHARS })),
    start_time: Type.Optional(instant),
    clinical_lists: Type.Optional(Type.Array(ClinicalList, { maxItems: MAX_CLINICAL_LISTS })),
  },
  { title: 'LetterEdit', additionalProperties: false },
);

const FileReference = Type.Object(
  {
    hash_algorithm: Type.Literal('sha256'),
    hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    relative_path: Type.String(),
    size_bytes: Type.Integer(),
    media_type: Type.String({ description: 'Sniffed from the content; best effort, not authoritative.' }),
    original_filename: Type.String(),
    stored_at: instant,
  },
  { title: 'FileReference' },
);

export const Letter = Type.Object(
  {
    letter_id: timestampId('The letter id.'),
    patient_id: Type.String(),
    clinical_id: Type.String(),
    version: Type.String({
      description: 'The letter’s version (its ETag): changes with every edit of its files.',
    }),
    commit,
    title: Type.String(),
    status: Type.Union([Type.Literal('draft'), Type.Literal('signed')]),
    composer: Type.Object({ name: Type.String(), role: Type.String() }),
    care_location: Type.String(),
    start_time: Type.String(),
    body: nullable(Type.String()),
    clinical_lists: Type.Array(ClinicalList),
    attachments: Type.Array(FileReference),
    references: nullable(Type.String()),
    superseded_by: nullable(Type.String()),
    signed_off: nullable(
      Type.Object({
        name: Type.String(),
        role: Type.String(),
        registrations: Type.Array(Type.String()),
        at: Type.String(),
      }),
    ),
  },
  { title: 'Letter' },
);

const LetterSummary = Type.Object(
  {
    letter_id: Type.String(),
    patient_id: nullable(Type.String()),
    clinical_id: Type.String(),
    title: Type.String(),
    snippet: Type.String(),
    status: Type.String(),
    composer_name: Type.String(),
    composer_role: Type.String(),
    care_location: Type.String(),
    start_time: nullable(Type.String()),
    references: nullable(Type.String()),
    superseded_by: nullable(Type.String()),
    has_body: Type.Boolean(),
    attachment_count: Type.Integer(),
    created_at: instant,
    updated_at: instant,
  },
  { title: 'LetterSummary' },
);

export const LetterPage = Type.Object(
  { letters: Type.Array(LetterSummary), next_cursor: nextCursor },
  { title: 'LetterPage' },
);

export const LetterParams = Type.Object(
  { patient_id: Type.String(), letter_id: Type.String() },
  { additionalProperties: false },
);
export const AttachmentParams = Type.Object(
  { patient_id: Type.String(), letter_id: Type.String(), hash: Type.String({ pattern: '^[0-9a-f]{64}$' }) },
  { additionalProperties: false },
);
export const VersionQuery = Type.Object(
  {
    version: Type.Optional(
      Type.String({ description: 'A clinical repository commit id: read as it was then.' }),
    ),
  },
  { additionalProperties: false },
);
export const PageQuery = Type.Object({ ...page, ...cursor }, { additionalProperties: false });
export const SignOffQuery = Type.Object(
  {
    author: Type.Optional(
      Type.String({ description: 'Only letters composed by the author with this email.' }),
    ),
    care_location: Type.Optional(Type.String({ description: 'Only letters written at this care location.' })),
    ...page,
    ...cursor,
  },
  { additionalProperties: false },
);
export const LetterHistoryQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_HISTORY_PAGE, default: 20 })),
    after: Type.Optional(Type.String({ description: 'The `next` of the previous page.' })),
    diff: Type.Optional(
      Type.Boolean({ description: 'Include unified diffs of composition.yaml and body.md.' }),
    ),
  },
  { additionalProperties: false },
);
export const LetterHistory = Type.Object(
  {
    history: Type.Array(
      Type.Object({
        commit,
        occurred_at: instant,
        author: Type.String(),
        action: Type.String({ description: 'create, update or superseded.' }),
        summary: Type.String(),
        diff: Type.Optional(Type.String()),
      }),
    ),
    next: nullable(Type.String()),
  },
  { title: 'LetterHistory' },
);

export const EntryKindParams = Type.Object(
  { patient_id: Type.String(), kind: Type.Union(ENTRY_KINDS.map((k) => Type.Literal(k))) },
  { additionalProperties: false },
);
export const EntryParams = Type.Object(
  {
    patient_id: Type.String(),
    kind: Type.Union(ENTRY_KINDS.map((k) => Type.Literal(k))),
    entry_id: Type.String(),
  },
  { additionalProperties: false },
);
export const EntryListQuery = Type.Object(
  {
    kind: Type.Optional(Type.Union(ENTRY_KINDS.map((k) => Type.Literal(k)))),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'recorded_at ≥ this instant.' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'recorded_at < this instant.' })),
    current: Type.Optional(Type.Boolean({ description: 'Only entries no later entry supersedes.' })),
    ...page,
    ...cursor,
  },
  { additionalProperties: false },
);
export const EntryInput = Type.Record(Type.String(), Type.Unknown(), {
  title: 'EntryInput',
  description:
    'The fields of the entry kind (docs/api.md lists them); JSON or application/yaml. Unknown fields and wrong types are refused with the field path.',
});
export const Entry = Type.Object(
  {
    entry_id: Type.String(),
    kind: Type.String(),
    patient_id: Type.String(),
    clinical_id: Type.String(),
    version: Type.String(),
    commit,
    recorded_at: Type.String(),
    composer: Type.Object({ name: Type.String(), role: Type.String() }),
    supersedes: nullable(Type.String()),
    superseded_by: nullable(Type.String()),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { title: 'Entry' },
);
export const EntryPage = Type.Object(
  {
    entries: Type.Array(
      Type.Object({
        entry_id: Type.String(),
        kind: Type.String(),
        recorded_at: instant,
        title: Type.String(),
        summary: Type.String(),
        supersedes: nullable(Type.String()),
        superseded_by: nullable(Type.String()),
        current: Type.Boolean(),
        data: Type.Record(Type.String(), Type.Unknown()),
        updated_at: instant,
      }),
    ),
    next_cursor: nextCursor,
  },
  { title: 'EntryPage' },
);

export const ContributionKindParams = Type.Object(
  { patient_id: Type.String(), kind: Type.Union(CONTRIBUTION_KINDS.map((k) => Type.Literal(k))) },
  { additionalProperties: false },
);
export const ContributionParams = Type.Object(
  {
    patient_id: Type.String(),
    kind: Type.Union(CONTRIBUTION_KINDS.map((k) => Type.Literal(k))),
    contribution_id: Type.String(),
  },
  { additionalProperties: false },
);
export const ContributionInput = Type.Record(Type.String(), Type.Unknown(), {
  title: 'ContributionInput',
  description:
    'symptom: { symptom, severity 0–10, recorded_at?, notes? }; outcome: { instrument, score, max_score?, answers?, recorded_at?, notes? }; comment: { letter_id, text }.',
});
export const Contribution = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    path: Type.String(),
    commit,
    recorded_at: Type.String(),
    contributor: Type.Object({ name: Type.String(), role: Type.String() }),
    about_letter: Type.Optional(Type.String()),
    data: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.String()]),
  },
  { title: 'Contribution' },
);
export const ContributionPage = Type.Object(
  {
    contributions: Type.Array(
      Type.Object({
        path: Type.String(),
        title: Type.String(),
        snippet: Type.String(),
        author_name: Type.String(),
        created_at: instant,
      }),
    ),
    next_cursor: nextCursor,
  },
  { title: 'ContributionPage' },
);
