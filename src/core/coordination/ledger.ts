// A messaging thread's metadata (seed: "CCR Messaging – Design and Rationale"): the care
// coordination repository keeps each thread in `communications/<communication_id>/`, where
// `thread.md` holds the conversation (./thread.ts) and `ledger.yaml`, owned here, says who takes
// part and in what role, whether the thread is open, closed or archived, how sensitive it is and
// what its policies allow.
//
// Input from a client is parsed strictly here: the ledger part of a create request
// (`parseLedgerInput`) and an update (`parseLedgerChange`), unknown fields refused, a field path
// in every error and never a value. `applyLedgerChange` enforces the rules that depend on the
// ledger as it is: the status moves only open → closed → archived (or open → archived), an
// archived ledger changes no more, a participant is added once (ALREADY_EXISTS) and the last one
// is never removed. The stored file is read back leniently (`readLedger`); where a value cannot
// be read, the most restrictive reading is taken (restricted, policies off) rather than a
// permission invented.
import { parseYamlMappingWithoutAliases, renderRecordYaml } from '../yaml-mapping.js';
import { invalidInput, VprError } from '../errors.js';
import { fieldAt, given, objectAt, refuseUnknown } from '../input.js';
import { parseSingleLine } from '../commit/author.js';
import { parseTimestampId, type TimestampId } from '../ids/timestamp-id.js';

export const COMMUNICATIONS_DIR = 'communications';
export const LEDGER_FILE = 'ledger.yaml';

/** The roles a participant takes in a thread, and that a message's author writes in. */
export const MESSAGE_ROLES = [
  'clinician',
  'careadministrator',
  'patient',
  'patientassociate',
  'system',
] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

export const THREAD_STATUSES = ['open', 'closed', 'archived'] as const;
export type ThreadStatus = (typeof THREAD_STATUSES)[number];

export const SENSITIVITIES = ['standard', 'confidential', 'restricted'] as const;
export type Sensitivity = (typeof SENSITIVITIES)[number];

export const MAX_PARTICIPANTS = 100;
export const MAX_PARTICIPANT_ID_LENGTH = 128;
export const MAX_DISPLAY_NAME_LENGTH = 200;

/** The status changes a ledger allows; everything else is INVALID_STATE. */
const TRANSITIONS: Readonly<Record<ThreadStatus, readonly ThreadStatus[]>> = {
  open: ['closed', 'archived'],
  closed: ['archived'],
  archived: [],
};

const PARTICIPANT_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

export interface Participant {
  readonly participant_id: string;
  readonly role: MessageRole;
  readonly display_name: string;
}

export interface Visibility {
  readonly sensitivity: Sensitivity;
  readonly restricted: boolean;
}

export interface Policies {
  readonly allow_patient_participation: boolean;
  readonly allow_external_organisations: boolean;
}

/** Everything `ledger.yaml` records. */
export interface Ledger {
  readonly communication_id: TimestampId;
  readonly status: ThreadStatus;
  readonly created_at: string;
  readonly last_updated_at: string;
  readonly participants: readonly Participant[];
  readonly visibility: Visibility;
  readonly policies: Policies;
}

/** What a client says about a new thread's ledger. */
export interface LedgerInput {
  readonly participants: readonly Participant[];
  readonly visibility: Visibility;
  readonly policies: Policies;
}

/** An update of a ledger, as a client sends it; at least one field is given. */
export interface LedgerChange {
  readonly add_participants?: readonly Participant[];
  readonly remove_participants?: readonly string[];
  readonly status?: ThreadStatus;
  readonly visibility?: Partial<Visibility>;
  readonly policies?: Partial<Policies>;
}

export const DEFAULT_VISIBILITY: Visibility = { sensitivity: 'standard', restricted: false };
export const DEFAULT_POLICIES: Policies = {
  allow_patient_participation: true,
  allow_external_organisations: true,
};

export function communicationDir(communicationId: TimestampId): string {
  return `${COMMUNICATIONS_DIR}/${communicationId}`;
}

export function ledgerPath(communicationId: TimestampId): string {
  return `${communicationDir(communicationId)}/${LEDGER_FILE}`;
}

/** The thread a repository path belongs to, if it is inside a thread's folder. */
export function communicationIdOfPath(path: string): TimestampId | undefined {
  if (!path.startsWith(`${COMMUNICATIONS_DIR}/`)) return undefined;
  const id = path.slice(COMMUNICATIONS_DIR.length + 1).split('/')[0];
  try {
    return parseTimestampId(id);
  } catch {
    return undefined;
  }
}

