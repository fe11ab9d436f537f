// Where structured clinical entries live in the clinical repository: one composition per file,
// `entries/<kind>/<entry_id>.yaml`, the id a TimestampId. A correction is a new version of the
// same file (commit action `update`); newer information that replaces an entry is a new file
// whose composition names the one it supersedes (action `superseded`); the old file stays.
import { parseTimestampId, type TimestampId } from '../ids/timestamp-id.js';

export const ENTRIES_DIR = 'entries';

export function entryPath(kind: string, entryId: TimestampId): string {
  return `${ENTRIES_DIR}/${kind}/${entryId}.yaml`;
}

/** The kind and id of the entry a repository path holds, if it is an entry file. */
export function entryOfPath(path: string): { kind: string; entryId: TimestampId } | undefined {
  const match = /^entries\/([a-z_]+)\/([^/]+)\.yaml$/.exec(path);
  if (match === null) return undefined;
  try {
    return { kind: match[1]!, entryId: parseTimestampId(match[2]) };
  } catch {
    return undefined;
  }
}
