// Where patient repositories live: `<dataDir>/<kind>/<s1>/<s2>/<uuid>/`, one Git repository
// per kind of record, plus the staging area where new records are assembled before they appear.
import { join } from 'node:path';
import { shardSegments, type RecordId } from '../ids/record-id.js';

export const REPOSITORY_KINDS = ['clinical', 'demographics', 'coordination'] as const;
export type RepositoryKind = (typeof REPOSITORY_KINDS)[number];

export function repositoryDir(dataDir: string, kind: RepositoryKind, id: RecordId): string {
  return join(dataDir, kind, ...shardSegments(id));
}

/** New records are assembled here and renamed into place, so a half-made record is never visible. */
export function stagingRoot(dataDir: string): string {
  return join(dataDir, '.staging');
}
