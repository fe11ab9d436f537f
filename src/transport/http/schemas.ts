// The shapes of the REST API, as JSON Schema (TypeBox), from which /openapi.json is generated.
// Request bodies are documented here but validated by the core (parseDemographics and
// friends), the one place each rule lives; query strings and responses are checked here.
// Field lists and enums come from the core's own constants, so the two cannot drift apart.
import { Type, type TSchema } from 'typebox';
import { ERROR_CODES } from '../../core/errors.js';
import {
  ADDRESS_LINE_MAX,
  GENDER_IDENTITY,
  NAME_MAX,
  SEX_AT_BIRTH,
} from '../../core/patient/demographics.js';
import { DEFAULT_PAGE, MAX_PAGE } from '../../projection/page-cursor.js';
import { MAX_HISTORY_PAGE } from '../../services/patient-service.js';

const nullable = (schema: TSchema) => Type.Union([schema, Type.Null()]);
const id = (description: string) =>
  Type.String({ pattern: '^[0-9a-f]{32}$', description, examples: ['8c6e2f0d4b9a4e21a3f5c7d9e1b2a4c6'] });
const commit = Type.String({ pattern: '^[0-9a-f]{40}$', description: 'A Git commit id.' });
const name = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: NAME_MAX,
    description: `${description} Trimmed, white space collapsed; any script; no digits.`,
  });

export const ErrorBody = Type.Object(
  {
    code: Type.Union(
      Object.keys(ERROR_CODES).map((code) => Type.Literal(code)),
      { description: 'A stable code from docs/errors.md.' },
    ),
    message: Type.String({ description: 'For people; never contains patient data.' }),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { title: 'Error' },
);

const addressFields = {
  line1: Type.String({ minLength: 1, maxLength: ADDRESS_LINE_MAX }),
  city: Type.String({ minLength: 1, maxLength: NAME_MAX }),
};

export const AddressInput = Type.Object(
  {
    ...addressFields,
    line2: Type.Optional(nullable(Type.String({ maxLength: ADDRESS_LINE_MAX }))),
    state_province: Type.Optional(nullable(Type.String({ maxLength: NAME_MAX }))),
    postal_code: Type.Optional(
      nullable(
        Type.String({
          maxLength: 16,
          description: 'Checked against the country where VPR knows its format.',
        }),
      ),
    ),
    country: Type.Optional(
      nullable(
        Type.String({
          pattern: '^[A-Za-z]{2}$',
          description: 'ISO 3166-1 alpha-2; required with a postal code.',
        }),
      ),
    ),
  },
  { additionalProperties: false },
);

const demographicsFields = {
  given_name: name('Given name.'),
  middle_name: Type.Optional(nullable(name('Middle name(s).'))),
  family_name: name('Family name.'),
  date_of_birth: Type.String({
    format: 'date',
    description: 'YYYY-MM-DD, in the past, at most 120 years ago.',
  }),
  sex_at_birth: Type.Union(SEX_AT_BIRTH.map((v) => Type.Literal(v))),
  gender_identity: Type.Union(GENDER_IDENTITY.map((v) => Type.Literal(v))),
  gender_identity_text: Type.Optional(
    nullable(
      Type.String({
        maxLength: NAME_MAX,
        description: 'Required when gender_identity is "other", refused otherwise.',
      }),
    ),
  ),
  email: Type.Optional(
    nullable(
      Type.String({
        maxLength: 254,
        description: 'Stored lower-cased; unique among patients that are not deleted.',
      }),
    ),
  ),
  phone_e164: Type.Optional(
    nullable(
      Type.String({
        maxLength: 32,
        description:
          'An international number starting with +; stored in E.164; unique among patients that are not deleted.',
        examples: ['+12025550123'],
      }),
    ),
  ),
  address: Type.Optional(nullable(AddressInput)),
  preferred_language: Type.Optional(
    nullable(Type.String({ maxLength: 64, description: 'A BCP 47 tag, stored in canonical form (en-GB).' })),
  ),
  consent_to_contact: Type.Optional(Type.Boolean({ default: false })),
};

export const PatientCreate = Type.Object(demographicsFields, {
  title: 'PatientCreate',
  additionalProperties: false,
});

export const PatientReplace = Type.Object(
  {
    ...demographicsFields,
    patient_id: Type.Optional(
      id('If given, must be the id in the path. Other server-managed fields are ignored.'),
    ),
  },
  { title: 'PatientReplace', additionalProperties: true },
);

const AddressView = Type.Object({
  line1: Type.String(),
  line2: nullable(Type.String()),
  city: Type.String(),
  state_province: nullable(Type.String()),
  postal_code: nullable(Type.String()),
  country: nullable(Type.String()),
});

export const Patient = Type.Object(
  {
    patient_id: id('The demographics record id.'),
    clinical_id: nullable(id('The linked clinical record.')),
    coordination_id: nullable(id('The linked coordination record.')),
    given_name: Type.String(),
    middle_name: nullable(Type.String()),
    family_name: Type.String(),
    date_of_birth: nullable(Type.String()),
    sex_at_birth: nullable(Type.String()),
    gender_identity: nullable(Type.String()),
    gender_identity_text: nullable(Type.String()),
    email: nullable(Type.String()),
    phone_e164: nullable(Type.String()),
    address: nullable(AddressView),
    preferred_language: nullable(Type.String()),
    consent_to_contact: Type.Boolean(),
    is_deleted: Type.Boolean(),
    version: Type.String({ description: 'The commit this is the state at; the ETag.' }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { title: 'Patient' },
);

export const PatientListItem = Type.Object({
  patient_id: Type.String(),
  clinical_id: nullable(Type.String()),
  coordination_id: nullable(Type.String()),
  family_name: Type.String(),
  given_names: Type.String(),
  date_of_birth: nullable(Type.String()),
  email: nullable(Type.String()),
  phone_e164: nullable(Type.String()),
  is_deleted: Type.Boolean(),
  version: Type.String(),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const PatientPage = Type.Object(
  {
    patients: Type.Array(PatientListItem),
    next_cursor: nullable(
      Type.String({ description: 'Pass as `cursor` for the next page; null on the last.' }),
    ),
  },
  { title: 'PatientPage' },
);

export const PatientListQuery = Type.Object(
  {
    family_name: Type.Optional(Type.String({ description: 'Prefix, case- and accent-insensitive.' })),
    given_name: Type.Optional(Type.String({ description: 'Prefix, case- and accent-insensitive.' })),
    dob: Type.Optional(Type.String({ description: 'Exact date of birth, YYYY-MM-DD.' })),
    email: Type.Optional(Type.String({ description: 'Exact, case-insensitive.' })),
    phone: Type.Optional(
      Type.String({ description: 'Exact, any international form (canonicalised to E.164).' }),
    ),
    deleted: Type.Optional(
      Type.Boolean({ description: 'List soft-deleted patients instead.', default: false }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })),
    cursor: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);

export const PatientParams = Type.Object(
  { patient_id: Type.String({ description: 'The demographics record id: 32 lower-case hex characters.' }) },
  { additionalProperties: false },
);

export const HistoryQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_HISTORY_PAGE, default: 20 })),
    after: Type.Optional(Type.String({ description: 'The `next` of the previous page.' })),
    diff: Type.Optional(Type.Boolean({ description: 'Include a unified diff of patient.yaml per version.' })),
  },
  { additionalProperties: false },
);

