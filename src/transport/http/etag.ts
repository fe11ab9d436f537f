// ETags (a patient's demographics commit id; a letter's or entry's content version: 40 hex either
// way) and the conditional headers that carry them. A version is quoted as a strong ETag; `If-Match` and `If-None-Match` accept the strong
// and the weak (`W/"…"`) form alike, since a version names exact content either way.
import { invalidInput } from '../../core/errors.js';

export const etagOf = (version: string): string => `"${version}"`;

const ETAG = /^(?:W\/)?"([0-9a-f]{40})"$/;

/** The version an `If-Match` names; undefined when absent; INVALID_INPUT when malformed. */
export function parseIfMatch(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = ETAG.exec(header.trim());
  if (match === null) {
    throw invalidInput('If-Match', 'must be one ETag as the service sent it, e.g. "3f2c…"');
  }
  return match[1];
}

/** Whether `If-None-Match` names `version` (or `*`); malformed entries simply do not match. */
export function noneMatchHits(header: string | undefined, version: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || ETAG.exec(trimmed)?.[1] === version;
  });
}
