// Which clinical and coordination records belong to a patient, and when the patient was
// created: fixed once the record exists, so looked up in the projection once and then cached
// for good. Every service that starts from a patient id finds the patient's other records here.
import { VprError } from '../core/errors.js';
import type { RecordId } from '../core/ids/record-id.js';
import type { ReadCache } from '../cache/read-cache.js';
import type { Projection } from '../projection/projection.js';

export interface RecordLinksOf {
  readonly clinical_id: string | null;
  readonly coordination_id: string | null;
  readonly created_at: string;
}

const keyOf = (patientId: string) => `patient-meta/${patientId}`;

export class RecordLinks {
  readonly #projection: Projection;
  readonly #cache: ReadCache;

  constructor(projection: Projection, cache: ReadCache) {
    this.#projection = projection;
    this.#cache = cache;
  }

  /** The patient's links; nulls when the projection does not know them (yet). */
  async of(patientId: RecordId): Promise<RecordLinksOf> {
    const cached = await this.#cache.getDocument(keyOf(patientId));
    if (cached !== undefined) return JSON.parse(cached.toString('utf8')) as RecordLinksOf;
    const row = await this.#projection.getPatient(patientId);
    const links: RecordLinksOf = {
      clinical_id: row?.clinicalId ?? null,
      coordination_id: row?.coordinationId ?? null,
      created_at: row?.createdAt ?? new Date(0).toISOString(),
    };
    if (row?.clinicalId && row.coordinationId) await this.remember(patientId, links);
    return links;
  }

  /** Records the links of a patient just created (known without asking the projection). */
  async remember(patientId: string, links: RecordLinksOf): Promise<void> {
    await this.#cache.setDocument(keyOf(patientId), Buffer.from(JSON.stringify(links)));
  }

  /** The patient's record of `kind`; NOT_FOUND when the patient has none the projection knows. */
  async idOf(patientId: RecordId, kind: 'clinical' | 'coordination'): Promise<RecordId> {
    const links = await this.of(patientId);
    const id = kind === 'clinical' ? links.clinical_id : links.coordination_id;
    if (id === null) {
      throw new VprError('NOT_FOUND', 'no patient with this id', { details: { patient_id: patientId } });
    }
    return id as RecordId;
  }
}
