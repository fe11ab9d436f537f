// The shape checks every strict parser of client input shares (demographics, letters, entries,
// contributions): a value must be an object, may hold only known fields, and each error names
// the field by its dotted path. Each parser adds its own rules on top.
import { invalidInput } from './errors.js';
import { parseSingleLine } from './commit/author.js';

/** How deeply a client's body may nest objects and lists, whichever door and format it came by. */
export const MAX_BODY_DEPTH = 32;

/** A client's object, before its fields are checked. */
export type Input = Readonly<Record<string, unknown>>;

/** The dotted path of `key` inside `field` ('' is the body itself). */
export const fieldAt = (field: string, key: string): string => (field === '' ? key : `${field}.${key}`);

/** Absent, or null: both mean "not given". */
export const given = (value: unknown): boolean => value !== undefined && value !== null;

/** The value as an object; INVALID_INPUT naming `field` (or the body) otherwise. */
export function objectAt(value: unknown, field: string): Input {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidInput(field === '' ? 'body' : field, 'must be an object');
  }
  return value as Input;
}

/** INVALID_INPUT naming the first field of `input` that is not one of `known`. */
export function refuseUnknown(input: Input, known: readonly string[], field: string): void {
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) throw invalidInput(fieldAt(field, key), 'is not a known field');
  }
}

/** `{ [key]: parsed }` when `input[key]` is given, else `{}`: for spreading into a result. */
export function optional<K extends string, T>(
  input: Input,
  key: K,
  field: string,
  parse: (value: unknown, field: string) => T,
): { readonly [P in K]?: T } {
  return given(input[key]) ? ({ [key]: parse(input[key], fieldAt(field, key)) } as { [P in K]: T }) : {};
}

/** One of `allowed`; INVALID_INPUT naming the field (never the value) otherwise. */
export function parseEnum<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw invalidInput(field, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** `input[key]`, which must be given. */
export function required(input: Input, key: string, field: string): unknown {
  const value = input[key];
  if (!given(value)) throw invalidInput(field, 'is required');
  return value;
}

/** Characters no stored text may hold: controls, lone surrogates, noncharacters (YAML refuses those). */
const UNPRINTABLE = /\p{Cc}|\p{Cs}|\p{Noncharacter_Code_Point}|[\u2028\u2029]/u;
/** The same, except line feed and tab. */
const UNPRINTABLE_IN_TEXT = /[^\P{Cc}\n\t]|\p{Cs}|\p{Noncharacter_Code_Point}|[\u2028\u2029]/u;

/** A single line of printable text: NFC, trimmed, runs of white space collapsed, bounded. */
export function parsePrintableLine(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string');
  const line = parseSingleLine(value.normalize('NFC'), field, max);
  if (UNPRINTABLE.test(line)) throw invalidInput(field, 'must be a single line of printable text');
  return line.replace(/\s+/gu, ' ');
}

/** Free text over several lines (a comment, a note): NFC, CRLF and CR made LF, trimmed, bounded. */
export function parseNoteText(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string');
  const text = value.normalize('NFC').replace(/\r\n?/g, '\n').trim();
  if (text.length === 0) throw invalidInput(field, 'must not be empty');
  if (text.length > max) throw invalidInput(field, `must be at most ${max} characters`);
  if (UNPRINTABLE_IN_TEXT.test(text)) {
    throw invalidInput(field, 'must be text without control characters other than line breaks and tabs');
  }
  return text;
}
