// The synthetic population: what `vpr generate` writes, as plain request bodies, decided by the
// seed and the patient's number alone (never by timing or order), so that a seed always yields
// the same people and the same records however many workers write them. Nobody here is real:
// names and addresses come from Faker's locale data, emails use the reserved example domains,
// phone numbers are valid numbers of the country built from the patient's number.
//
// Most patients are small (a letter or two, a handful of readings); a few have long histories
// with hundreds of entries, as in any practice list. Times are spread over the years before
// `asOf`, so a seed and an `asOf` fix every byte of the content.
import {
  Faker,
  base,
  de,
  en,
  en_AU,
  en_CA,
  en_GB,
  en_IE,
  en_IN,
  en_US,
  es,
  fr,
  it,
  nl,
} from '@faker-js/faker';
import type { LocaleDefinition } from '@faker-js/faker';
import type { CountryCode } from 'libphonenumber-js';
import examples from 'libphonenumber-js/mobile/examples';
import { getExampleNumber, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { VprError } from '../core/errors.js';
import { parseDemographics } from '../core/patient/demographics.js';
import {
  CARE_LOCATIONS,
  CONDITIONS,
  LAB_TESTS,
  LETTER_FINDINGS,
  LETTER_OPENINGS,
  LETTER_PLANS,
  MESSAGE_BODIES,
  type Condition,
} from './clinical-vocabulary.js';

/** A member of staff the records are written by (an API key of its own in local mode). */
export interface StaffMember {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly role: string;
  readonly registrations: readonly { authority: string; number: string }[];
  readonly careLocation: string;
  /** The role a thread participant of this member takes. */
  readonly threadRole: 'clinician' | 'careadministrator';
}

/** One write, as the REST API takes it; `staff` is the index of the member who makes it. */
export type PlanStep =
  | {
      readonly kind: 'letter';
      readonly staff: number;
      readonly body: Record<string, unknown>;
      /** A synthetic PDF sent with the letter (multipart), if any. */
      readonly attachment?: { readonly name: string; readonly bytes: Buffer };
      /** Signed off later, as a commit of its own (a draft until then). */
      readonly signOffLater: boolean;
    }
  | {
      readonly kind: 'entry';
      readonly staff: number;
      readonly entryKind: string;
      readonly body: Record<string, unknown>;
    }
  | {
      readonly kind: 'thread';
      readonly staff: number;
      readonly body: Record<string, unknown>;
      readonly replies: readonly { readonly staff: number; readonly body: string }[];
    }
  | {
      readonly kind: 'care-event';
      readonly staff: number;
      readonly collection: 'appointments' | 'encounters' | 'referrals';
      readonly body: Record<string, unknown>;
    };

export interface PatientPlan {
  readonly index: number;
  readonly demographics: Record<string, unknown>;
  readonly steps: readonly PlanStep[];
}

interface Country {
  readonly code: CountryCode;
  readonly locale: LocaleDefinition;
  readonly language: string;
  readonly weight: number;
}

const COUNTRIES: readonly Country[] = [
  { code: 'GB', locale: en_GB, language: 'en-GB', weight: 35 },
  { code: 'US', locale: en_US, language: 'en-US', weight: 15 },
  { code: 'DE', locale: de, language: 'de-DE', weight: 8 },
  { code: 'FR', locale: fr, language: 'fr-FR', weight: 8 },
  { code: 'ES', locale: es, language: 'es-ES', weight: 6 },
  { code: 'IT', locale: it, language: 'it-IT', weight: 6 },
  { code: 'NL', locale: nl, language: 'nl-NL', weight: 5 },
  { code: 'IE', locale: en_IE, language: 'en-IE', weight: 5 },
  { code: 'AU', locale: en_AU, language: 'en-AU', weight: 5 },
  { code: 'IN', locale: en_IN, language: 'en-IN', weight: 4 },
  { code: 'CA', locale: en_CA, language: 'en-CA', weight: 3 },
];

/** How big a patient's record is: most are small, a few very large. */
const SIZES = [
  { weight: 850, letters: [0, 1], visits: [1, 2], threads: [0, 1], replies: [0, 1], appointments: [0, 1] },
  { weight: 120, letters: [1, 3], visits: [2, 6], threads: [0, 2], replies: [1, 3], appointments: [1, 2] },
  { weight: 27, letters: [4, 10], visits: [8, 24], threads: [1, 3], replies: [2, 5], appointments: [2, 5] },
  { weight: 3, letters: [10, 20], visits: [60, 120], threads: [2, 5], replies: [3, 8], appointments: [4, 8] },
] as const;

/** The first patient numbers, and the seed, are mixed into one 32-bit Faker seed per patient. */
function mix(seed: number, index: number, salt: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35) ^ salt) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const fakers = new Map<CountryCode, Faker>();
function fakerFor(country: Country): Faker {
  let faker = fakers.get(country.code);
  if (faker === undefined) {
    faker = new Faker({ locale: [country.locale, en, base] });
    fakers.set(country.code, faker);
  }
  return faker;
}

