// The projection reads YAML with js-yaml (yaml-mapping.ts) while the record's files are written
// with the `yaml` package: the two must agree on every value, or a reindex would project
// something other than what the file says. Checked on the files the record store writes, on
// scalars whose type differs between YAML 1.1 and 1.2, and on random values written by `yaml`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { parseYamlMapping, renderRecordYaml } from '../src/core/yaml-mapping.js';
import { renderInitialCoordinationStatus } from '../src/core/record/coordination-status.js';
import { renderEhrStatus } from '../src/core/record/ehr-status.js';
import { parseDemographics } from '../src/core/patient/demographics.js';
import { renderPatient } from '../src/core/patient/fhir-patient.js';
import type { RecordId } from '../src/core/ids/record-id.js';
import { patientYaml } from './support/fixtures.js';
import {
  readLetterComposition,
  renderLetterComposition,
  type LetterComposition,
} from '../src/core/clinical/letter.js';
import type { TimestampId } from '../src/core/ids/timestamp-id.js';

const clinicalId = 'c'.repeat(32) as RecordId;
const demographicsId = 'd'.repeat(32) as RecordId;
const coordinationId = 'e'.repeat(32) as RecordId;

function assertAgree(text: string, label: string): void {
  const parsed = parseYamlMapping(text);
  assert.ok(parsed !== undefined, `${label}: parsed as a mapping`);
  assert.deepEqual(parsed, parse(text), label);
}

test('the files the record store writes read the same with either parser', () => {
  assertAgree(
    renderPatient(
      demographicsId,
      parseDemographics({
        given_name: 'Testy',
        middle_name: 'Synthia',
        family_name: "O'Fixture-Ñúñez",
        date_of_birth: '1970-01-02',
        sex_at_birth: 'intersex',
        gender_identity: 'other',
        gender_identity_text: 'Two-spirit',
        email: 'Testy@Example.org',
        phone_e164: '+1 202 555 0123',
        address: {
          line1: '1 Synthetic Street',
          line2: 'Flat 2',
          city: 'Testville',
          postal_code: 'SW1A 1AA',
          country: 'gb',
        },
        preferred_language: 'en-gb',
        consent_to_contact: true,
      }),
      new Date(0),
    ),
    'patient.yaml',
  );
  assertAgree(renderEhrStatus(clinicalId, demographicsId, 'vpr'), 'ehr_status.yaml');
  assertAgree(renderInitialCoordinationStatus(coordinationId, clinicalId), 'COORDINATION_STATUS.yaml');
  assertAgree(
    patientYaml(demographicsId, 'Fixture', ['Testy'], {
      active: false,
      telecom: [{ system: 'phone', value: '+447700900123' }],
    }),
    'a rewritten patient.yaml',
  );
});

test('a letter composition reads back as it was written, and refuses aliases and duplicate keys', () => {
  const letter: LetterComposition = {
    letterId: '20261203T070000.000Z-01234567-89ab-4def-8123-456789abcdef' as TimestampId,
    title: 'Clinic letter: review #2 (yes: no)',
    composer: {
      name: 'Dr Testy Fixture',
      role: 'Consultant',
      email: 'testy@example.org',
      registrations: [{ authority: 'GMC', number: '0000001' }],
    },
    careLocation: 'Synthetic Clinic',
    startTime: '2026-12-03T07:00:00.000Z',
    hasBody: true,
    clinicalLists: [
      {
        kind: 'diagnoses',
        name: 'Diagnoses',
        items: [
          { text: 'Hypertension', code: { terminology: 'SNOMED-CT', value: '38341003' } },
          { text: '1.0' },
        ],
        narrative: 'Stable *on* treatment',
      },
    ],
    attachments: [
      {
        hash_algorithm: 'sha256',
        hash: 'a'.repeat(64),
        relative_path: `files/sha256/aa/${'a'.repeat(64)}`,
        size_bytes: 12,
        media_type: 'application/pdf',
        original_filename: 'result.pdf',
        stored_at: '2026-12-03T07:00:01.000Z',
      },
    ],
    references: '20261101T070000.000Z-fedcba98-7654-4321-8edc-ba9876543210' as TimestampId,
    status: 'signed',
    signedOff: {
      name: 'Dr Testy Fixture',
      role: 'Consultant',
      registrations: [],
      at: '2026-12-03T07:05:00.000Z',
    },
  };
  const text = renderLetterComposition(letter);
  assertAgree(text, 'composition.yaml');
  assert.deepEqual(readLetterComposition(text), letter);
  assert.equal(
    readLetterComposition(`${text}title_alias: &t x\nagain: *t\n`),
    undefined,
    'an alias is refused',
  );
  assert.equal(readLetterComposition(`${text}rm_version: 9.9.9\n`), undefined, 'a duplicate key is refused');
});

test('scalars that YAML 1.1 and 1.2 type differently resolve as the yaml package resolves them', () => {
  const text = [
    'date: 2001-12-14',
    'stamp: 2001-12-14t21:59:43.10-05:00',
    'yes_word: yes',
    'no_word: no',
    'on_word: on',
    'octal_11: 0o14',
    'octal_12: 014',
    'sexagesimal: 1:20',
    'float: 1.50',
    'exp: 6.8523015e+5',
    'infinity: .inf',
    'not_a_number: .nan',
    'tilde: ~',
    'empty:',
    'bools: [true, false, True, FALSE]',
    'quoted: "0123"',
    'block: |',
    '  line one',
    '  line two',
    'folded: >',
    '  folded',
    '  text',
    '',
  ].join('\n');
  assertAgree(text, 'edge scalars');
});

test('anything the record writer writes, js-yaml reads back the same', () => {
  const scalar = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    // js-yaml reads -0 as 0, the one disagreement found; no record file holds a negative zero.
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? 0 : v)),
    fc.constantFrom('2020-01-01', 'yes', 'no', '0o17', '017', '1e3', '~', 'null', '---', '# not a comment'),
    // Strings spelt like numbers: js-yaml reads `0b1`, `-0xA` and `+0o7` as integers, `yaml` not.
    fc.constantFrom('0b101', '-0b1', '+0b0', '-0xA', '+0x1f', '-0o7', '+0o17', '0x1F', '-0', '+.5'),
    fc.stringMatching(/^[-+]?[0-9.]{0,3}[box]?[0-9a-fA-F_.eE+-]{0,4}$/),
  );
  const value = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      scalar,
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(fc.string({ minLength: 1 }), tie('node'), { maxKeys: 4 }),
    ),
  })).node;
  fc.assert(
    fc.property(fc.dictionary(fc.string({ minLength: 1 }), value, { minKeys: 1, maxKeys: 6 }), (mapping) => {
      const text = renderRecordYaml(mapping);
      assert.deepEqual(parseYamlMapping(text), parse(text));
      assert.deepEqual(parse(text), JSON.parse(JSON.stringify(mapping)), 'the writer keeps every value');
    }),
    { numRuns: 300 },
  );
});

test('what is not a mapping, or not YAML, is no mapping', () => {
  assert.equal(parseYamlMapping('- a\n- b\n'), undefined);
  assert.equal(parseYamlMapping('just text'), undefined);
  assert.equal(parseYamlMapping('a: [unclosed\n'), undefined);
  assert.equal(parseYamlMapping('a: 1\na: 2\n'), undefined, 'a duplicate key is an error in both');
  assert.equal(parseYamlMapping(''), undefined);
});
