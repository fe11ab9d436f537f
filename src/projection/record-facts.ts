// Reading the facts a projection needs out of the record's own files (already parsed, see
// yaml-mapping.ts): the patient row from the FHIR Patient, and the links between the three
// repositories from EHR_STATUS and COORDINATION_STATUS. Malformed files yield nothing rather
// than a broken row.
import { readPatient } from '../core/patient/fhir-patient.js';
import type { YamlMapping } from '../core/yaml-mapping.js';

export interface PatientFacts {
  readonly familyName: string;
  readonly givenNames: string;
  readonly birthDate: string | null;
  readonly email: string | null;
  readonly phone: string | null;
  readonly deleted: boolean;
}

/** Lower-cased, accent-insensitive key for prefix search on names. */
export function nameKey(name: string): string {
  return name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

export function patientFacts(mapping: YamlMapping | undefined): PatientFacts | undefined {
  const patient = readPatient(mapping);
  if (patient === undefined) return undefined;
  return {
    familyName: patient.family_name,
    givenNames:
      patient.middle_name === undefined ? patient.given_name : `${patient.given_name} ${patient.middle_name}`,
    birthDate: patient.date_of_birth,
    email: patient.email?.toLowerCase() ?? null,
    phone: patient.phone_e164 ?? null,
    deleted: !patient.active,
  };
}

/** The demographics id an EHR_STATUS points at. */
export function ehrSubject(status: YamlMapping | undefined): string | undefined {
  const subject = status?.subject as { external_ref?: { id?: { value?: unknown } } } | undefined;
  const value = subject?.external_ref?.id?.value;
  return typeof value === 'string' ? value : undefined;
}

/** The clinical id a COORDINATION_STATUS belongs to. */
export function coordinationClinicalId(status: YamlMapping | undefined): string | undefined {
  const value = status?.clinical_id;
  return typeof value === 'string' ? value : undefined;
}
