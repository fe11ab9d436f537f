// Reading the facts a projection needs out of the record's own files (already parsed, see
// yaml-mapping.ts): the patient row from the FHIR Patient, and the links between the three
// repositories from EHR_STATUS and COORDINATION_STATUS. Malformed files yield nothing rather
// than a broken row.
import type { YamlMapping } from './yaml-mapping.js';

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

export function patientFacts(patient: YamlMapping | undefined): PatientFacts | undefined {
  if (patient?.resourceType !== 'Patient') return undefined;
  const names = Array.isArray(patient.name) ? (patient.name as Record<string, unknown>[]) : [];
  const name = names.find((n) => n.use === 'official') ?? names[0];
  const family = typeof name?.family === 'string' ? name.family : '';
  const given = Array.isArray(name?.given)
    ? (name.given as unknown[]).filter((g) => typeof g === 'string')
    : [];
  const telecom = Array.isArray(patient.telecom) ? (patient.telecom as Record<string, unknown>[]) : [];
  const contact = (system: string) => {
    const value = telecom.find((t) => t.system === system)?.value;
    return typeof value === 'string' ? value : null;
  };
  const birthDate = typeof patient.birthDate === 'string' ? patient.birthDate : null;
  return {
    familyName: family,
    givenNames: given.join(' '),
    birthDate,
    email: contact('email')?.toLowerCase() ?? null,
    phone: contact('phone'),
    deleted: patient.active === false,
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
