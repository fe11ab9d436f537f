// Synthetic people and places for tests. None of these are real.
import { stringify } from 'yaml';
export const clinician = {
  name: 'Dr Test Clinician',
  email: 'test.clinician@example.invalid',
  role: 'Clinician',
  registrations: [{ authority: 'GMC', number: '0000001' }],
};

export const demographics = {
  given_name: 'Testy',
  middle_name: 'Synthia',
  family_name: 'Fixture',
  date_of_birth: '1970-01-02',
  sex_at_birth: 'female',
  gender_identity: 'woman',
};

/** Demographics for a named synthetic person (names without digits, as the rules require). */
export function person(family: string, given: string, dateOfBirth = '1970-01-01') {
  return {
    given_name: given,
    family_name: family,
    date_of_birth: dateOfBirth,
    sex_at_birth: 'unknown',
    gender_identity: 'undisclosed',
  };
}

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

/** The two participants of a test thread: the clinician and the patient's own app (test keys). */
export const threadParticipants = [
  { participant_id: 'test-clinician', role: 'clinician', display_name: 'Dr Ada Synthetic' },
  { participant_id: 'test-patient-app', role: 'patient', display_name: 'Testy Fixture' },
];

/** An appointment body (the care-event input) on `day`, 09:00 to 09:30 UTC, at `location`. */
export function appointmentOn(day: string, location: string, status = 'booked') {
  return {
    status,
    start: `${day}T09:00:00Z`,
    end: `${day}T09:30:00Z`,
    service_type: 'Diabetes review',
    care_location: location,
    participants: [{ actor_id: 'test-clinician', display_name: 'Dr Ada Synthetic', role: 'practitioner' }],
  };
}
