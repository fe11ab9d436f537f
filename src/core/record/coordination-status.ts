// The coordination repository's `COORDINATION_STATUS.yaml`: its lifecycle and the clinical
// record it coordinates care for.
import { stringify } from 'yaml';
import type { RecordId } from '../ids/record-id.js';

export const COORDINATION_STATUS_FILE = 'COORDINATION_STATUS.yaml';

export type LifecycleState = 'active' | 'suspended' | 'closed';

export function renderInitialCoordinationStatus(coordinationId: RecordId, clinicalId: RecordId): string {
  return stringify({
    coordination_id: coordinationId,
    clinical_id: clinicalId,
    status: {
      lifecycle_state: 'active' satisfies LifecycleState,
      record_open: true,
      record_queryable: true,
      record_modifiable: true,
    },
  });
}