/** Whether `value` is a participant id as stored (the rule `parseParticipantId` checks). */
export function isParticipantId(value: string): boolean {
  return PARTICIPANT_ID.test(value);
}

/** A participant's (or message author's) id: one line of at most 128 letters, digits or . _ : @ -. */
export function parseParticipantId(value: unknown, field: string): string {
  const id = parseSingleLine(value, field, MAX_PARTICIPANT_ID_LENGTH);
  if (!PARTICIPANT_ID.test(id)) {
    throw invalidInput(field, 'must be letters, digits or the characters . _ : @ -');
  }
  return id;
}

/** A participant's display name: one line of printable text, at most 200 characters. */
export function parseDisplayName(value: unknown, field: string): string {
  return parseSingleLine(value, field, MAX_DISPLAY_NAME_LENGTH);
}

function parseEnum<T extends string>(value: unknown, field: string, values: readonly T[]): T {
  if (!values.includes(value as T)) throw invalidInput(field, `must be one of ${values.join(', ')}`);
  return value as T;
}

export function parseMessageRole(value: unknown, field: string): MessageRole {
  return parseEnum(value, field, MESSAGE_ROLES);
}

function parseBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalidInput(field, 'must be true or false');
  return value;
}

function parseParticipant(value: unknown, field: string): Participant {
  const input = objectAt(value, field);
  refuseUnknown(input, ['participant_id', 'role', 'display_name'], field);
  return {
    participant_id: parseParticipantId(input.participant_id, fieldAt(field, 'participant_id')),
    role: parseMessageRole(input.role, fieldAt(field, 'role')),
    display_name: parseDisplayName(input.display_name, fieldAt(field, 'display_name')),
  };
}

/** A list of 1 to `max` items, each parsed by `parseItem`, none repeating the key of an earlier one. */
function parseList<T>(
  value: unknown,
  field: string,
  max: number,
  parseItem: (raw: unknown, at: string) => T,
  key: (item: T) => string,
  keyField: (at: string) => string,
): T[] {
  if (!Array.isArray(value)) throw invalidInput(field, 'must be a list');
  if (value.length === 0) throw invalidInput(field, 'must not be empty');
  if (value.length > max) throw invalidInput(field, `must have at most ${max} entries`);
  const seen = new Set<string>();
  return value.map((raw, i) => {
    const at = `${field}[${i}]`;
    const item = parseItem(raw, at);
    if (seen.has(key(item))) throw invalidInput(keyField(at), 'must not repeat an earlier entry');
    seen.add(key(item));
    return item;
  });
}

const parseParticipants = (value: unknown, field: string): Participant[] =>
  parseList(
    value,
    field,
    MAX_PARTICIPANTS,
    parseParticipant,
    (p) => p.participant_id,
    (at) => fieldAt(at, 'participant_id'),
  );

/** The visibility fields given in `value`; `requireOne` refuses an object that gives none. */
function parseVisibilityPart(value: unknown, field: string, requireOne: boolean): Partial<Visibility> {
  const input = objectAt(value, field);
  refuseUnknown(input, ['sensitivity', 'restricted'], field);
  if (requireOne && !given(input.sensitivity) && !given(input.restricted)) {
    throw invalidInput(field, 'must give sensitivity, restricted or both');
  }
  return {
    ...(given(input.sensitivity)
      ? { sensitivity: parseEnum(input.sensitivity, fieldAt(field, 'sensitivity'), SENSITIVITIES) }
      : {}),
    ...(given(input.restricted)
      ? { restricted: parseBoolean(input.restricted, fieldAt(field, 'restricted')) }
      : {}),
  };
}

/** The policy fields given in `value`; `requireOne` refuses an object that gives none. */
function parsePoliciesPart(value: unknown, field: string, requireOne: boolean): Partial<Policies> {
  const input = objectAt(value, field);
  const keys = ['allow_patient_participation', 'allow_external_organisations'] as const;
  refuseUnknown(input, keys, field);
  if (requireOne && !keys.some((key) => given(input[key]))) {
    throw invalidInput(field, 'must give at least one policy');
  }
  const policies: { -readonly [K in keyof Policies]?: boolean } = {};
  for (const key of keys) {
    if (given(input[key])) policies[key] = parseBoolean(input[key], fieldAt(field, key));
  }
  return policies;
}

