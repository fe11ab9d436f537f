// The author of a change: who they are (name, email), the role they acted in, their
// professional registrations, validated once here. Git's author/committer come from it.
import { invalidInput } from '../errors.js';

export interface Registration {
  /** Registering body, e.g. GMC, NMC, HCPC. */
  readonly authority: string;
  readonly number: string;
}

export interface Author {
  readonly name: string;
  readonly email: string;
  /** The role the author acted in for this change, e.g. Clinician, Nurse, Patient. */
  readonly role: string;
  readonly registrations: readonly Registration[];
}

const AUTHORITY = /^[A-Z][A-Z0-9-]{1,15}$/;
const REGISTRATION_NUMBER = /^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/;
const EMAIL =
  /^[^\s<>@,;"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/;
export const MAX_TEXT_LENGTH = 200;

/** A single line of printable text, trimmed, non-empty and bounded; the rule for every header-like field. */
export function parseSingleLine(value: unknown, field: string, maxLength = MAX_TEXT_LENGTH): string {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string');
  const text = value.trim();
  if (text.length === 0) throw invalidInput(field, 'must not be empty');
  if (text.length > maxLength) throw invalidInput(field, `must be at most ${maxLength} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\x00-\x1f\x7f\u2028\u2029]/.test(text))
    throw invalidInput(field, 'must be a single line of printable text');
  return text;
}

export function parseAuthor(value: unknown, field = 'author'): Author {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidInput(field, 'must be an object');
  }
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!['name', 'email', 'role', 'registrations'].includes(key))
      throw invalidInput(`${field}.${key}`, 'is not a known field');
  }
  const name = parseSingleLine(input.name, `${field}.name`);
  if (/[<>]/.test(name)) throw invalidInput(`${field}.name`, 'must not contain < or >');
  const email = parseSingleLine(input.email, `${field}.email`, 254);
  if (!EMAIL.test(email)) throw invalidInput(`${field}.email`, 'must be an email address');
  const role = parseSingleLine(input.role, `${field}.role`, 64);
  const rawRegistrations = input.registrations ?? [];
  if (!Array.isArray(rawRegistrations)) throw invalidInput(`${field}.registrations`, 'must be a list');
  if (rawRegistrations.length > 16)
    throw invalidInput(`${field}.registrations`, 'must have at most 16 entries');
  const registrations = rawRegistrations.map((raw, i): Registration => {
    const at = `${field}.registrations[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw invalidInput(at, 'must be an object');
    const { authority, number, ...rest } = raw as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw invalidInput(at, 'has unknown fields');
    if (typeof authority !== 'string' || !AUTHORITY.test(authority)) {
      throw invalidInput(`${at}.authority`, 'must be 2-16 uppercase letters, digits or hyphens, e.g. GMC');
    }
    if (typeof number !== 'string' || !REGISTRATION_NUMBER.test(number)) {
      throw invalidInput(`${at}.number`, 'must be 1-32 letters, digits or hyphens');
    }
    return { authority, number };
  });
  const keys = new Set(registrations.map((r) => `${r.authority} ${r.number}`));
  if (keys.size !== registrations.length)
    throw invalidInput(`${field}.registrations`, 'must not repeat an entry');
  return { name, email, role, registrations };
}
