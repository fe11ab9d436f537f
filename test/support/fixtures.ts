// Synthetic people and places for tests. None of these are real.
import { stringify } from 'yaml';
export const clinician = {
  name: 'Dr Test Clinician',
  email: 'test.clinician@example.invalid',
  role: 'Clinician',
  registrations: [{ authority: 'GMC', number: '0000001' }],
};

export const demographics = {
  givenNames: ['Testy', 'Synthia'],
  familyName: 'Fixture',
  birthDate: '1970-01-02',
};

export const careLocation = 'Synthetic General Hospital';

/** A FHIR Patient as `patient.yaml` holds it, for tests that rewrite demographics directly. */
export function patientYaml(
  id: string,
  family: string,
  given: string[],
  extra: Record<string, unknown> = {},
): string {
  return stringify({
    resourceType: 'Patient',
    id,
    name: [{ use: 'official', family, given }],
    birthDate: '1970-01-02',
    ...extra,
  });
}
