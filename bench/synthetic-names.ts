// Synthetic names for benchmark patients. Names may not contain digits (the demographics rules
// of ../shared/seeds/004), so numbers are spelt with the letters a–j for 0–9.
export function lettersOf(n: number, width: number): string {
  return String(n)
    .padStart(width, '0')
    .replace(/[0-9]/g, (digit) => 'abcdefghij'[Number(digit)]!);
}
