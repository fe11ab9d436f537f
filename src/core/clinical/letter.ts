// A clinical letter (seed 001, "VPR Letters"): the folder `correspondence/letter/<letter_id>/`
// holds `composition.yaml`, an openEHR COMPOSITION (archetype correspondence.v1) that names the
// composer and their real role, the care setting and time, and whose correspondence SECTION
// points at `./body.md` (the letter in Markdown), at each attachment (a file reference into the
// repository's untracked `files/`) and holds the letter's clinical list snapshots. A letter has a
// body, attachments, or both. Its status is `draft` until a clinician signs it off (its own
// commit); an edit of a signed letter makes it a draft again, so it is signed off once more.
//
// Input from a client is parsed strictly here (unknown fields refused, a field path in every
// error); the stored file is read back leniently, because reading must never lose a record.
import { parseYamlMappingWithoutAliases, renderRecordYaml } from '../yaml-mapping.js';
import { invalidInput } from '../errors.js';
import { objectAt, refuseUnknown } from '../input.js';
import { parseSingleLine, type Author, type Registration } from '../commit/author.js';
import { parseTimestampId, type TimestampId } from '../ids/timestamp-id.js';
import { RM_VERSION } from '../record/ehr-status.js';

export const LETTER_ARCHETYPE = 'openEHR-EHR-COMPOSITION.correspondence.v1';
export const LETTER_SECTION_ARCHETYPE = 'openEHR-EHR-SECTION.correspondence.v1';
export const LETTER_NARRATIVE_ARCHETYPE = 'openEHR-EHR-EVALUATION.clinical_correspondence.v1';
export const SNAPSHOT_ARCHETYPE = 'openEHR-EHR-EVALUATION.snapshot.v1';
/** VPR's own archetype for a file reference inside a composition. */
export const ATTACHMENT_ARCHETYPE = 'openEHR-EHR-CLUSTER.vpr_file_reference.v1';

export const LETTER_STATUSES = ['draft', 'signed'] as const;
export type LetterStatus = (typeof LETTER_STATUSES)[number];

export const LETTERS_DIR = 'correspondence/letter';
export const LETTER_COMPOSITION = 'composition.yaml';
export const LETTER_BODY = 'body.md';

export const MAX_LETTER_BODY_CHARS = 512 * 1024;
export const MAX_CLINICAL_LISTS = 32;
export const MAX_LIST_ITEMS = 200;
export const MAX_ATTACHMENTS = 32;
const MAX_NARRATIVE_CHARS = 10_000;
const LIST_KIND = /^[a-z][a-z0-9_]{0,63}$/;

/** One item of a snapshot list: text, optionally coded. Coding is never required. */
export interface ClinicalListItem {
  readonly text: string;
  readonly code?: { readonly terminology: string; readonly value: string };
}

/** A letter-scoped snapshot ("what the author considered relevant for this letter"). */
export interface ClinicalList {
  /** An open-ended label such as diagnoses, medications, social_history. */
  readonly kind: string;
  readonly name: string;
  readonly items: readonly ClinicalListItem[];
  readonly narrative?: string;
}

/** A tracked reference to bytes in the repository's `files/` (seed 001, "VPR File Storage"). */
export interface FileReference {
  readonly hash_algorithm: 'sha256';
  readonly hash: string;
  readonly relative_path: string;
  readonly size_bytes: number;
  readonly media_type: string;
  readonly original_filename: string;
  readonly stored_at: string;
}

/** What a client says about a letter when creating or editing it. */
export interface LetterInput {
  readonly title: string;
  readonly body?: string;
  readonly startTime?: string;
  readonly clinicalLists: readonly ClinicalList[];
  /** The earlier letter this one follows up or supersedes. */
  readonly references?: TimestampId;
  /** Sign off as part of the create (the author must be able to sign). */
  readonly signOff: boolean;
}

export interface Composer {
  readonly name: string;
  readonly role: string;
  readonly email: string;
  readonly registrations: readonly Registration[];
}

export interface SignOff {
  readonly name: string;
  readonly role: string;
  readonly registrations: readonly Registration[];
  readonly at: string;
}

/** Everything `composition.yaml` records. */
export interface LetterComposition {
  readonly letterId: TimestampId;
  readonly title: string;
  readonly composer: Composer;
  readonly careLocation: string;
  readonly startTime: string;
  readonly hasBody: boolean;
  readonly clinicalLists: readonly ClinicalList[];
  readonly attachments: readonly FileReference[];
  readonly references?: TimestampId;
  readonly status: LetterStatus;
  readonly signedOff?: SignOff;
}

export function letterDir(letterId: TimestampId): string {
  return `${LETTERS_DIR}/${letterId}`;
}

