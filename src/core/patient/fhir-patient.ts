// The demographics repository's `patient.yaml`: a FHIR R4 Patient resource written as YAML, and
// read back. Every field of the Patient API's data model is kept; those FHIR Patient lacks are
// extensions (docs/fhir-mapping.md). Reading is lenient — a file written by hand or by an older
// version yields what it holds, with absent fields absent — because reading must never lose a
// record; writing is strict, from validated Demographics only.
import { parseDocument } from 'yaml';
import { renderRecordYaml } from '../yaml-mapping.js';
import type { RecordId } from '../ids/record-id.js';
import {
  GENDER_IDENTITY,
  SEX_AT_BIRTH,
  type Address,
  type Demographics,
  type GenderIdentity,
  type SexAtBirth,
} from './demographics.js';

export const PATIENT_FILE = 'patient.yaml';

export const SEX_AT_BIRTH_EXTENSION = 'urn:vpr:fhir:extension:sex-at-birth';
/** HL7's own R4 extension for gender identity, coded with VPR's code system. */
export const GENDER_IDENTITY_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/patient-genderIdentity';
export const GENDER_IDENTITY_SYSTEM = 'urn:vpr:fhir:code-system:gender-identity';
export const CONSENT_TO_CONTACT_EXTENSION = 'urn:vpr:fhir:extension:consent-to-contact';
export const BCP47_SYSTEM = 'urn:ietf:bcp:47';

/** A patient as read from `patient.yaml`: what the file holds, nothing invented. */
export interface StoredPatient extends Omit<
  Demographics,
  'date_of_birth' | 'sex_at_birth' | 'gender_identity'
> {
  /** Required when written; a file written otherwise may lack them. */
  readonly date_of_birth: string | null;
  readonly sex_at_birth: SexAtBirth | null;
  readonly gender_identity: GenderIdentity | null;
  /** False once the patient is soft-deleted (FHIR `active: false`). */
  readonly active: boolean;
}

/** The FHIR Patient resource for validated demographics. */
export function renderPatient(
  id: RecordId,
  demographics: Demographics,
  updatedAt: Date,
  active = true,
): string {
  const d = demographics;
  const address = d.address;
  return renderRecordYaml(
    {
      resourceType: 'Patient',
      id,
      meta: { lastUpdated: updatedAt.toISOString() },
      extension: [
        { url: SEX_AT_BIRTH_EXTENSION, valueCode: d.sex_at_birth },
        {
          url: GENDER_IDENTITY_EXTENSION,
          valueCodeableConcept: {
            coding: [{ system: GENDER_IDENTITY_SYSTEM, code: d.gender_identity }],
            ...(d.gender_identity_text === undefined ? {} : { text: d.gender_identity_text }),
          },
        },
        { url: CONSENT_TO_CONTACT_EXTENSION, valueBoolean: d.consent_to_contact },
      ],
      active,
      name: [
        {
          use: 'official',
          family: d.family_name,
          given: d.middle_name === undefined ? [d.given_name] : [d.given_name, d.middle_name],
        },
      ],
      ...(d.email === undefined && d.phone_e164 === undefined
        ? {}
        : {
            telecom: [
              ...(d.email === undefined ? [] : [{ system: 'email', value: d.email }]),
              ...(d.phone_e164 === undefined ? [] : [{ system: 'phone', value: d.phone_e164 }]),
            ],
          }),
      birthDate: d.date_of_birth,
      ...(address === undefined
        ? {}
        : {
            address: [
              {
                line: address.line2 === undefined ? [address.line1] : [address.line1, address.line2],
                city: address.city,
                ...(address.state_province === undefined ? {} : { state: address.state_province }),
                ...(address.postal_code === undefined ? {} : { postalCode: address.postal_code }),
                ...(address.country === undefined ? {} : { country: address.country }),
              },
            ],
          }),
      ...(d.preferred_language === undefined
        ? {}
        : {
            communication: [
              {
                language: { coding: [{ system: BCP47_SYSTEM, code: d.preferred_language }] },
                preferred: true,
              },
            ],
          }),
    },
    { lineWidth: 80 },
  );
}

type Mapping = Readonly<Record<string, unknown>>;

