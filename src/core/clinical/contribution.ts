// The patient's voice (seed 001): material a patient contributes — symptom logs, reported
// outcomes, comments on a letter — lives under `patient/` in the clinical repository, apart from
// professionally authored content. A contribution is a new file of its own and never changes
// anything outside `patient/`: it may inform care, but a clinician acts on it only through a
// new commit of their own.
//
//   patient/symptoms/<id>.yaml    a symptom log entry
//   patient/outcomes/<id>.yaml    a patient-reported outcome (an instrument's score, answers)
//   patient/comments/<id>.md      a comment on a letter: Markdown with YAML front matter
import { parse } from 'yaml';
import { renderRecordYaml } from '../yaml-mapping.js';
import { invalidInput } from '../errors.js';
import { objectAt, refuseUnknown } from '../input.js';
import { parseSingleLine } from '../commit/author.js';
import { parseTimestampId, type TimestampId } from '../ids/timestamp-id.js';
import { parseFreeText, parseInstant } from './letter.js';

export const PATIENT_DIR = 'patient';
export const CONTRIBUTION_KINDS = ['symptom', 'outcome', 'comment'] as const;
export type ContributionKind = (typeof CONTRIBUTION_KINDS)[number];

const FOLDER: Readonly<Record<ContributionKind, string>> = {
  symptom: 'symptoms',
  outcome: 'outcomes',
  comment: 'comments',
};
const MAX_NOTES = 4_000;

/** How lists name each kind of contribution. */
export const CONTRIBUTION_TITLES: Readonly<Record<ContributionKind, string>> = {
  symptom: 'Symptom log',
  outcome: 'Reported outcome',
  comment: 'Comment on a letter',
};
const MAX_ANSWERS = 100;

export type ContributionInput =
  | {
      readonly kind: 'symptom';
      readonly symptom: string;
      readonly severity: number;
      readonly recordedAt?: string;
      readonly notes?: string;
    }
  | {
      readonly kind: 'outcome';
      readonly instrument: string;
      readonly score: number;
      readonly maxScore?: number;
      readonly answers: readonly { readonly question: string; readonly answer: string }[];
      readonly recordedAt?: string;
      readonly notes?: string;
    }
  | { readonly kind: 'comment'; readonly letterId: TimestampId; readonly text: string };

/** Where a contribution of this kind and id is stored. */
export function contributionPath(kind: ContributionKind, id: TimestampId): string {
  return `${PATIENT_DIR}/${FOLDER[kind]}/${id}.${kind === 'comment' ? 'md' : 'yaml'}`;
}

/** True for every path a patient contribution may write. */
export function isPatientPath(path: string): boolean {
  return path.startsWith(`${PATIENT_DIR}/`);
}

export function parseContributionKind(value: unknown): ContributionKind {
  if (!CONTRIBUTION_KINDS.includes(value as ContributionKind)) {
    throw invalidInput('kind', `must be one of ${CONTRIBUTION_KINDS.join(', ')}`);
  }
  return value as ContributionKind;
}

function optional<T>(value: unknown, parse: (v: unknown) => T): T | undefined {
  return value === undefined || value === null ? undefined : parse(value);
}

function parseNumber(value: unknown, field: string, min: number, max: number, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidInput(field, `must be a number from ${min} to ${max}`);
  }
  if (integer && !Number.isInteger(value)) throw invalidInput(field, 'must be a whole number');
  return value;
}

