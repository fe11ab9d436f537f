// Keyset pagination, the one way every list pages (never OFFSET): a page's last key is handed
// out as an opaque cursor and the next page starts after it. Limits are checked here once.
import { invalidInput } from '../core/errors.js';

export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;

/** The page size asked for, defaulted and bounded. */
export function pageLimit(limit: number | undefined): number {
  const value = limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE) {
    throw invalidInput('limit', `must be a whole number from 1 to ${MAX_PAGE}`);
  }
  return value;
}

export function encodeCursor(key: string, id: string): string {
  return Buffer.from(JSON.stringify([key, id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string')) {
      return value as [string, string];
    }
  } catch {
    // fall through
  }
  throw invalidInput('cursor', 'is not a cursor this service issued');
}

/** One page of a list, and the cursor of the next (null on the last). */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}