export const PatientHistory = Type.Object(
  {
    versions: Type.Array(
      Type.Object({
        version: commit,
        parent: nullable(commit),
        occurred_at: Type.String({ format: 'date-time' }),
        actor: Type.String({
          description: 'The API principal, or the commit author for changes made otherwise.',
        }),
        action: Type.String({ description: 'create, update, delete or restore.' }),
        summary: Type.String(),
        changed_fields: Type.Array(Type.String()),
        diff: Type.Optional(Type.String()),
      }),
    ),
    next: nullable(Type.String()),
  },
  { title: 'PatientHistory' },
);

export const ReadOnlyState = Type.Object(
  { read_only: Type.Boolean(), changed_at: Type.Optional(Type.String({ format: 'date-time' })) },
  { title: 'ReadOnlyState' },
);

export const ReadOnlyChange = Type.Object({ read_only: Type.Boolean() }, { additionalProperties: false });

export const Readiness = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('not ready')]),
    checks: Type.Record(
      Type.String(),
      Type.Object({ ok: Type.Boolean(), detail: Type.Optional(Type.String()) }),
    ),
  },
  { title: 'Readiness' },
);

export const SignatureQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100_000,
        default: 10_000,
        description: 'Commits checked per repository, newest first.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const PatientSignatures = Type.Object(
  {
    patient_id: Type.String(),
    intact: Type.Boolean({
      description: 'No commit failed verification (unsigned commits are not failures).',
    }),
    repositories: Type.Array(
      Type.Object({
        kind: Type.String(),
        id: Type.String(),
        commits_checked: Type.Integer(),
        truncated: Type.Boolean(),
        valid: Type.Integer(),
        unsigned: Type.Integer(),
        invalid: Type.Integer(),
        failures: Type.Array(Type.Object({ commit, reason: Type.String(), detail: Type.String() })),
        signers: Type.Array(Type.String()),
      }),
    ),
  },
  { title: 'PatientSignatures' },
);

export const PreparedCommitParams = Type.Object(
  { prepared_commit_id: id('The prepared commit, as the write that prepared it answered.') },
  { additionalProperties: false },
);

export const PreparedCommit = Type.Object(
  {
    prepared_commit: Type.Object({
      prepared_commit_id: Type.String(),
      repository: Type.String({ description: 'demographics, clinical or coordination.' }),
      parent: commit,
      bytes: Type.String({
        description: 'The exact unsigned commit bytes, base64: sign them with ECDSA P-256 and SHA-256.',
      }),
      bytes_sha256: Type.String({ description: 'SHA-256 of the bytes, hex, to show the signer.' }),
      subject: Type.String({ description: 'The first line of the commit message.' }),
      expires_at: Type.String({ format: 'date-time' }),
    }),
  },
  { title: 'PreparedCommit' },
);

export const SignatureSubmission = Type.Object(
  {
    signature: Type.String({ description: 'The DER ECDSA signature over the bytes, base64.' }),
    certificates: Type.Array(Type.String(), {
      minItems: 1,
      maxItems: 8,
      description: "The signer's certificate and its chain, leaf first, each PEM or base64 DER.",
    }),
    public_key: Type.Optional(
      Type.String({
        description: "The signer's public key (SubjectPublicKeyInfo DER, base64); must be the certificate's.",
      }),
    ),
  },
  { title: 'SignatureSubmission', additionalProperties: false },
);

export const SubmittedCommit = Type.Object(
  {
    commit,
    repository: Type.String(),
    parent: commit,
    signer: Type.Object({
      subject: Type.String(),
      registration: nullable(Type.String()),
      key_fingerprint: Type.String(),
    }),
  },
  { title: 'SubmittedCommit' },
);
