// The demographics repository's `patient.yaml`: a FHIR R4 Patient resource written as YAML.
// Input is validated here (names, date of birth) before any file is built.
import { stringify } from 'yaml';
import { invalidInput } from '../errors.js';
import { parseSingleLine } from '../commit/author.js';
import type { RecordId } from '../ids/record-id.js';

export interface Demographics {
  readonly givenNames: readonly string[];
  readonly familyName: string;
  /** Calendar date, YYYY-MM-DD. */
  readonly birthDate: string;
}

export const PATIENT_FILE = 'patient.yaml';

export function parseBirthDate(value: unknown, field: string, today: Date = new Date()): string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    throw invalidInput(field, 'must be a date written YYYY-MM-DD');
  }
  const date = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
    throw invalidInput(field, 'must be a real calendar date');
  }
  if (date.getTime() > today.getTime()) throw invalidInput(field, 'must not be in the future');
  if (date.getUTCFullYear() < 1850) throw invalidInput(field, 'must be after 1850');
  return value;
}

export function parseDemographics(value: unknown, field = 'demographics'): Demographics {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidInput(field, 'must be an object');
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!['givenNames', 'familyName', 'birthDate'].includes(key))
      throw invalidInput(`${field}.${key}`, 'is not a known field');
  }
  if (!Array.isArray(input.givenNames) || input.givenNames.length === 0 || input.givenNames.length > 10) {
    throw invalidInput(`${field}.givenNames`, 'must list 1 to 10 given names');
  }
  return {
    givenNames: input.givenNames.map((name, i) => parseSingleLine(name, `${field}.givenNames[${i}]`, 100)),
    familyName: parseSingleLine(input.familyName, `${field}.familyName`, 100),
    birthDate: parseBirthDate(input.birthDate, `${field}.birthDate`),
  };
}

export function renderPatient(id: RecordId, demographics: Demographics, updatedAt: Date): string {
  return stringify({
    resourceType: 'Patient',
    id,
    meta: { lastUpdated: updatedAt.toISOString() },
    active: true,
    name: [{ use: 'official', family: demographics.familyName, given: [...demographics.givenNames] }],
    birthDate: demographics.birthDate,
  });
}
