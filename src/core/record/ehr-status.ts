// The clinical repository's `ehr_status.yaml`: an openEHR EHR_STATUS whose subject points at
// the patient's demographics record in the master patient index namespace.
import { renderRecordYaml } from '../yaml-mapping.js';
import type { RecordId } from '../ids/record-id.js';

export const EHR_STATUS_FILE = 'ehr_status.yaml';
export const RM_VERSION = '1.1.0';

/** `ehr://<namespace>/mpi`: the namespace of the demographics id an EHR points at. */
export function mpiNamespace(namespace: string): string {
  return `ehr://${namespace}/mpi`;
}

export function renderEhrStatus(clinicalId: RecordId, demographicsId: RecordId, namespace: string): string {
  return renderRecordYaml(
    {
      _type: 'EHR_STATUS',
      rm_version: RM_VERSION,
      ehr_id: { _type: 'HIER_OBJECT_ID', value: clinicalId },
      archetype_node_id: 'openEHR-EHR-STATUS.ehr_status.v1',
      name: { _type: 'DV_TEXT', value: 'EHR Status' },
      subject: {
        _type: 'PARTY_SELF',
        external_ref: {
          _type: 'PARTY_REF',
          id: { _type: 'HIER_OBJECT_ID', value: demographicsId },
          namespace: mpiNamespace(namespace),
          type: 'PERSON',
        },
      },
      is_queryable: true,
      is_modifiable: true,
    },
    { lineWidth: 80 },
  );
}
