// Synthetic people and places for tests. None of these are real.
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