/** A contribution as a client sends it, validated strictly. */
export function parseContributionInput(kind: ContributionKind, value: unknown): ContributionInput {
  const input = objectAt(value, '');
  const recordedAt = () => optional(input.recorded_at, (v) => parseInstant(v, 'recorded_at'));
  const notes = () => optional(input.notes, (v) => parseFreeText(v, 'notes', MAX_NOTES));
  if (kind === 'symptom') {
    refuseUnknown(input, ['symptom', 'severity', 'recorded_at', 'notes'], '');
    const at = recordedAt();
    const text = notes();
    return {
      kind,
      symptom: parseSingleLine(input.symptom, 'symptom'),
      severity: parseNumber(input.severity, 'severity', 0, 10, true),
      ...(at === undefined ? {} : { recordedAt: at }),
      ...(text === undefined ? {} : { notes: text }),
    };
  }
  if (kind === 'outcome') {
    refuseUnknown(input, ['instrument', 'score', 'max_score', 'answers', 'recorded_at', 'notes'], '');
    const score = parseNumber(input.score, 'score', -1e6, 1e6);
    const maxScore = optional(input.max_score, (v) => parseNumber(v, 'max_score', -1e6, 1e6));
    if (maxScore !== undefined && score > maxScore) throw invalidInput('score', 'must not exceed max_score');
    const answers = input.answers ?? [];
    if (!Array.isArray(answers)) throw invalidInput('answers', 'must be a list');
    if (answers.length > MAX_ANSWERS)
      throw invalidInput('answers', `must have at most ${MAX_ANSWERS} answers`);
    const at = recordedAt();
    const text = notes();
    return {
      kind,
      instrument: parseSingleLine(input.instrument, 'instrument', 100),
      score,
      ...(maxScore === undefined ? {} : { maxScore }),
      answers: answers.map((raw, i) => {
        const answer = objectAt(raw, `answers[${i}]`);
        refuseUnknown(answer, ['question', 'answer'], `answers[${i}]`);
        return {
          question: parseSingleLine(answer.question, `answers[${i}].question`, 500),
          answer: parseSingleLine(answer.answer, `answers[${i}].answer`, 500),
        };
      }),
      ...(at === undefined ? {} : { recordedAt: at }),
      ...(text === undefined ? {} : { notes: text }),
    };
  }
  refuseUnknown(input, ['letter_id', 'text'], '');
  return {
    kind,
    letterId: parseTimestampId(input.letter_id, 'letter_id'),
    text: parseFreeText(input.text, 'text', MAX_NOTES),
  };
}

export interface Contributor {
  readonly name: string;
  readonly role: string;
}

/** The file text of a contribution. `now` is the instant it is recorded. */
export function renderContribution(
  id: TimestampId,
  input: ContributionInput,
  contributor: Contributor,
  now: string,
): string {
  const header = {
    _type: 'PATIENT_CONTRIBUTION',
    uid: id,
    kind: input.kind,
    source: 'patient',
    contributor: { name: contributor.name, role: contributor.role },
    recorded_at: 'recordedAt' in input && input.recordedAt !== undefined ? input.recordedAt : now,
  };
  if (input.kind === 'comment') {
    return `---\n${renderRecordYaml({ ...header, about_letter: input.letterId })}---\n\n${input.text}`;
  }
  const data =
    input.kind === 'symptom'
      ? { symptom: input.symptom, severity: input.severity }
      : {
          instrument: input.instrument,
          score: input.score,
          ...(input.maxScore === undefined ? {} : { max_score: input.maxScore }),
          answers: input.answers.map((a) => ({ question: a.question, answer: a.answer })),
        };
  return renderRecordYaml({
    ...header,
    data: { ...data, ...(input.notes === undefined ? {} : { notes: input.notes }) },
  });
}

export interface StoredContribution {
  readonly id: string;
  readonly kind: ContributionKind;
  readonly recordedAt: string;
  readonly contributor: Contributor;
  /** The letter a comment is about. */
  readonly aboutLetter?: string;
  /** The structured data (symptom, outcome) or the comment's text. */
  readonly data: Readonly<Record<string, unknown>> | string;
}

/** A contribution file read back leniently; undefined when it is not one. */
export function readContribution(text: string): StoredContribution | undefined {
  let front = text;
  let rest: string | undefined;
  if (text.startsWith('---\n')) {
    const end = text.indexOf('\n---\n', 4);
    if (end < 0) return undefined;
    front = text.slice(4, end + 1);
    rest = text.slice(end + 5).replace(/^\n/, '');
  }
  let doc: unknown;
  try {
    doc = parse(front, { maxAliasCount: 0 });
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const d = doc as Record<string, unknown>;
  if (d._type !== 'PATIENT_CONTRIBUTION' || !CONTRIBUTION_KINDS.includes(d.kind as ContributionKind)) {
    return undefined;
  }
  const contributor = (
    typeof d.contributor === 'object' && d.contributor !== null ? d.contributor : {}
  ) as Record<string, unknown>;
  return {
    id: String(d.uid ?? ''),
    kind: d.kind as ContributionKind,
    recordedAt: typeof d.recorded_at === 'string' ? d.recorded_at : '',
    contributor: {
      name: typeof contributor.name === 'string' ? contributor.name : '',
      role: typeof contributor.role === 'string' ? contributor.role : '',
    },
    ...(typeof d.about_letter === 'string' ? { aboutLetter: d.about_letter } : {}),
    data:
      rest !== undefined
        ? rest
        : typeof d.data === 'object' && d.data !== null
          ? (d.data as Record<string, unknown>)
          : {},
  };
}