/**
 * The ledger part of a create request, at `field` of the body ('' for the body itself):
 * `{ participants, visibility?, policies? }`. `options.allow` names other fields the body may
 * hold (the caller parses them).
 */
export function parseLedgerInput(
  body: unknown,
  field = '',
  options: { allow?: readonly string[] } = {},
): LedgerInput {
  const input = objectAt(body, field);
  refuseUnknown(input, ['participants', 'visibility', 'policies', ...(options.allow ?? [])], field);
  const participantsField = fieldAt(field, 'participants');
  if (!given(input.participants)) throw invalidInput(participantsField, 'is required');
  const participants = parseParticipants(input.participants, participantsField);
  const visibility = given(input.visibility)
    ? parseVisibilityPart(input.visibility, fieldAt(field, 'visibility'), false)
    : {};
  const policies = given(input.policies)
    ? parsePoliciesPart(input.policies, fieldAt(field, 'policies'), false)
    : {};
  return {
    participants,
    visibility: { ...DEFAULT_VISIBILITY, ...visibility },
    policies: { ...DEFAULT_POLICIES, ...policies },
  };
}

/** The ledger of a new thread: open, created and last updated `now`. */
export function createLedger(communicationId: TimestampId, input: LedgerInput, now: string): Ledger {
  return {
    communication_id: parseTimestampId(communicationId, 'communication_id'),
    status: 'open',
    created_at: now,
    last_updated_at: now,
    participants: input.participants,
    visibility: input.visibility,
    policies: input.policies,
  };
}

/**
 * An update request: `{ add_participants?, remove_participants?, status?, visibility?, policies? }`,
 * at least one given. Lists are non-empty and never repeat a participant id, and no id is both
 * added and removed; `visibility` and `policies` give only the fields that change.
 */
export function parseLedgerChange(body: unknown): LedgerChange {
  const input = objectAt(body, '');
  const known = ['add_participants', 'remove_participants', 'status', 'visibility', 'policies'];
  refuseUnknown(input, known, '');
  if (!known.some((key) => given(input[key]))) {
    throw invalidInput('body', `must give at least one of ${known.join(', ')}`);
  }
  const add = given(input.add_participants)
    ? parseParticipants(input.add_participants, 'add_participants')
    : undefined;
  const remove = given(input.remove_participants)
    ? parseList(
        input.remove_participants,
        'remove_participants',
        MAX_PARTICIPANTS,
        parseParticipantId,
        (id) => id,
        (at) => at,
      )
    : undefined;
  if (add !== undefined && remove !== undefined) {
    const added = new Set(add.map((p) => p.participant_id));
    const both = remove.findIndex((id) => added.has(id));
    if (both >= 0) throw invalidInput(`remove_participants[${both}]`, 'must not also be added');
  }
  return {
    ...(add === undefined ? {} : { add_participants: add }),
    ...(remove === undefined ? {} : { remove_participants: remove }),
    ...(given(input.status) ? { status: parseEnum(input.status, 'status', THREAD_STATUSES) } : {}),
    ...(given(input.visibility)
      ? { visibility: parseVisibilityPart(input.visibility, 'visibility', true) }
      : {}),
    ...(given(input.policies) ? { policies: parsePoliciesPart(input.policies, 'policies', true) } : {}),
  };
}

