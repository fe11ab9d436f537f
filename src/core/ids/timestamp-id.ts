// TimestampId: `YYYYMMDDTHHMMSS.mmmZ-<uuid v4 with hyphens>`, the name of every dated item
// (letters, threads). Generated ids are strictly increasing within a process, even when the
// clock stands still or steps backwards, so sorting by name sorts by creation.
import { randomUUID } from 'node:crypto';
import { VprError } from '../errors.js';

export type TimestampId = string & { readonly __brand: 'TimestampId' };

const PATTERN =
  /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z-([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$/;

export function parseTimestampId(value: unknown, field = 'id'): TimestampId {
  const match = typeof value === 'string' ? PATTERN.exec(value) : null;
  if (match === null) {
    throw new VprError('INVALID_ID', `${field} must be YYYYMMDDTHHMMSS.mmmZ-<uuid v4>`, {
      details: { field },
    });
  }
  const [, y, mo, d, h, mi, s, ms] = match.map(Number) as number[];
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!));
  if (
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() !== mo! - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== s
  ) {
    throw new VprError('INVALID_ID', `${field} names a date and time that does not exist`, {
      details: { field },
    });
  }
  return value as TimestampId;
}

/** The instant a TimestampId records. */
export function timestampOf(id: TimestampId): Date {
  const t = id.slice(0, 19);
  return new Date(
    `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}.${t.slice(16, 19)}Z`,
  );
}

function formatInstant(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/(\d{8}T\d{6})\.(\d{3})Z/, '$1.$2Z');
}

/**
 * Makes TimestampIds that increase strictly: when two are made in the same millisecond (or the
 * clock steps back), the later one takes the previous millisecond plus one.
 */
export class TimestampIdGenerator {
  #lastMs = Number.NEGATIVE_INFINITY;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  next(): TimestampId {
    const ms = Math.max(this.#now(), this.#lastMs + 1);
    this.#lastMs = ms;
    return `${formatInstant(ms)}-${randomUUID()}` as TimestampId;
  }
}
