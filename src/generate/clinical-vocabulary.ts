// The clinical vocabulary the synthetic population is drawn from: common long-term conditions with
// their SNOMED CT codes, the medicines and laboratory tests (LOINC) that go with them, the clinics
// that see them, and the sentences letters are made of. Facts about medicine, not about people.

export interface LabTest {
  readonly name: string;
  readonly loinc: string;
  readonly unit: string;
  readonly low: number;
  readonly high: number;
  /** Decimal places a result is reported with. */
  readonly decimals: number;
  readonly specimen: string;
}

export interface Condition {
  readonly name: string;
  readonly snomed: string;
  readonly medicines: readonly string[];
  /** Tests that follow the condition up (names of LAB_TESTS). */
  readonly tests: readonly string[];
  readonly clinic: string;
  /** Whether blood pressure is the main thing measured at its reviews. */
  readonly bloodPressure: boolean;
  /** How many in 1,000 patients have it (rough prevalence, for a realistic mix). */
  readonly perThousand: number;
}

export const LAB_TESTS: readonly LabTest[] = [
  { name: 'HbA1c', loinc: '59261-8', unit: 'mmol/mol', low: 20, high: 41, decimals: 0, specimen: 'Blood' },
  {
    name: 'Creatinine',
    loinc: '14682-9',
    unit: 'umol/L',
    low: 59,
    high: 104,
    decimals: 0,
    specimen: 'Serum',
  },
  {
    name: 'eGFR',
    loinc: '33914-3',
    unit: 'mL/min/1.73m2',
    low: 90,
    high: 120,
    decimals: 0,
    specimen: 'Serum',
  },
  { name: 'Potassium', loinc: '2823-3', unit: 'mmol/L', low: 3.5, high: 5.3, decimals: 1, specimen: 'Serum' },
  { name: 'Sodium', loinc: '2951-2', unit: 'mmol/L', low: 133, high: 146, decimals: 0, specimen: 'Serum' },
  {
    name: 'Total cholesterol',
    loinc: '2093-3',
    unit: 'mmol/L',
    low: 2.5,
    high: 5,
    decimals: 1,
    specimen: 'Serum',
  },
  { name: 'TSH', loinc: '3016-3', unit: 'mU/L', low: 0.27, high: 4.2, decimals: 2, specimen: 'Serum' },
  { name: 'Haemoglobin', loinc: '718-7', unit: 'g/L', low: 115, high: 165, decimals: 0, specimen: 'Blood' },
  { name: 'INR', loinc: '6301-6', unit: '{INR}', low: 0.8, high: 1.2, decimals: 1, specimen: 'Plasma' },
];

export const CONDITIONS: readonly Condition[] = [
  {
    name: 'Essential hypertension',
    snomed: '59621000',
    medicines: ['Amlodipine 5 mg once daily', 'Ramipril 5 mg once daily'],
    tests: ['Creatinine', 'Potassium', 'Sodium'],
    clinic: 'Hypertension clinic',
    bloodPressure: true,
    perThousand: 280,
  },
  {
    name: 'Type 2 diabetes mellitus',
    snomed: '44054006',
    medicines: ['Metformin 500 mg twice daily', 'Empagliflozin 10 mg once daily'],
    tests: ['HbA1c', 'eGFR', 'Total cholesterol'],
    clinic: 'Diabetes clinic',
    bloodPressure: true,
    perThousand: 90,
  },
  {
    name: 'Asthma',
    snomed: '195967001',
    medicines: [
      'Salbutamol 100 micrograms inhaler as needed',
      'Beclometasone 100 micrograms inhaler twice daily',
    ],
    tests: [],
    clinic: 'Respiratory clinic',
    bloodPressure: false,
    perThousand: 110,
  },
  {
    name: 'Chronic obstructive pulmonary disease',
    snomed: '13645005',
    medicines: ['Tiotropium 18 micrograms inhaled once daily'],
    tests: ['Haemoglobin'],
    clinic: 'Respiratory clinic',
    bloodPressure: false,
    perThousand: 40,
  },
  {
    name: 'Atrial fibrillation',
    snomed: '49436004',
    medicines: ['Apixaban 5 mg twice daily', 'Bisoprolol 2.5 mg once daily'],
    tests: ['Haemoglobin', 'Creatinine'],
    clinic: 'Cardiology clinic',
    bloodPressure: true,
    perThousand: 30,
  },
  {
    name: 'Hypothyroidism',
    snomed: '40930008',
    medicines: ['Levothyroxine 75 micrograms once daily'],
    tests: ['TSH'],
    clinic: 'Endocrine clinic',
    bloodPressure: false,
    perThousand: 40,
  },
  {
    name: 'Hyperlipidaemia',
    snomed: '55822004',
    medicines: ['Atorvastatin 20 mg at night'],
    tests: ['Total cholesterol'],
    clinic: 'Lipid clinic',
    bloodPressure: false,
    perThousand: 120,
  },
  {
    name: 'Depressive disorder',
    snomed: '35489007',
    medicines: ['Sertraline 50 mg once daily'],
    tests: [],
    clinic: 'Mental health service',
    bloodPressure: false,
    perThousand: 90,
  },
  {
    name: 'Chronic kidney disease stage 3',
    snomed: '433144002',
    medicines: [],
    tests: ['eGFR', 'Creatinine', 'Potassium'],
    clinic: 'Renal clinic',
    bloodPressure: true,
    perThousand: 50,
  },
  {
    name: 'Osteoarthritis of knee',
    snomed: '239873007',
    medicines: ['Paracetamol 1 g up to four times daily as needed'],
    tests: [],
    clinic: 'Musculoskeletal clinic',
    bloodPressure: false,
    perThousand: 80,
  },
];

/** The care locations of the synthetic staff (made-up names). */
export const CARE_LOCATIONS = [
  'Synthetic General Hospital',
  'Northfield Synthetic Medical Centre',
  'Riverside Synthetic Health Centre',
  'Synthetic Community Clinic',
] as const;

/** Openings, findings and plans letters are written from; `{…}` are filled in. */
export const LETTER_OPENINGS = [
  'Thank you for asking me to see {given}, whom I reviewed in the {clinic} on {date}.',
  'I saw {given} today in the {clinic} for a planned review.',
  '{given} attended the {clinic} on {date} for follow-up.',
  'I reviewed {given} in the {clinic} on {date} at the request of the practice.',
];

export const LETTER_FINDINGS = [
  'Symptoms have been stable since the last review and there have been no admissions.',
  'There has been some improvement since the medication was changed.',
  '{pronoun} reports more tiredness over the last two months, without weight loss.',
  'Examination was unremarkable apart from mild ankle swelling.',
  'Home readings brought to clinic were broadly within target.',
  '{pronoun} has managed to increase physical activity and is walking most days.',
];

export const LETTER_PLANS = [
  'Continue the current medication and repeat blood tests in three months.',
  'I have increased the dose and would be grateful if the practice could recheck bloods in two weeks.',
  'I will see {object} again in six months; please refer sooner if symptoms change.',
  'We discussed the results in detail and agreed a written plan.',
  'No change to treatment. Discharged back to the care of the practice.',
];

export const MESSAGE_BODIES = [
  'Could you confirm the date of the next blood test?',
  'The results are back and are in line with the plan discussed in clinic.',
  'Please bring the list of current medicines to the next appointment.',
  'The prescription has been sent to the pharmacy.',
  'We have moved the appointment by a week; a new letter is on its way.',
  'Thank you, received. I will pass this on to the consultant.',
  'Home blood pressure readings for the last fortnight are attached to the record.',
];