const DAY_MS = 86_400_000;

/** The staff the population's records are written by, the same for every seed. */
export function staffOf(seed: number): StaffMember[] {
  const faker = fakerFor(COUNTRIES[0]!);
  faker.seed(mix(seed, -1, 0x5747));
  const staff: StaffMember[] = [];
  for (let i = 0; i < 16; i += 1) {
    const given = faker.person.firstName();
    const family = faker.person.lastName();
    const clinician = i % 4 !== 3;
    const slug = `${given}.${family}`.toLowerCase().replace(/[^a-z.]/g, '');
    staff.push({
      id: `staff-${i + 1}`,
      name: clinician ? `Dr ${given} ${family}` : `${given} ${family}`,
      email: `${slug}.${i + 1}@example.org`,
      role: clinician ? (i % 2 === 0 ? 'Consultant Physician' : 'General Practitioner') : 'Care Coordinator',
      registrations: clinician ? [{ authority: 'GMC', number: String(7_100_000 + i) }] : [],
      careLocation: CARE_LOCATIONS[i % CARE_LOCATIONS.length]!,
      threadRole: clinician ? 'clinician' : 'careadministrator',
    });
  }
  return staff;
}

function weighted<T extends { readonly weight: number }>(faker: Faker, items: readonly T[]): T {
  return faker.helpers.weightedArrayElement(items.map((value) => ({ weight: value.weight, value })));
}

function between(faker: Faker, [min, max]: readonly [number, number]): number {
  return faker.number.int({ min, max });
}

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/** A valid mobile number of the country whose last six digits are the patient's number. */
function phoneOf(country: CountryCode, index: number): string | undefined {
  const example = getExampleNumber(country, examples);
  if (example === undefined) return undefined;
  const national = example.nationalNumber;
  const digits = String(index % 1_000_000).padStart(6, '0');
  const candidate = `+${example.countryCallingCode}${national.slice(0, national.length - 6)}${digits}`;
  const phone = parsePhoneNumberFromString(candidate);
  return phone?.isValid() === true ? phone.number : undefined;
}

/** Removes the optional field a validation error names; false if it names none that is. */
function dropField(demographics: Record<string, unknown>, field: string): boolean {
  const [top, inner] = field.split('.');
  if (top === 'address' && inner !== undefined && inner !== 'line1' && inner !== 'city') {
    const address = { ...(demographics.address as Record<string, unknown>) };
    delete address[inner];
    if (inner === 'country') delete address.postal_code;
    demographics.address = address;
    return true;
  }
  if (top === 'email' || top === 'phone_e164' || top === 'address' || top === 'middle_name') {
    delete demographics[top];
    return true;
  }
  return false;
}

/** Demographics the service accepts: checked with its own rules, an optional field dropped if not. */
function acceptable(
  demographics: Record<string, unknown>,
  asOf: Date,
  index: number,
): Record<string, unknown> {
  for (let attempt = 0; attempt < 6; attempt += 1) {
    try {
      parseDemographics(demographics, '', [], asOf);
      return demographics;
    } catch (error) {
      const field = error instanceof VprError ? (error.details?.field as string | undefined) : undefined;
      if (field === undefined || !dropField(demographics, field)) {
        demographics.given_name = 'Synthetic';
        demographics.family_name = `Patient ${'abcdefghij'[index % 10]}`;
      }
    }
  }
  return demographics;
}

