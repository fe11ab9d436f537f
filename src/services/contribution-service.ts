// The patient's voice (seed 001): symptom logs, reported outcomes and comments on letters,
// written under `patient/` in the clinical repository and nowhere else. Each contribution is a
// new file with a new id, so it can never overwrite professionally authored content, nor
// another contribution; a comment names the letter it is about and leaves the letter alone.
import { VprError } from '../core/errors.js';
import { parseTimestampId } from '../core/ids/timestamp-id.js';
import {
  contributionPath,
  isPatientPath,
  parseContributionInput,
  parseContributionKind,
  readContribution,
  renderContribution,
  type StoredContribution,
} from '../core/clinical/contribution.js';
import { letterCompositionPath } from '../core/clinical/letter.js';
import { listDocumentsUnder, type DocumentListItem, type Page } from '../projection/clinical-queries.js';
import type { ClinicalRecord } from './record-access.js';
import type { Actor } from './patient-service.js';

export interface ContributionView extends StoredContribution {
  readonly path: string;
  readonly commit: string;
}

export class ContributionService {
  readonly #record: ClinicalRecord;

  constructor(record: ClinicalRecord) {
    this.#record = record;
  }

  async add(actor: Actor, patientId: unknown, kind: unknown, body: unknown): Promise<ContributionView> {
    const contributionKind = parseContributionKind(kind);
    const input = parseContributionInput(contributionKind, body);
    const clinicalId = await this.#record.idForWrite(patientId);
    if (input.kind === 'comment') {
      const letter = await this.#record.readOptional(clinicalId, letterCompositionPath(input.letterId));
      if (letter === undefined) {
        throw new VprError('NOT_FOUND', 'no letter with this id to comment on', {
          details: { letter_id: input.letterId },
        });
      }
    }
    const id = this.#record.ids.next();
    const path = contributionPath(contributionKind, id);
    if (!isPatientPath(path)) throw new Error('a contribution path must be under patient/');
    const text = renderContribution(id, input, actor.author, this.#record.now().toISOString());
    const { commit } = await this.#record.commitItem(actor, clinicalId, async () => ({
      changes: [{ path, content: text }],
      action: 'create',
      summary: `Patient contribution: ${contributionKind}`,
      trailers: [
        { key: 'Contribution-Id', value: id },
        { key: 'Contribution-Source', value: 'patient' },
      ],
    }));
    return { ...readContribution(text)!, path, commit };
  }

  async get(
    patientId: unknown,
    kind: unknown,
    contributionId: unknown,
    version?: string,
  ): Promise<ContributionView> {
    const contributionKind = parseContributionKind(kind);
    const id = parseTimestampId(contributionId, 'contribution_id');
    const clinicalId = await this.#record.idOf(patientId);
    const path = contributionPath(contributionKind, id);
    const at = version ?? this.#record.head(clinicalId);
    const content = at === undefined ? undefined : await this.#record.readOptional(clinicalId, path, at);
    const stored = content === undefined ? undefined : readContribution(content.toString('utf8'));
    if (stored === undefined || at === undefined) {
      throw new VprError('NOT_FOUND', 'no contribution with this id', { details: { contribution_id: id } });
    }
    return { ...stored, path, commit: at };
  }

  /** A patient's contributions, newest first, from the projection's document index. */
  async list(
    patientId: unknown,
    query: { limit?: number; cursor?: string } = {},
  ): Promise<Page<DocumentListItem>> {
    const clinicalId = await this.#record.idOf(patientId);
    return listDocumentsUnder(this.#record.projection.client, 'clinical', clinicalId, 'patient/', query);
  }
}
