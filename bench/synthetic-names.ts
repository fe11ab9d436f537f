// Synthetic names for benchmark patients. Names may not contain digits (the demographics rules
// of ../shared/seeds/004), so numbers are spelt with the letters a–j for 0–9.
export function lettersOf(n: number, width: number): string {
  return String(n)
    .padStart(width, '0')
    .replace(/[0-9]/g, (digit) => 'abcdefghij'[Number(digit)]!);
}

/** The demographics of synthetic bench patient `i`, whose family name starts with `family`. */
export function benchPatient(i: number, family: string, dateOfBirth = '1970-01-01') {
  return {
    given_name: `Given${lettersOf(i, 3)}`,
    family_name: `${family}${lettersOf(i, 5)}`,
    date_of_birth: dateOfBirth,
    sex_at_birth: 'unknown',
    gender_identity: 'undisclosed',
  };
}