/** Whether a thread in status `from` may move to `to`. */
export function canMoveStatus(from: ThreadStatus, to: ThreadStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * The ledger with `change` applied and last updated `now`. INVALID_STATE for a status change the
 * ledger does not allow (moving to the status it has is not allowed either) and for any change
 * of an archived ledger; ALREADY_EXISTS for adding a participant who is there already;
 * INVALID_INPUT for removing one who is not, for leaving no participant and for more than
 * MAX_PARTICIPANTS. Removals apply before additions; participants keep their order, new ones last.
 */
export function applyLedgerChange(ledger: Ledger, change: LedgerChange, now: string): Ledger {
  if (ledger.status === 'archived') {
    throw new VprError('INVALID_STATE', 'an archived thread cannot be changed');
  }
  if (change.status !== undefined && !canMoveStatus(ledger.status, change.status)) {
    throw new VprError('INVALID_STATE', `a thread that is ${ledger.status} cannot become ${change.status}`, {
      details: { field: 'status' },
    });
  }
  let participants = [...ledger.participants];
  change.remove_participants?.forEach((id, i) => {
    if (!participants.some((p) => p.participant_id === id)) {
      throw invalidInput(`remove_participants[${i}]`, 'is not a participant of this thread');
    }
    participants = participants.filter((p) => p.participant_id !== id);
  });
  change.add_participants?.forEach((participant, i) => {
    if (participants.some((p) => p.participant_id === participant.participant_id)) {
      const field = `add_participants[${i}].participant_id`;
      throw new VprError('ALREADY_EXISTS', `${field}: is a participant of this thread already`, {
        details: { field },
      });
    }
    participants.push(participant);
  });
  if (participants.length === 0) {
    throw invalidInput('remove_participants', 'must leave the thread at least one participant');
  }
  if (participants.length > MAX_PARTICIPANTS) {
    throw invalidInput('add_participants', `a thread may have at most ${MAX_PARTICIPANTS} participants`);
  }
  return {
    ...ledger,
    status: change.status ?? ledger.status,
    last_updated_at: now,
    participants,
    visibility: { ...ledger.visibility, ...change.visibility },
    policies: { ...ledger.policies, ...change.policies },
  };
}

/** The ledger last updated `now` (a message was added). */
export function touchLedger(ledger: Ledger, now: string): Ledger {
  return { ...ledger, last_updated_at: now };
}

/** The text of `ledger.yaml`, in a fixed key order so diffs show only what changed. */
export function renderLedger(ledger: Ledger): string {
  return renderRecordYaml({
    communication_id: ledger.communication_id,
    status: ledger.status,
    created_at: ledger.created_at,
    last_updated_at: ledger.last_updated_at,
    participants: ledger.participants.map((p) => ({
      participant_id: p.participant_id,
      role: p.role,
      display_name: p.display_name,
    })),
    visibility: {
      sensitivity: ledger.visibility.sensitivity,
      restricted: ledger.visibility.restricted,
    },
    policies: {
      allow_patient_participation: ledger.policies.allow_patient_participation,
      allow_external_organisations: ledger.policies.allow_external_organisations,
    },
  });
}

// Lenient reading: what the file holds, never a throw, and never more permission than it gives.

type Loose = Record<string, unknown>;
const asObject = (value: unknown): Loose | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : undefined;
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function readParticipants(value: unknown): Participant[] {
  const seen = new Set<string>();
  return (Array.isArray(value) ? value : []).flatMap((raw) => {
    const p = asObject(raw);
    const id = asString(p?.participant_id);
    const role = p?.role as MessageRole;
    if (id === undefined || seen.has(id) || !MESSAGE_ROLES.includes(role)) return [];
    seen.add(id);
    return [{ participant_id: id, role, display_name: asString(p?.display_name) ?? id }];
  });
}

/**
 * `ledger.yaml` read back; undefined when the text is not a ledger (not YAML, no valid
 * communication_id, or a status that is not one of THREAD_STATUSES). A participant without an id
 * or with an unknown role is left out; a sensitivity that cannot be read is `restricted`, and a
 * flag that cannot be read is the restrictive value (restricted true, policies false).
 */
export function readLedger(text: string): Ledger | undefined {
  const root = asObject(parseYamlMappingWithoutAliases(text));
  if (root === undefined || !THREAD_STATUSES.includes(root.status as ThreadStatus)) return undefined;
  let communicationId: TimestampId;
  try {
    communicationId = parseTimestampId(root.communication_id);
  } catch {
    return undefined;
  }
  const visibility = asObject(root.visibility);
  const policies = asObject(root.policies);
  const sensitivity = visibility?.sensitivity as Sensitivity;
  const flag = (value: unknown, fallback: boolean) => (typeof value === 'boolean' ? value : fallback);
  return {
    communication_id: communicationId,
    status: root.status as ThreadStatus,
    created_at: asString(root.created_at) ?? '',
    last_updated_at: asString(root.last_updated_at) ?? '',
    participants: readParticipants(root.participants),
    visibility: {
      sensitivity: SENSITIVITIES.includes(sensitivity) ? sensitivity : 'restricted',
      restricted: flag(visibility?.restricted, true),
    },
    policies: {
      allow_patient_participation: flag(policies?.allow_patient_participation, false),
      allow_external_organisations: flag(policies?.allow_external_organisations, false),
    },
  };
}
