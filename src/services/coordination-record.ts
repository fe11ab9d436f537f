// The coordination repository as its services use it: record access (record-access.ts) plus
// its status file, which every coordination write consults first — a closed, suspended or
// non-modifiable record refuses threads, messages and appointments with INVALID_STATE — and
// the operations on the status itself (read, and change as a commit of its own).
import type { ObjectId } from '../core/git/git-object.js';
import type { RecordId } from '../core/ids/record-id.js';
import { VprError } from '../core/errors.js';
import {
  COORDINATION_STATUS_FILE,
  applyCoordinationStatusChange,
  assertCoordinationModifiable,
  parseCoordinationStatusChange,
  readCoordinationStatus,
  renderCoordinationStatus,
  type CoordinationStatus,
} from '../core/record/coordination-status.js';
import { assertItemVersion, contentVersion, RecordAccess, type RecordAccessDeps } from './record-access.js';
import type { Actor } from './patient-service.js';

export interface CoordinationStatusView {
  readonly coordination_id: string;
  readonly clinical_id: string;
  readonly lifecycle_state: CoordinationStatus['lifecycleState'];
  readonly record_open: boolean;
  readonly record_queryable: boolean;
  readonly record_modifiable: boolean;
  /** The status file's version (its ETag). */
  readonly version: string;
  readonly commit: string;
}

export class CoordinationRecord extends RecordAccess {
  constructor(deps: RecordAccessDeps) {
    super('coordination', deps);
  }

  /** The status as of `at`, with the file's content version. */
  async statusAt(
    coordinationId: RecordId,
    at: ObjectId,
  ): Promise<{ status: CoordinationStatus; version: string }> {
    const text = await this.readOptional(coordinationId, COORDINATION_STATUS_FILE, at);
    if (text === undefined) {
      throw new VprError('CORRUPT_REPOSITORY', 'the coordination record has no COORDINATION_STATUS.yaml', {
        details: { coordination_id: coordinationId },
      });
    }
    return { status: readCoordinationStatus(text.toString('utf8')), version: contentVersion(text) };
  }

  /** INVALID_STATE unless the record at `head` accepts coordination changes. */
  async assertModifiableAt(coordinationId: RecordId, head: ObjectId): Promise<void> {
    assertCoordinationModifiable((await this.statusAt(coordinationId, head)).status);
  }
}

function statusView(status: CoordinationStatus, version: string, commit: string): CoordinationStatusView {
  return {
    coordination_id: status.coordinationId,
    clinical_id: status.clinicalId,
    lifecycle_state: status.lifecycleState,
    record_open: status.recordOpen,
    record_queryable: status.recordQueryable,
    record_modifiable: status.recordModifiable,
    version,
    commit,
  };
}

export class CoordinationStatusService {
  readonly #record: CoordinationRecord;

  constructor(record: CoordinationRecord) {
    this.#record = record;
  }

  async get(patientId: unknown): Promise<CoordinationStatusView> {
    const id = await this.#record.idOf(patientId);
    const head = this.#record.head(id);
    if (head === undefined) throw new VprError('NOT_FOUND', 'the coordination record has no commits');
    const { status, version } = await this.#record.statusAt(id, head);
    return statusView(status, version, head);
  }

  /** Changes lifecycle state or permissions: a commit of its own. A closed record stays closed. */
  async update(actor: Actor, patientId: unknown, expected: string | undefined, body: unknown) {
    const change = parseCoordinationStatusChange(body);
    const id = await this.#record.idForWrite(patientId);
    const { commit } = await this.#record.commitItem(actor, id, async (head) => {
      const current = await this.#record.statusAt(id, head);
      assertItemVersion(current.version, expected, 'coordination status');
      const next = renderCoordinationStatus(applyCoordinationStatusChange(current.status, change));
      if (next === renderCoordinationStatus(current.status)) return undefined;
      return {
        changes: [{ path: COORDINATION_STATUS_FILE, content: next }],
        action: 'update',
        summary: 'Updated coordination status',
        trailers: [],
      };
    });
    const { status, version } = await this.#record.statusAt(id, commit);
    return statusView(status, version, commit);
  }
}
