// Every validation rule of the Patient API's data model, and the FHIR Patient round trip.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { isVprError } from '../errors.js';
import type { RecordId } from '../ids/record-id.js';
import { parseDemographics, type Demographics } from './demographics.js';
import { readPatient, renderPatient } from './fhir-patient.js';

const today = new Date('2026-11-23T12:00:00Z');
const minimal = {
  given_name: 'Testy',
  family_name: 'Fixture',
  date_of_birth: '1970-01-02',
  sex_at_birth: 'female',
  gender_identity: 'woman',
};
const full = {
  ...minimal,
  middle_name: '  Anne   Marie ',
  gender_identity: 'other',
  gender_identity_text: 'Demigirl',
  email: ' Testy.Fixture@Example.ORG ',
  phone_e164: '+1 (202) 555-0123',
  address: {
    line1: '1  Synthetic Street',
    line2: 'Flat 2',
    city: 'Testville',
    state_province: 'Testshire',
    postal_code: 'sw1a 1aa',
    country: 'gb',
  },
  preferred_language: 'en-gb',
  consent_to_contact: true,
};

function refuses(input: unknown, field: string, message: RegExp): void {
  assert.throws(
    () => parseDemographics(input, '', [], today),
    (error: unknown) => {
      assert.ok(isVprError(error, 'INVALID_INPUT'), String(error));
      assert.deepEqual(error.details, { field });
      assert.match(error.message, message);
      return true;
    },
    `${field} ${message}`,
  );
}

test('valid demographics come back in canonical form', () => {
  assert.deepEqual(parseDemographics(minimal, '', [], today), { ...minimal, consent_to_contact: false });
  assert.deepEqual(parseDemographics(full, '', [], today), {
    ...minimal,
    middle_name: 'Anne Marie',
    gender_identity: 'other',
    gender_identity_text: 'Demigirl',
    email: 'testy.fixture@example.org',
    phone_e164: '+12025550123',
    address: {
      line1: '1 Synthetic Street',
      line2: 'Flat 2',
      city: 'Testville',
      state_province: 'Testshire',
      postal_code: 'SW1A 1AA',
      country: 'GB',
    },
    preferred_language: 'en-GB',
    consent_to_contact: true,
  });
  assert.deepEqual(
    parseDemographics({ ...minimal, email: null, address: null, middle_name: null }, '', [], today),
    { ...minimal, consent_to_contact: false },
    'null means not given',
  );
  assert.equal(
    parseDemographics({ ...minimal, family_name: 'Ó Briain-Ñúñez' }, '', [], today).family_name,
    'Ó Briain-Ñúñez',
  );
  assert.equal(parseDemographics({ ...minimal, given_name: '李' }, '', [], today).given_name, '李');
});

test('each rule refuses with the field path and says why, never echoing the value', () => {
  refuses({ ...minimal, given_name: 'Test4' }, 'given_name', /must not contain digits/);
  refuses({ ...minimal, family_name: '   ' }, 'family_name', /must not be empty/);
  refuses({ ...minimal, family_name: 'x'.repeat(101) }, 'family_name', /at most 100/);
  refuses({ ...minimal, middle_name: '--' }, 'middle_name', /must contain a letter/);
  refuses({ ...minimal, given_name: 42 }, 'given_name', /must be a string/);
  refuses({ ...minimal, given_name: 'Te\u0007sty' }, 'given_name', /control characters/);
  refuses({ ...minimal, date_of_birth: '2026-11-23' }, 'date_of_birth', /in the past/);
  refuses({ ...minimal, date_of_birth: '1906-11-22' }, 'date_of_birth', /no more than 120 years/);
  refuses({ ...minimal, date_of_birth: '1970-02-30' }, 'date_of_birth', /real calendar date/);
  refuses({ ...minimal, date_of_birth: '02/01/1970' }, 'date_of_birth', /YYYY-MM-DD/);
  refuses({ ...minimal, sex_at_birth: 'F' }, 'sex_at_birth', /one of female, male, intersex/);
  refuses(
    { ...minimal, gender_identity: 'other' },
    'gender_identity_text',
    /required when gender_identity is other/,
  );
  refuses(
    { ...minimal, gender_identity_text: 'x' },
    'gender_identity_text',
    /only for gender_identity other/,
  );
  refuses({ ...minimal, email: 'not-an-email' }, 'email', /email address/);
  refuses({ ...minimal, email: 'a@b' }, 'email', /email address/);
  refuses({ ...minimal, phone_e164: '02025550123' }, 'phone_e164', /starting with \+/);
  refuses({ ...minimal, phone_e164: '+1 000 000 0000' }, 'phone_e164', /valid phone number/);
  refuses({ ...minimal, address: { city: 'Testville' } }, 'address.line1', /must be a string/);
  refuses(
    { ...minimal, address: { line1: 'a', city: 'b', postal_code: 'SW1A 1AA' } },
    'address.country',
    /required when a postal code/,
  );
  refuses(
    { ...minimal, address: { line1: 'a', city: 'b', postal_code: '12345', country: 'GB' } },
    'address.postal_code',
    /not a postal code of GB/,
  );
  refuses(
    { ...minimal, address: { line1: 'a', city: 'b', country: 'XX' } },
    'address.country',
    /not an ISO 3166-1/,
  );
  refuses(
    { ...minimal, address: { line1: 'a', city: 'b', country: 'GBR' } },
    'address.country',
    /two-letter/,
  );
  refuses(
    { ...minimal, address: { line1: 'a', city: 'b', planet: 'Earth' } },
    'address.planet',
    /not a known field/,
  );
  refuses({ ...minimal, preferred_language: 'english please' }, 'preferred_language', /BCP 47/);
  refuses({ ...minimal, consent_to_contact: 'yes' }, 'consent_to_contact', /true or false/);
  refuses({ ...minimal, nickname: 'Tes' }, 'nickname', /not a known field/);
  refuses([minimal], 'body', /must be an object/);
  assert.doesNotThrow(() => parseDemographics({ ...minimal, patient_id: 'x' }, '', ['patient_id'], today));
});

test('a FHIR Patient written from demographics reads back the same, soft deletion included', () => {
  const id = 'd'.repeat(32) as RecordId;
  for (const input of [minimal, full]) {
    const demographics: Demographics = parseDemographics(input, '', [], today);
    for (const active of [true, false]) {
      const resource = parse(renderPatient(id, demographics, today, active)) as Record<string, unknown>;
      assert.equal(resource.resourceType, 'Patient');
      assert.equal(resource.id, id);
      assert.deepEqual(readPatient(resource), { ...demographics, active });
    }
  }
});

test('a Patient written by hand or by an older version reads as what it holds', () => {
  assert.deepEqual(
    readPatient({
      resourceType: 'Patient',
      name: [{ family: 'Old', given: ['One', 'Two', 'Three'] }],
      birthDate: '1950-05-05',
    }),
    {
      given_name: 'One',
      middle_name: 'Two Three',
      family_name: 'Old',
      date_of_birth: '1950-05-05',
      sex_at_birth: null,
      gender_identity: null,
      consent_to_contact: false,
      active: true,
    },
  );
  assert.equal(readPatient({ resourceType: 'Observation' }), undefined);
  assert.equal(readPatient(undefined), undefined);
});
