// The coordination repository's `COORDINATION_STATUS.yaml`: its lifecycle (active, suspended,
// closed) and permissions (open, queryable, modifiable), and the clinical record it coordinates
// care for. The file is read strictly — an unknown key or a wrong type is a corrupt file, not
// something to guess about — and a change to it is validated strictly too. A closed record is
// closed for good; a record that is closed or not modifiable accepts no coordination changes.
import { parse } from 'yaml';
import { renderRecordYaml } from '../yaml-mapping.js';
import { VprError, invalidInput } from '../errors.js';
import { parseRecordId, type RecordId } from '../ids/record-id.js';
import { objectAt, refuseUnknown } from '../input.js';

export const COORDINATION_STATUS_FILE = 'COORDINATION_STATUS.yaml';

export const LIFECYCLE_STATES = ['active', 'suspended', 'closed'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export interface CoordinationStatus {
  readonly coordinationId: RecordId;
  readonly clinicalId: RecordId;
  readonly lifecycleState: LifecycleState;
  readonly recordOpen: boolean;
  readonly recordQueryable: boolean;
  readonly recordModifiable: boolean;
}

/** What a client may change: any of the lifecycle state and the three permissions. */
export interface CoordinationStatusChange {
  readonly lifecycleState?: LifecycleState;
  readonly recordOpen?: boolean;
  readonly recordQueryable?: boolean;
  readonly recordModifiable?: boolean;
}

const STATUS_KEYS = ['lifecycle_state', 'record_open', 'record_queryable', 'record_modifiable'] as const;

export function renderCoordinationStatus(status: CoordinationStatus): string {
  return renderRecordYaml(
    {
      coordination_id: status.coordinationId,
      clinical_id: status.clinicalId,
      status: {
        lifecycle_state: status.lifecycleState,
        record_open: status.recordOpen,
        record_queryable: status.recordQueryable,
        record_modifiable: status.recordModifiable,
      },
    },
    { lineWidth: 80 },
  );
}

export function renderInitialCoordinationStatus(coordinationId: RecordId, clinicalId: RecordId): string {
  return renderCoordinationStatus({
    coordinationId,
    clinicalId,
    lifecycleState: 'active',
    recordOpen: true,
    recordQueryable: true,
    recordModifiable: true,
  });
}

const corrupt = (detail: string) =>
  new VprError('CORRUPT_REPOSITORY', 'COORDINATION_STATUS.yaml is not a valid coordination status', {
    details: { problem: detail },
  });

/** The file read strictly: CORRUPT_REPOSITORY for unknown keys, wrong types or bad ids. */
export function readCoordinationStatus(text: string): CoordinationStatus {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 0 });
  } catch {
    throw corrupt('not YAML');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw corrupt('not a mapping');
  const root = doc as Record<string, unknown>;
  for (const key of Object.keys(root)) {
    if (!['coordination_id', 'clinical_id', 'status'].includes(key)) throw corrupt(`unknown key ${key}`);
  }
  const status = root.status;
  if (typeof status !== 'object' || status === null || Array.isArray(status)) throw corrupt('status');
  const s = status as Record<string, unknown>;
  for (const key of Object.keys(s)) {
    if (!(STATUS_KEYS as readonly string[]).includes(key)) throw corrupt(`unknown key status.${key}`);
  }
  if (!LIFECYCLE_STATES.includes(s.lifecycle_state as LifecycleState))
    throw corrupt('status.lifecycle_state');
  for (const key of ['record_open', 'record_queryable', 'record_modifiable']) {
    if (typeof s[key] !== 'boolean') throw corrupt(`status.${key}`);
  }
  try {
    return {
      coordinationId: parseRecordId(root.coordination_id, 'coordination_id'),
      clinicalId: parseRecordId(root.clinical_id, 'clinical_id'),
      lifecycleState: s.lifecycle_state as LifecycleState,
      recordOpen: s.record_open as boolean,
      recordQueryable: s.record_queryable as boolean,
      recordModifiable: s.record_modifiable as boolean,
    };
  } catch {
    throw corrupt('ids');
  }
}

/** A change as a client sends it (`{ lifecycle_state?, record_open?, … }`), validated strictly. */
export function parseCoordinationStatusChange(value: unknown): CoordinationStatusChange {
  const input = objectAt(value, '');
  refuseUnknown(input, STATUS_KEYS, '');
  if (Object.keys(input).length === 0) throw invalidInput('body', 'must change at least one field');
  const flag = (key: string): boolean | undefined => {
    const v = input[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw invalidInput(key, 'must be true or false');
    return v;
  };
  const state = input.lifecycle_state;
  if (state !== undefined && !LIFECYCLE_STATES.includes(state as LifecycleState)) {
    throw invalidInput('lifecycle_state', `must be one of ${LIFECYCLE_STATES.join(', ')}`);
  }
  const open = flag('record_open');
  const queryable = flag('record_queryable');
  const modifiable = flag('record_modifiable');
  return {
    ...(state === undefined ? {} : { lifecycleState: state as LifecycleState }),
    ...(open === undefined ? {} : { recordOpen: open }),
    ...(queryable === undefined ? {} : { recordQueryable: queryable }),
    ...(modifiable === undefined ? {} : { recordModifiable: modifiable }),
  };
}

/** The status after a change; INVALID_STATE for any change to a closed record. */
export function applyCoordinationStatusChange(
  current: CoordinationStatus,
  change: CoordinationStatusChange,
): CoordinationStatus {
  if (current.lifecycleState === 'closed') {
    throw new VprError('INVALID_STATE', 'the coordination record is closed for good and cannot change');
  }
  const next = { ...current, ...change };
  // Closing a record also closes it to changes.
  return next.lifecycleState === 'closed' ? { ...next, recordOpen: false, recordModifiable: false } : next;
}

/** INVALID_STATE unless the record accepts coordination changes (threads, messages, appointments). */
export function assertCoordinationModifiable(status: CoordinationStatus): void {
  if (status.lifecycleState === 'closed' || !status.recordOpen) {
    throw new VprError('INVALID_STATE', 'the coordination record is closed and accepts no changes');
  }
  if (status.lifecycleState === 'suspended' || !status.recordModifiable) {
    throw new VprError('INVALID_STATE', 'the coordination record is suspended or not modifiable now');
  }
}
