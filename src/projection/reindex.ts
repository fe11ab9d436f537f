// Rebuilding every projection from Git alone. This first version empties the projection tables
// and re-projects every repository on disk in one pass; rebuilding into new tables and swapping
// them in while the service serves is still to come (issue 3).
import type { RecordStore } from '../core/record/record-store.js';
import { Projector } from './projector.js';
import type { SqlClient } from './sql-client.js';

export const PROJECTION_TABLES = [
  'documents',
  'patients',
  'clinical_links',
  'coordination_links',
  'repositories',
];

export interface ReindexResult {
  readonly repositories: number;
  readonly seconds: number;
}

export async function reindex(
  client: SqlClient,
  store: RecordStore,
  onProgress?: (repositories: number) => void,
): Promise<ReindexResult> {
  const started = performance.now();
  await client.query(`TRUNCATE ${PROJECTION_TABLES.join(', ')}`);
  const { checked } = await new Projector(client, store).catchUp((count) => onProgress?.(count));
  return { repositories: checked, seconds: (performance.now() - started) / 1000 };
}
