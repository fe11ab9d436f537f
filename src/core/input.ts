// The shape checks every strict parser of client input shares (demographics, letters, entries,
// contributions): a value must be an object, may hold only known fields, and each error names
// the field by its dotted path. Each parser adds its own rules on top.
import { invalidInput } from './errors.js';

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