function demographicsOf(faker: Faker, country: Country, index: number, asOf: Date): Record<string, unknown> {
  const sex = faker.helpers.weightedArrayElement([
    { weight: 49, value: 'female' as const },
    { weight: 49, value: 'male' as const },
    { weight: 1, value: 'intersex' as const },
    { weight: 1, value: 'undisclosed' as const },
  ]);
  const fakerSex = sex === 'female' || sex === 'male' ? sex : undefined;
  const given = faker.person.firstName(fakerSex);
  const family = faker.person.lastName(fakerSex);
  const gender = faker.helpers.weightedArrayElement([
    { weight: 96, value: sex === 'female' ? 'woman' : sex === 'male' ? 'man' : 'undisclosed' },
    { weight: 2, value: 'nonbinary' },
    { weight: 2, value: 'undisclosed' },
  ]);
  const born = faker.date.birthdate({ mode: 'age', min: 0, max: 98, refDate: asOf });
  const slug = `${given}.${family}`
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z.]/g, '');
  const demographics: Record<string, unknown> = {
    given_name: given,
    ...(faker.number.int(9) === 0 ? { middle_name: faker.person.middleName(fakerSex) } : {}),
    family_name: family,
    date_of_birth: born.toISOString().slice(0, 10),
    sex_at_birth: sex,
    gender_identity: gender,
    preferred_language: country.language,
    consent_to_contact: faker.datatype.boolean(0.7),
  };
  if (faker.number.int(99) < 85) {
    const domain = faker.helpers.arrayElement(['example.org', 'example.com', 'example.net']);
    demographics.email = `${slug || 'patient'}.${index}@${domain}`;
  }
  if (faker.number.int(99) < 90) {
    const phone = phoneOf(country.code, index);
    if (phone !== undefined) demographics.phone_e164 = phone;
  }
  if (faker.number.int(99) < 95) {
    demographics.address = {
      line1: faker.location.streetAddress(),
      city: faker.location.city(),
      postal_code: faker.location.zipCode(),
      country: country.code,
    };
  }
  return acceptable(demographics, asOf, index);
}

function conditionsOf(faker: Faker, age: number): Condition[] {
  const ageFactor = age < 18 ? 0.2 : age < 45 ? 0.6 : age < 65 ? 1.3 : 2;
  return CONDITIONS.filter((c) => faker.number.float({ min: 0, max: 1000 }) < c.perThousand * ageFactor);
}

/** An ISO instant on a weekday working hour, `daysBefore` days before `asOf`. */
function visitTime(faker: Faker, asOf: Date, daysBefore: number): string {
  const day = new Date(asOf.getTime() - daysBefore * DAY_MS);
  day.setUTCHours(faker.number.int({ min: 8, max: 16 }), faker.helpers.arrayElement([0, 15, 30, 45]), 0, 0);
  return day.toISOString().replace('.000Z', 'Z');
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? name);
}

function labResult(faker: Faker, testName: string, at: string): Record<string, unknown> {
  const test = LAB_TESTS.find((t) => t.name === testName)!;
  const span = test.high - test.low;
  const value = round(
    faker.number.float({ min: test.low - span * 0.3, max: test.high + span * 0.5 }),
    test.decimals,
  );
  return {
    recorded_at: at,
    test_name: test.name,
    test_code: { system: 'http://loinc.org', code: test.loinc },
    value_quantity: { value, unit: test.unit },
    reference_range: { low: test.low, high: test.high, unit: test.unit },
    interpretation: value < test.low ? 'low' : value > test.high ? 'high' : 'normal',
    specimen: test.specimen,
  };
}

function syntheticPdf(faker: Faker, title: string): Buffer {
  const lines = [title, `Reference ${faker.string.alphanumeric({ length: 10, casing: 'upper' })}`];
  for (let i = 0; i < faker.number.int({ min: 4, max: 12 }); i += 1) {
    lines.push(`${faker.helpers.arrayElement(LAB_TESTS).name}: see the structured results`);
  }
  const text = lines
    .map((l, i) => `BT /F1 11 Tf 56 ${780 - i * 16} Td (${l.replace(/[()\\]/g, '')}) Tj ET`)
    .join('\n');
  return Buffer.from(
    `%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n` +
      `3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >> endobj\n` +
      `4 0 obj << /Length ${text.length} >> stream\n${text}\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n`,
  );
}

