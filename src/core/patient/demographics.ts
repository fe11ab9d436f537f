// A patient's demographics as the Patient API speaks them (../shared/seeds/004): the one data
// model every door accepts and returns, and every validation rule it has, applied here once
// before anything is written. Parsing returns the canonical form: names trimmed with white space
// collapsed, email lower-cased, phone in E.164, language tags and country codes canonical.
// How these fields are stored as a FHIR Patient is fhir-patient.ts's business.
import countries from 'i18n-iso-countries';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import validator from 'validator';
import { invalidInput } from '../errors.js';
import { fieldAt as at, given, objectAt, refuseUnknown } from '../input.js';

export const SEX_AT_BIRTH = ['female', 'male', 'intersex', 'unknown', 'undisclosed'] as const;
export type SexAtBirth = (typeof SEX_AT_BIRTH)[number];

export const GENDER_IDENTITY = ['woman', 'man', 'nonbinary', 'other', 'undisclosed'] as const;
export type GenderIdentity = (typeof GENDER_IDENTITY)[number];

export interface Address {
  readonly line1: string;
  readonly line2?: string;
  readonly city: string;
  readonly state_province?: string;
  readonly postal_code?: string;
  /** ISO 3166-1 alpha-2, upper case. */
  readonly country?: string;
}

export interface Demographics {
  readonly given_name: string;
  readonly middle_name?: string;
  readonly family_name: string;
  /** Calendar date, YYYY-MM-DD. */
  readonly date_of_birth: string;
  readonly sex_at_birth: SexAtBirth;
  readonly gender_identity: GenderIdentity;
  /** The patient's own words, when gender_identity is "other" (and only then). */
  readonly gender_identity_text?: string;
  /** Lower-cased. */
  readonly email?: string;
  /** E.164, e.g. +447700900123. */
  readonly phone_e164?: string;
  readonly address?: Address;
  /** A canonical BCP 47 tag, e.g. en-GB. */
  readonly preferred_language?: string;
  readonly consent_to_contact: boolean;
}

export const DEMOGRAPHICS_FIELDS: readonly (keyof Demographics)[] = [
  'given_name',
  'middle_name',
  'family_name',
  'date_of_birth',
  'sex_at_birth',
  'gender_identity',
  'gender_identity_text',
  'email',
  'phone_e164',
  'address',
  'preferred_language',
  'consent_to_contact',
];

export const ADDRESS_FIELDS: readonly (keyof Address)[] = [
  'line1',
  'line2',
  'city',
  'state_province',
  'postal_code',
  'country',
];

export const NAME_MAX = 100;
export const ADDRESS_LINE_MAX = 200;
export const MAX_AGE_YEARS = 120;

/** Postal code shapes for the countries where one rule covers the whole country. */
const POSTAL_CODES: Readonly<Record<string, RegExp>> = {
  GB: /^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$/i,
  US: /^[0-9]{5}(?:-[0-9]{4})?$/,
  CA: /^[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]$/i,
  DE: /^[0-9]{5}$/,
  FR: /^[0-9]{5}$/,
  ES: /^[0-9]{5}$/,
  IT: /^[0-9]{5}$/,
  NL: /^[0-9]{4} ?[A-Z]{2}$/i,
  IE: /^[A-Z][0-9][0-9W] ?[A-Z0-9]{4}$/i,
  AU: /^[0-9]{4}$/,
  IN: /^[0-9]{6}$/,
};

/** Text of one line: trimmed, runs of white space collapsed to one space, bounded. */
function parseText(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string');
  const text = value.normalize('NFC').trim().replace(/\s+/gu, ' ');
  if (text.length === 0) throw invalidInput(field, 'must not be empty');
  if (text.length > max) throw invalidInput(field, `must be at most ${max} characters`);
  if (/\p{Cc}|\p{Cs}/u.test(text)) throw invalidInput(field, 'must not contain control characters');
  return text;
}

/** A person's name: any script, no digits. */
function parseName(value: unknown, field: string): string {
  const name = parseText(value, field, NAME_MAX);
  if (/\p{Nd}/u.test(name)) throw invalidInput(field, 'must not contain digits');
  if (!/\p{L}/u.test(name)) throw invalidInput(field, 'must contain a letter');
  return name;
}

/** A calendar date in the past, at most MAX_AGE_YEARS ago. */
export function parseDateOfBirth(value: unknown, field: string, today: Date = new Date()): string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    throw invalidInput(field, 'must be a date written YYYY-MM-DD');
  }
  const date = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
    throw invalidInput(field, 'must be a real calendar date');
  }
  const todayUtc = today.toISOString().slice(0, 10);
  if (value >= todayUtc) throw invalidInput(field, 'must be in the past');
  const oldest = new Date(`${todayUtc}T00:00:00Z`);
  oldest.setUTCFullYear(oldest.getUTCFullYear() - MAX_AGE_YEARS);
  if (date.getTime() < oldest.getTime()) {
    throw invalidInput(field, `must be no more than ${MAX_AGE_YEARS} years ago`);
  }
  return value;
}