const isMapping = (value: unknown): value is Mapping =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const mappings = (value: unknown): Mapping[] => (Array.isArray(value) ? value.filter(isMapping) : []);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function extension(patient: Mapping, url: string): Mapping | undefined {
  return mappings(patient.extension).find((e) => e.url === url);
}

function readAddress(value: Mapping | undefined): Address | undefined {
  if (value === undefined) return undefined;
  const lines = Array.isArray(value.line) ? value.line.filter((l): l is string => typeof l === 'string') : [];
  const line1 = lines[0];
  const city = text(value.city);
  if (line1 === undefined || city === undefined) return undefined;
  const optional = (key: keyof Address, v: unknown) => (text(v) === undefined ? {} : { [key]: text(v) });
  return {
    line1,
    ...(lines.length > 1 ? { line2: lines.slice(1).join(', ') } : {}),
    city,
    ...optional('state_province', value.state),
    ...optional('postal_code', value.postalCode),
    ...optional('country', value.country),
  };
}

/** Reads a parsed `patient.yaml`; undefined when it is not a FHIR Patient. */
export function readPatient(patient: Mapping | undefined): StoredPatient | undefined {
  if (patient?.resourceType !== 'Patient') return undefined;
  const names = mappings(patient.name);
  const name = names.find((n) => n.use === 'official') ?? names[0];
  const givenNames = Array.isArray(name?.given)
    ? name.given.filter((g): g is string => typeof g === 'string')
    : [];
  const telecom = mappings(patient.telecom);
  const contact = (system: string) => text(telecom.find((t) => t.system === system)?.value);
  const sex = text(extension(patient, SEX_AT_BIRTH_EXTENSION)?.valueCode);
  const identity = extension(patient, GENDER_IDENTITY_EXTENSION)?.valueCodeableConcept;
  const identityCode = isMapping(identity)
    ? text(mappings(identity.coding).find((c) => c.system === GENDER_IDENTITY_SYSTEM)?.code)
    : undefined;
  const identityText = isMapping(identity) ? text(identity.text) : undefined;
  const consent = extension(patient, CONSENT_TO_CONTACT_EXTENSION)?.valueBoolean;
  const language = mappings(patient.communication)
    .filter((c) => c.preferred === true)
    .flatMap((c) => (isMapping(c.language) ? mappings(c.language.coding) : []))
    .find((c) => c.system === BCP47_SYSTEM)?.code;
  const email = contact('email');
  const phone = contact('phone');
  const address = readAddress(mappings(patient.address)[0]);
  return {
    given_name: givenNames[0] ?? '',
    ...(givenNames.length > 1 ? { middle_name: givenNames.slice(1).join(' ') } : {}),
    family_name: text(name?.family) ?? '',
    date_of_birth: text(patient.birthDate) ?? null,
    sex_at_birth: SEX_AT_BIRTH.includes(sex as SexAtBirth) ? (sex as SexAtBirth) : null,
    gender_identity: GENDER_IDENTITY.includes(identityCode as GenderIdentity)
      ? (identityCode as GenderIdentity)
      : null,
    ...(identityText === undefined ? {} : { gender_identity_text: identityText }),
    ...(email === undefined ? {} : { email }),
    ...(phone === undefined ? {} : { phone_e164: phone }),
    ...(address === undefined ? {} : { address }),
    ...(typeof language === 'string' ? { preferred_language: language } : {}),
    consent_to_contact: consent === true,
    active: patient.active !== false,
  };
}

/** The Patient API fields that differ between two stored versions (`is_deleted` for `active`). */
export function changedPatientFields(
  before: StoredPatient | undefined,
  after: StoredPatient | undefined,
): string[] {
  const fields = new Set<string>([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const changed: string[] = [];
  for (const field of [...fields].sort()) {
    const a = (before as Record<string, unknown> | undefined)?.[field];
    const b = (after as Record<string, unknown> | undefined)?.[field];
    if (JSON.stringify(a) !== JSON.stringify(b)) changed.push(field === 'active' ? 'is_deleted' : field);
  }
  return changed;
}

/**
 * `patient.yaml` with its `active` flag (soft deletion) and `meta.lastUpdated` changed and
 * everything else exactly as it was, whoever wrote it.
 */
export function withActive(text: string, active: boolean, updatedAt: Date): string {
  const document = parseDocument(text);
  document.set('active', active);
  document.setIn(['meta', 'lastUpdated'], updatedAt.toISOString());
  return document.toString();
}