/** The patient with this number in the population of this seed: demographics and every write. */
export function planPatient(
  seed: number,
  index: number,
  asOf: Date,
  staffList: readonly StaffMember[] = staffOf(seed),
): PatientPlan {
  const countryPicker = fakerFor(COUNTRIES[0]!);
  countryPicker.seed(mix(seed, index, 1));
  const country = weighted(countryPicker, COUNTRIES);
  const faker = fakerFor(country);
  faker.seed(mix(seed, index, 2));
  const demographics = demographicsOf(faker, country, index, asOf);
  const age = (asOf.getTime() - Date.parse(String(demographics.date_of_birth))) / (365.25 * DAY_MS);
  const conditions = conditionsOf(faker, age);
  const size = weighted(faker, SIZES);
  const clinicians = staffList.flatMap((member, i) => (member.threadRole === 'clinician' ? [i] : []));
  const admins = staffList.flatMap((member, i) => (member.threadRole === 'clinician' ? [] : [i]));
  const anyClinician = () => faker.helpers.arrayElement(clinicians);
  const gp = anyClinician();
  const who = (i: number) => ({ id: staffList[i]!.id, name: staffList[i]!.name });
  const given = String(demographics.given_name);
  const patientName = `${given} ${String(demographics.family_name)}`;
  const pronoun =
    demographics.sex_at_birth === 'female' ? 'She' : demographics.sex_at_birth === 'male' ? 'He' : 'They';
  const object = pronoun === 'She' ? 'her' : pronoun === 'He' ? 'him' : 'them';
  const steps: PlanStep[] = [];
  const historyDays = Math.max(30, Math.min(age * 365, 3650));

  for (const condition of conditions) {
    const onset = new Date(
      asOf.getTime() - faker.number.int({ min: 30, max: Math.floor(historyDays) }) * DAY_MS,
    );
    steps.push({
      kind: 'entry',
      staff: gp,
      entryKind: 'problem',
      body: {
        recorded_at: visitTime(faker, asOf, (asOf.getTime() - onset.getTime()) / DAY_MS),
        name: condition.name,
        code: { terminology: 'SNOMED-CT', value: condition.snomed },
        status: 'active',
        onset_date: onset.toISOString().slice(0, 10),
        ...(faker.datatype.boolean() ? { severity: faker.helpers.arrayElement(['mild', 'moderate']) } : {}),
      },
    });
  }

  // Visits, oldest first: readings at each, blood tests at some, a letter after some.
  const visits = between(faker, size.visits);
  const lettersWanted = between(faker, size.letters);
  const letterEvery = lettersWanted === 0 ? Infinity : Math.max(1, Math.floor(visits / lettersWanted));
  let systolic = faker.number.int({ min: 112, max: conditions.some((c) => c.bloodPressure) ? 165 : 138 });
  let weight = round(faker.number.float({ min: age < 16 ? 20 : 52, max: age < 16 ? 60 : 115 }), 1);
  let letters = 0;
  for (let v = 0; v < visits; v += 1) {
    const daysBefore = Math.floor(historyDays * (1 - v / visits)) + 1;
    const at = visitTime(faker, asOf, daysBefore);
    const staff = faker.datatype.boolean(0.7) ? gp : anyClinician();
    systolic = Math.min(210, Math.max(95, systolic + faker.number.int({ min: -8, max: 6 })));
    steps.push({
      kind: 'entry',
      staff,
      entryKind: 'blood_pressure',
      body: {
        recorded_at: at,
        systolic_mmhg: systolic,
        diastolic_mmhg: Math.round(systolic * faker.number.float({ min: 0.55, max: 0.68 })),
        position: faker.helpers.weightedArrayElement([
          { weight: 8, value: 'sitting' },
          { weight: 1, value: 'standing' },
          { weight: 1, value: 'lying' },
        ]),
        cuff_location: 'left_arm',
      },
    });
    if (faker.datatype.boolean(0.4)) {
      steps.push({
        kind: 'entry',
        staff,
        entryKind: 'heart_rate',
        body: {
          recorded_at: at,
          rate_bpm: faker.number.int({ min: 52, max: 98 }),
          rhythm: conditions.some((c) => c.name === 'Atrial fibrillation') ? 'irregular' : 'regular',
        },
      });
    }
    if (faker.datatype.boolean(0.2)) {
      weight = round(Math.max(3, weight + faker.number.float({ min: -1.5, max: 1.5 })), 1);
      steps.push({
        kind: 'entry',
        staff,
        entryKind: 'body_weight',
        body: { recorded_at: at, weight_kg: weight, state_of_dress: 'light_clothing' },
      });
    }
    const tests = [...new Set(conditions.flatMap((c) => c.tests))];
    if (tests.length > 0 && faker.datatype.boolean(0.35)) {
      for (const test of faker.helpers.arrayElements(tests, { min: 1, max: 2 }))
        steps.push({ kind: 'entry', staff, entryKind: 'lab_result', body: labResult(faker, test, at) });
    }
    if (letters < lettersWanted && (v + 1) % letterEvery === 0) {
      letters += 1;
      const condition = conditions.length > 0 ? faker.helpers.arrayElement(conditions) : undefined;
      const clinic = condition?.clinic ?? 'General clinic';
      const values = { given, clinic, date: at.slice(0, 10), pronoun, object };
      const body = [
        `# ${clinic} review`,
        '',
        fill(faker.helpers.arrayElement(LETTER_OPENINGS), values),
        '',
        '## Findings',
        '',
        fill(faker.helpers.arrayElement(LETTER_FINDINGS), values),
        `Blood pressure today was ${systolic} mmHg systolic.`,
        '',
        ...(conditions.length === 0 ? [] : ['## Problems', '', ...conditions.map((c) => `- ${c.name}`), '']),
        '## Plan',
        '',
        fill(faker.helpers.arrayElement(LETTER_PLANS), values),
        '',
      ].join('\n');
      const medicines = conditions.flatMap((c) => c.medicines);
      const signed = faker.number.int(99);
      const withAttachment = faker.number.int(99) < 5;
      steps.push({
        kind: 'letter',
        staff,
        body: {
          title: `${clinic} letter`,
          body,
          start_time: at,
          clinical_lists: [
            {
              kind: 'diagnoses',
              items: conditions.map((c) => ({
                text: c.name,
                code: { terminology: 'SNOMED-CT', value: c.snomed },
              })),
            },
            ...(medicines.length === 0
              ? []
              : [{ kind: 'medications', items: medicines.map((text) => ({ text })) }]),
          ].filter((list) => list.items.length > 0),
          sign_off: signed < 60,
        },
        ...(withAttachment
          ? { attachment: { name: 'results.pdf', bytes: syntheticPdf(faker, `${clinic} results`) } }
          : {}),
        signOffLater: signed >= 60 && signed < 85,
      });
    }
  }

  const threads = between(faker, size.threads);
  for (let t = 0; t < threads; t += 1) {
    const staff = faker.datatype.boolean(0.6) ? gp : anyClinician();
    const admin = faker.helpers.arrayElement(admins);
    const replies = between(faker, size.replies);
    steps.push({
      kind: 'thread',
      staff,
      body: {
        ledger: {
          participants: [
            { participant_id: who(staff).id, role: 'clinician', display_name: who(staff).name },
            { participant_id: who(admin).id, role: 'careadministrator', display_name: who(admin).name },
            { participant_id: `patient-${index}`, role: 'patient', display_name: patientName },
          ],
        },
        message: { body: faker.helpers.arrayElement(MESSAGE_BODIES) },
      },
      replies: Array.from({ length: replies }, (_, r) => ({
        staff: r % 2 === 0 ? admin : staff,
        body: faker.helpers.arrayElement(MESSAGE_BODIES),
      })),
    });
  }

  const appointments = between(faker, size.appointments);
  for (let a = 0; a < appointments; a += 1) {
    const staff = faker.datatype.boolean(0.7) ? gp : anyClinician();
    const ahead = a === appointments - 1 && faker.datatype.boolean(0.5);
    const start = ahead
      ? new Date(asOf.getTime() + faker.number.int({ min: 1, max: 90 }) * DAY_MS)
      : new Date(
          Date.parse(visitTime(faker, asOf, faker.number.int({ min: 1, max: Math.floor(historyDays) }))),
        );
    if (ahead) start.setUTCHours(faker.number.int({ min: 8, max: 16 }), 30, 0, 0);
    const condition = conditions.length > 0 ? faker.helpers.arrayElement(conditions) : undefined;
    steps.push({
      kind: 'care-event',
      staff,
      collection: 'appointments',
      body: {
        status: ahead ? 'booked' : 'fulfilled',
        start: start.toISOString().replace('.000Z', 'Z'),
        end: new Date(start.getTime() + 20 * 60_000).toISOString().replace('.000Z', 'Z'),
        service_type: condition?.clinic ?? 'General clinic',
        reason: { text: condition?.name ?? 'Review' },
        care_location: CARE_LOCATIONS[staff % CARE_LOCATIONS.length],
        participants: [
          { actor_id: who(staff).id, display_name: who(staff).name, role: 'practitioner' },
          { display_name: patientName, role: 'patient' },
        ],
      },
    });
  }
  if (size !== SIZES[0] && conditions.length > 0 && faker.datatype.boolean(0.4)) {
    const condition = faker.helpers.arrayElement(conditions);
    steps.push({
      kind: 'care-event',
      staff: gp,
      collection: 'referrals',
      body: {
        status: 'active',
        priority: faker.helpers.arrayElement(['routine', 'urgent']),
        service: { text: condition.clinic },
        reason: { text: condition.name },
        requester: { actor_id: who(gp).id, display_name: who(gp).name },
        performer: { display_name: condition.clinic, organisation: CARE_LOCATIONS[0] },
      },
    });
  }
  return { index, demographics, steps };
}