export function letterCompositionPath(letterId: TimestampId): string {
  return `${letterDir(letterId)}/${LETTER_COMPOSITION}`;
}

export function letterBodyPath(letterId: TimestampId): string {
  return `${letterDir(letterId)}/${LETTER_BODY}`;
}

/** The letter a repository path belongs to, if it is inside a letter's folder. */
export function letterIdOfPath(path: string): TimestampId | undefined {
  if (!path.startsWith(`${LETTERS_DIR}/`)) return undefined;
  const id = path.slice(LETTERS_DIR.length + 1).split('/')[0];
  try {
    return parseTimestampId(id);
  } catch {
    return undefined;
  }
}

/** Free text a person typed (letter bodies, narratives): no NUL or control characters but line breaks and tabs. */
export function parseFreeText(value: unknown, field: string, maxChars: number): string {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string');
  if (value.trim().length === 0) throw invalidInput(field, 'must not be empty');
  if (value.length > maxChars) throw invalidInput(field, `must be at most ${maxChars} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(value)) {
    throw invalidInput(field, 'must not contain control characters other than line breaks and tabs');
  }
  return value;
}

/** An instant with a time zone (`2026-01-12T10:14:00Z`), normalised to UTC ISO 8601. */
export function parseInstant(value: unknown, field: string): string {
  if (
    typeof value !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(value)
  ) {
    throw invalidInput(field, 'must be a date and time with a time zone, such as 2026-01-12T10:14:00Z');
  }
  const date = new Date(value);
  const [y, m, d] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const calendar = new Date(Date.UTC(y, m - 1, d));
  if (Number.isNaN(date.getTime()) || calendar.getUTCMonth() !== m - 1 || calendar.getUTCDate() !== d) {
    throw invalidInput(field, 'names a date that does not exist');
  }
  return date.toISOString();
}

function parseListItem(value: unknown, field: string): ClinicalListItem {
  const input = objectAt(value, field);
  refuseUnknown(input, ['text', 'code'], field);
  const text = parseSingleLine(input.text, `${field}.text`, 500);
  if (input.code === undefined || input.code === null) return { text };
  const code = objectAt(input.code, `${field}.code`);
  refuseUnknown(code, ['terminology', 'value'], `${field}.code`);
  return {
    text,
    code: {
      terminology: parseSingleLine(code.terminology, `${field}.code.terminology`, 64),
      value: parseSingleLine(code.value, `${field}.code.value`, 64),
    },
  };
}

function parseClinicalList(value: unknown, field: string): ClinicalList {
  const input = objectAt(value, field);
  refuseUnknown(input, ['kind', 'name', 'items', 'narrative'], field);
  if (typeof input.kind !== 'string' || !LIST_KIND.test(input.kind)) {
    throw invalidInput(`${field}.kind`, 'must be a lower-case label such as diagnoses or medications');
  }
  const items = input.items ?? [];
  if (!Array.isArray(items)) throw invalidInput(`${field}.items`, 'must be a list');
  if (items.length > MAX_LIST_ITEMS)
    throw invalidInput(`${field}.items`, `must have at most ${MAX_LIST_ITEMS} items`);
  const name =
    input.name === undefined || input.name === null
      ? `${input.kind.replaceAll('_', ' ')} (snapshot)`.replace(/^./, (c) => c.toUpperCase())
      : parseSingleLine(input.name, `${field}.name`);
  const narrative =
    input.narrative === undefined || input.narrative === null
      ? undefined
      : parseFreeText(input.narrative, `${field}.narrative`, MAX_NARRATIVE_CHARS);
  return {
    kind: input.kind,
    name,
    items: items.map((item, i) => parseListItem(item, `${field}.items[${i}]`)),
    ...(narrative === undefined ? {} : { narrative }),
  };
}

/**
 * A letter as a client sends it: `{ title?, body?, start_time?, clinical_lists?, references?,
 * sign_off? }`. Whether a letter without a body is allowed depends on its attachments, which the
 * caller knows: see `assertLetterHasContent`.
 */
export function parseLetterInput(value: unknown, options: { allow?: readonly string[] } = {}): LetterInput {
  const input = objectAt(value, '');
  refuseUnknown(
    input,
    ['title', 'body', 'start_time', 'clinical_lists', 'references', 'sign_off', ...(options.allow ?? [])],
    '',
  );
  const title =
    input.title === undefined || input.title === null
      ? 'Clinical letter'
      : parseSingleLine(input.title, 'title');
  const body =
    input.body === undefined || input.body === null
      ? undefined
      : parseFreeText(input.body, 'body', MAX_LETTER_BODY_CHARS);
  const startTime =
    input.start_time === undefined || input.start_time === null
      ? undefined
      : parseInstant(input.start_time, 'start_time');
  const lists = input.clinical_lists ?? [];
  if (!Array.isArray(lists)) throw invalidInput('clinical_lists', 'must be a list');
  if (lists.length > MAX_CLINICAL_LISTS) {
    throw invalidInput('clinical_lists', `must have at most ${MAX_CLINICAL_LISTS} lists`);
  }
  const references =
    input.references === undefined || input.references === null
      ? undefined
      : parseTimestampId(input.references, 'references');
  if (input.sign_off !== undefined && typeof input.sign_off !== 'boolean') {
    throw invalidInput('sign_off', 'must be true or false');
  }
  return {
    title,
    ...(body === undefined ? {} : { body }),
    ...(startTime === undefined ? {} : { startTime }),
    clinicalLists: lists.map((list, i) => parseClinicalList(list, `clinical_lists[${i}]`)),
    ...(references === undefined ? {} : { references }),
    signOff: input.sign_off === true,
  };
}

/** A letter must say something: a body, an attachment, or both. */
export function assertLetterHasContent(hasBody: boolean, attachments: number): void {
  if (!hasBody && attachments === 0) {
    throw invalidInput('body', 'a letter needs a body, an attachment, or both');
  }
  if (attachments > MAX_ATTACHMENTS) {
    throw invalidInput('attachments', `a letter may have at most ${MAX_ATTACHMENTS} attachments`);
  }
}

/** Whether this author may sign letters off: a clinician with a professional registration. */
export function canSignOff(author: Author): boolean {
  return author.registrations.length > 0;
}

const dvText = (value: string) => ({ _type: 'DV_TEXT', value });

function renderList(list: ClinicalList) {
  return {
    _type: 'EVALUATION',
    archetype_node_id: SNAPSHOT_ARCHETYPE,
    name: dvText(list.name),
    data: {
      kind: { value: list.kind },
      items: list.items.map((item) => ({
        text: item.text,
        ...(item.code === undefined
          ? {}
          : { code: { terminology: item.code.terminology, value: item.code.value } }),
      })),
      ...(list.narrative === undefined ? {} : { narrative: list.narrative }),
    },
  };
}

function renderAttachment(file: FileReference) {
  return {
    _type: 'CLUSTER',
    archetype_node_id: ATTACHMENT_ARCHETYPE,
    name: dvText(file.original_filename),
    data: {
      file_reference: {
        hash_algorithm: file.hash_algorithm,
        hash: file.hash,
        relative_path: file.relative_path,
        size_bytes: file.size_bytes,
        media_type: file.media_type,
        original_filename: file.original_filename,
        stored_at: file.stored_at,
      },
    },
  };
}

const registrationsOf = (registrations: readonly Registration[]) =>
  registrations.map((r) => ({ issuer: r.authority, id: r.number }));

/** The text of `composition.yaml`, in a fixed key order so diffs show only what changed. */
export function renderLetterComposition(letter: LetterComposition): string {
  const composition = {
    _type: 'COMPOSITION',
    rm_version: RM_VERSION,
    uid: { _type: 'HIER_OBJECT_ID', value: letter.letterId },
    archetype_node_id: LETTER_ARCHETYPE,
    name: dvText(letter.title),
    language: {
      _type: 'CODE_PHRASE',
      terminology_id: { _type: 'TERMINOLOGY_ID', value: 'ISO_639-1' },
      code_string: 'en',
    },
    category: {
      _type: 'DV_CODED_TEXT',
      value: 'event',
      defining_code: {
        _type: 'CODE_PHRASE',
        terminology_id: { _type: 'TERMINOLOGY_ID', value: 'openehr' },
        code_string: '433',
      },
    },
    composer: {
      _type: 'PARTY_IDENTIFIED',
      name: letter.composer.name,
      role: letter.composer.role,
      email: letter.composer.email,
      identifiers: registrationsOf(letter.composer.registrations),
    },
    context: {
      _type: 'EVENT_CONTEXT',
      start_time: { _type: 'DV_DATE_TIME', value: letter.startTime },
      health_care_facility: { _type: 'PARTY_IDENTIFIED', name: letter.careLocation },
    },
    vpr: {
      status: letter.status,
      ...(letter.references === undefined ? {} : { references: letter.references }),
      ...(letter.signedOff === undefined
        ? {}
        : {
            signed_off: {
              name: letter.signedOff.name,
              role: letter.signedOff.role,
              identifiers: registrationsOf(letter.signedOff.registrations),
              at: letter.signedOff.at,
            },
          }),
    },
    content: [
      {
        _type: 'SECTION',
        archetype_node_id: LETTER_SECTION_ARCHETYPE,
        name: dvText('Correspondence'),
        items: [
          ...(letter.hasBody
            ? [
                {
                  _type: 'EVALUATION',
                  archetype_node_id: LETTER_NARRATIVE_ARCHETYPE,
                  name: dvText('Clinical correspondence'),
                  data: { narrative: { type: 'external_text', path: `./${LETTER_BODY}` } },
                },
              ]
            : []),
          ...letter.attachments.map(renderAttachment),
          ...letter.clinicalLists.map(renderList),
        ],
      },
    ],
  };
  return renderRecordYaml(composition);
}

// Lenient reading: what the file holds, nothing invented, never a throw.

type Loose = Record<string, unknown>;
const asObject = (value: unknown): Loose | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : undefined;
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

function readRegistrations(value: unknown): Registration[] {
  return asList(value).flatMap((raw) => {
    const r = asObject(raw);
    const authority = asString(r?.issuer);
    const number = asString(r?.id);
    return authority !== undefined && number !== undefined ? [{ authority, number }] : [];
  });
}

function readFileReference(value: unknown): FileReference | undefined {
  const f = asObject(asObject(asObject(value)?.data)?.file_reference);
  if (f === undefined) return undefined;
  const hash = asString(f.hash);
  if (hash === undefined || !/^[0-9a-f]{64}$/.test(hash)) return undefined;
  return {
    hash_algorithm: 'sha256',
    hash,
    relative_path: asString(f.relative_path) ?? '',
    size_bytes: typeof f.size_bytes === 'number' ? f.size_bytes : 0,
    media_type: asString(f.media_type) ?? 'application/octet-stream',
    original_filename: asString(f.original_filename) ?? hash,
    stored_at: asString(f.stored_at) ?? '',
  };
}

function readList(value: unknown): ClinicalList | undefined {
  const list = asObject(value);
  const data = asObject(list?.data);
  const kind = asString(asObject(data?.kind)?.value);
  if (kind === undefined) return undefined;
  const narrative = asString(data?.narrative);
  return {
    kind,
    name: asString(asObject(list?.name)?.value) ?? kind,
    items: asList(data?.items).flatMap((raw) => {
      const item = asObject(raw);
      const text = asString(item?.text);
      if (text === undefined) return [];
      const code = asObject(item?.code);
      const terminology = asString(code?.terminology);
      const codeValue = asString(code?.value);
      return [
        {
          text,
          ...(terminology !== undefined && codeValue !== undefined
            ? { code: { terminology, value: codeValue } }
            : {}),
        },
      ];
    }),
    ...(narrative === undefined ? {} : { narrative }),
  };
}

/** `composition.yaml` read back; undefined when the text is not a letter composition. */
export function readLetterComposition(text: string): LetterComposition | undefined {
  const root = parseYamlMappingWithoutAliases(text);
  if (root === undefined || root.archetype_node_id !== LETTER_ARCHETYPE) return undefined;
  let letterId: TimestampId;
  try {
    letterId = parseTimestampId(asObject(root.uid)?.value);
  } catch {
    return undefined;
  }
  const composer = asObject(root.composer);
  const context = asObject(root.context);
  const vpr = asObject(root.vpr);
  const items = asList(asObject(asList(root.content)[0])?.items);
  const signed = asObject(vpr?.signed_off);
  let references: TimestampId | undefined;
  try {
    references = vpr?.references === undefined ? undefined : parseTimestampId(vpr.references);
  } catch {
    references = undefined;
  }
  const status: LetterStatus = vpr?.status === 'signed' ? 'signed' : 'draft';
  return {
    letterId,
    title: asString(asObject(root.name)?.value) ?? 'Clinical letter',
    composer: {
      name: asString(composer?.name) ?? '',
      role: asString(composer?.role) ?? '',
      email: asString(composer?.email) ?? '',
      registrations: readRegistrations(composer?.identifiers),
    },
    careLocation: asString(asObject(context?.health_care_facility)?.name) ?? '',
    startTime: asString(asObject(context?.start_time)?.value) ?? '',
    hasBody: items.some((item) => asObject(item)?.archetype_node_id === LETTER_NARRATIVE_ARCHETYPE),
    clinicalLists: items
      .filter((item) => asObject(item)?.archetype_node_id === SNAPSHOT_ARCHETYPE)
      .flatMap((item) => readList(item) ?? []),
    attachments: items
      .filter((item) => asObject(item)?.archetype_node_id === ATTACHMENT_ARCHETYPE)
      .flatMap((item) => readFileReference(item) ?? []),
    ...(references === undefined ? {} : { references }),
    status,
    ...(signed === undefined
      ? {}
      : {
          signedOff: {
            name: asString(signed.name) ?? '',
            role: asString(signed.role) ?? '',
            registrations: readRegistrations(signed.identifiers),
            at: asString(signed.at) ?? '',
          },
        }),
  };
}
