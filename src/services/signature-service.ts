// Verifying the signatures of a patient's record: every commit of its demographics, clinical
// and coordination repositories, newest first, against the deployment's trust anchors
// (VPR_TRUST_ANCHORS). Answers, per repository, how many commits are signed-valid, unsigned or
// invalid, and each invalid one with why. Bounded by `limit` commits per repository.
import { invalidInput } from '../core/errors.js';
import { parseRecordId } from '../core/ids/record-id.js';
import type { RepositoryKind } from '../core/record/record-layout.js';
import type { RecordStore } from '../core/record/record-store.js';
import type { TrustAnchors } from '../core/signing/verify-commit.js';
import { MAX_VERIFY_COMMITS, verifyHistory } from '../core/signing/verify-history.js';
import type { RecordLinks } from './record-links.js';

export const DEFAULT_VERIFY_LIMIT = 10_000;

export interface RepositoryVerification {
  readonly kind: RepositoryKind;
  readonly id: string;
  readonly commits_checked: number;
  /** True when the repository has more commits than `limit` and the oldest were not checked. */
  readonly truncated: boolean;
  readonly valid: number;
  readonly unsigned: number;
  readonly invalid: number;
  readonly failures: readonly { commit: string; reason: string; detail: string }[];
  /** The distinct signers of the valid commits: subject and registration, or a key fingerprint. */
  readonly signers: readonly string[];
}

export interface PatientVerification {
  readonly patient_id: string;
  /** No commit of any repository failed verification (unsigned commits are not failures). */
  readonly intact: boolean;
  readonly repositories: readonly RepositoryVerification[];
}

export class SignatureService {
  readonly #store: RecordStore;
  readonly #links: RecordLinks;
  readonly #anchors: TrustAnchors;

  constructor(deps: { store: RecordStore; links: RecordLinks; anchors: TrustAnchors }) {
    this.#store = deps.store;
    this.#links = deps.links;
    this.#anchors = deps.anchors;
  }

  async verifyPatient(patientId: unknown, query: { limit?: number } = {}): Promise<PatientVerification> {
    const id = parseRecordId(patientId, 'patient_id');
    const limit = query.limit ?? DEFAULT_VERIFY_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_VERIFY_COMMITS) {
      throw invalidInput('limit', `must be a whole number from 1 to ${MAX_VERIFY_COMMITS}`);
    }
    const demographics = await this.#store.repository('demographics', id);
    const ids: [RepositoryKind, string][] = [
      ['demographics', id],
      ['clinical', await this.#links.idOf(id, 'clinical')],
      ['coordination', await this.#links.idOf(id, 'coordination')],
    ];
    const repositories = await Promise.all(
      ids.map(async ([kind, repoId]): Promise<RepositoryVerification> => {
        const repository =
          kind === 'demographics' ? demographics : await this.#store.repository(kind, repoId);
        const history = await verifyHistory(repository, this.#anchors, limit);
        const failures = history.commits.flatMap(({ commit, verdict }) =>
          verdict.status === 'invalid' ? [{ commit, reason: verdict.reason, detail: verdict.detail }] : [],
        );
        const signers = new Set(
          history.commits.flatMap(({ verdict }) =>
            verdict.status !== 'valid'
              ? []
              : [
                  verdict.signer.certified
                    ? `${verdict.signer.subject ?? ''} ${verdict.signer.registration ?? ''}`.trim()
                    : `key sha256:${verdict.signer.keyFingerprint}`,
                ],
          ),
        );
        return {
          kind,
          id: repoId,
          commits_checked: history.commits.length,
          truncated: history.truncated,
          ...history.counts,
          failures,
          signers: [...signers],
        };
      }),
    );
    return { patient_id: id, intact: repositories.every((r) => r.invalid === 0), repositories };
  }
}