function parseEnum<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw invalidInput(field, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** An email address (RFC 5322 addr-spec as commonly used), lower-cased. */
export function parseEmail(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string');
  const email = value.trim().toLowerCase();
  if (
    email.length > 254 ||
    !validator.isEmail(email, { allow_display_name: false, allow_ip_domain: false })
  ) {
    throw invalidInput(field, 'must be an email address such as name@example.org');
  }
  return email;
}

/** An international phone number, returned in E.164. */
export function parsePhone(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string');
  const text = value.trim();
  if (!text.startsWith('+') || text.length > 32) {
    throw invalidInput(field, 'must be an international number starting with +, e.g. +447700900123');
  }
  const phone = parsePhoneNumberFromString(text);
  if (phone === undefined || !phone.isValid()) throw invalidInput(field, 'must be a valid phone number');
  return phone.number;
}

/** An ISO 3166-1 alpha-2 country code, upper case. */
function parseCountry(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z]{2}$/.test(value.trim())) {
    throw invalidInput(field, 'must be a two-letter ISO 3166-1 country code such as GB');
  }
  const code = value.trim().toUpperCase();
  if (!countries.isValid(code)) throw invalidInput(field, 'is not an ISO 3166-1 country code');
  return code;
}

/** A BCP 47 language tag, in its canonical form. */
export function parseLanguage(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 64) {
    throw invalidInput(field, 'must be a BCP 47 language tag such as en-GB');
  }
  try {
    const [canonical] = Intl.getCanonicalLocales(value.trim());
    if (canonical !== undefined) return canonical;
  } catch {
    // fall through
  }
  throw invalidInput(field, 'must be a BCP 47 language tag such as en-GB');
}

function parseAddress(value: unknown, field: string): Address {
  const input = objectAt(value, field);
  refuseUnknown(input, ADDRESS_FIELDS, field);
  const postalCode = given(input.postal_code)
    ? parseText(input.postal_code, at(field, 'postal_code'), 16).toUpperCase()
    : undefined;
  const country = given(input.country) ? parseCountry(input.country, at(field, 'country')) : undefined;
  if (postalCode !== undefined && country === undefined) {
    throw invalidInput(at(field, 'country'), 'is required when a postal code is given');
  }
  const shape = country === undefined ? undefined : POSTAL_CODES[country];
  if (postalCode !== undefined && shape !== undefined && !shape.test(postalCode)) {
    throw invalidInput(at(field, 'postal_code'), `is not a postal code of ${country}`);
  }
  const optional = (key: keyof Address, max: number) =>
    given(input[key]) ? { [key]: parseText(input[key], at(field, key), max) } : {};
  return {
    line1: parseText(input.line1, at(field, 'line1'), ADDRESS_LINE_MAX),
    ...optional('line2', ADDRESS_LINE_MAX),
    city: parseText(input.city, at(field, 'city'), NAME_MAX),
    ...optional('state_province', NAME_MAX),
    ...(postalCode === undefined ? {} : { postal_code: postalCode }),
    ...(country === undefined ? {} : { country }),
  };
}

/**
 * Validates demographics as a client sent them and returns them in canonical form. `field` is
 * the path prefix of error details; `ignore` lists keys a door tolerates but does not store
 * (such as server-managed fields echoed back by a client).
 */
export function parseDemographics(
  value: unknown,
  field = '',
  ignore: readonly string[] = [],
  today: Date = new Date(),
): Demographics {
  const input = objectAt(value, field === '' ? 'body' : field);
  refuseUnknown(input, [...DEMOGRAPHICS_FIELDS, ...ignore], field);
  const genderIdentity = parseEnum(input.gender_identity, GENDER_IDENTITY, at(field, 'gender_identity'));
  if (genderIdentity === 'other' && !given(input.gender_identity_text)) {
    throw invalidInput(at(field, 'gender_identity_text'), 'is required when gender_identity is other');
  }
  if (genderIdentity !== 'other' && given(input.gender_identity_text)) {
    throw invalidInput(at(field, 'gender_identity_text'), 'is only for gender_identity other');
  }
  const consent = input.consent_to_contact ?? false;
  if (typeof consent !== 'boolean')
    throw invalidInput(at(field, 'consent_to_contact'), 'must be true or false');
  return {
    given_name: parseName(input.given_name, at(field, 'given_name')),
    ...(given(input.middle_name)
      ? { middle_name: parseName(input.middle_name, at(field, 'middle_name')) }
      : {}),
    family_name: parseName(input.family_name, at(field, 'family_name')),
    date_of_birth: parseDateOfBirth(input.date_of_birth, at(field, 'date_of_birth'), today),
    sex_at_birth: parseEnum(input.sex_at_birth, SEX_AT_BIRTH, at(field, 'sex_at_birth')),
    gender_identity: genderIdentity,
    ...(genderIdentity === 'other'
      ? {
          gender_identity_text: parseText(
            input.gender_identity_text,
            at(field, 'gender_identity_text'),
            NAME_MAX,
          ),
        }
      : {}),
    ...(given(input.email) ? { email: parseEmail(input.email, at(field, 'email')) } : {}),
    ...(given(input.phone_e164) ? { phone_e164: parsePhone(input.phone_e164, at(field, 'phone_e164')) } : {}),
    ...(given(input.address) ? { address: parseAddress(input.address, at(field, 'address')) } : {}),
    ...(given(input.preferred_language)
      ? { preferred_language: parseLanguage(input.preferred_language, at(field, 'preferred_language')) }
      : {}),
    consent_to_contact: consent,
  };
}
