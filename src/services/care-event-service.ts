// Appointments, encounters and referrals (FHIR Appointment, Encounter, ServiceRequest) of the
// care coordination repository, for every door alike: record one (a file of its own), update it
// (a new version of the file; a status change must follow the FHIR workflow — see
// core/coordination/care-event-status.ts), read it at HEAD or at a commit, and list from the
// projection: a patient's upcoming ones, or every appointment of a care location on a day.
import { VprError, invalidInput } from '../core/errors.js';
import { parseTimestampId, type TimestampId } from '../core/ids/timestamp-id.js';
import type { RecordId } from '../core/ids/record-id.js';
import { parseVersion } from '../core/record/record-store.js';
import {
  CARE_EVENT_DIRS,
  CARE_EVENT_KINDS,
  assertStatusTransition,
  careEventPath,
  isCareEventKind,
  parseCareEventInput,
  readCareEvent,
  renderCareEvent,
  type CareEventKind,
  type StoredCareEvent,
} from '../core/coordination/care-events.js';
import {
  appointmentsOfDay,
  listCareEvents,
  type CareEventSummary,
  type Page,
} from '../projection/coordination-queries.js';
import type { CoordinationRecord } from './coordination-record.js';
import { assertItemVersion, contentVersion, type FileReader } from './record-access.js';
import type { Actor } from './patient-service.js';

export interface CareEventView {
  readonly event_id: string;
  readonly kind: CareEventKind;
  readonly patient_id: string;
  readonly coordination_id: string;
  /** The event's version (its ETag). */
  readonly version: string;
  readonly commit: string;
  readonly status: string;
  readonly data: Readonly<Record<string, unknown>>;
}

const EVENT_TRAILER = 'Event-Id';

/** The kind an URL's collection names (`appointments`, `encounters`, `referrals`), or the kind itself. */
export function careEventKindOf(value: unknown): CareEventKind {
  const kind = CARE_EVENT_KINDS.find((k) => value === k || value === CARE_EVENT_DIRS[k]);
  if (kind === undefined || !isCareEventKind(kind)) {
    throw invalidInput('kind', `must be one of ${CARE_EVENT_KINDS.join(', ')}`);
  }
  return kind;
}

/** One care event's file, read by `readFile` (at a commit, or as a commit wrote it). */
async function readEvent(
  kind: CareEventKind,
  id: TimestampId,
  readFile: FileReader,
): Promise<{ content: Buffer; stored: StoredCareEvent }> {
  const content = await readFile(careEventPath(kind, id));
  const stored: StoredCareEvent | undefined =
    content === undefined ? undefined : readCareEvent(content.toString('utf8'));
  if (content === undefined || stored === undefined || stored.kind !== kind) {
    throw new VprError('NOT_FOUND', `no ${kind} with this id at this version`, {
      details: { event_id: id },
    });
  }
  return { content, stored };
}

export class CareEventService {
  readonly #record: CoordinationRecord;

  constructor(record: CoordinationRecord) {
    this.#record = record;
  }

  async #read(coordinationId: RecordId, kind: CareEventKind, id: TimestampId, at: string) {
    return readEvent(kind, id, this.#record.filesAt(coordinationId, at));
  }

  #view(
    patientId: unknown,
    coordinationId: RecordId,
    kind: CareEventKind,
    id: TimestampId,
    commit: string,
    { content, stored }: { content: Buffer; stored: StoredCareEvent },
  ): CareEventView {
    return {
      event_id: id,
      kind,
      patient_id: String(patientId),
      coordination_id: coordinationId,
      version: contentVersion(content),
      commit,
      status: stored.event.status,
      data: stored.event as unknown as Record<string, unknown>,
    };
  }

  async add(actor: Actor, patientId: unknown, kindValue: unknown, body: unknown): Promise<CareEventView> {
    const kind = careEventKindOf(kindValue);
    const event = parseCareEventInput(kind, body, this.#record.now());
    const coordinationId = await this.#record.idForWrite(patientId);
    const id = this.#record.ids.next();
    const committed = await this.#record.commitItem(actor, coordinationId, async (head) => {
      await this.#record.assertModifiableAt(coordinationId, head);
      return {
        changes: [
          {
            path: careEventPath(kind, id),
            content: renderCareEvent({
              id,
              event,
              recordedBy: { name: actor.author.name, role: actor.author.role },
            }),
          },
        ],
        action: 'create',
        summary: `Recorded ${kind} (${event.status})`,
        trailers: [{ key: EVENT_TRAILER, value: id }],
      };
    });
    const written = await readEvent(kind, id, await this.#record.filesCommitted(coordinationId, committed));
    return this.#view(patientId, coordinationId, kind, id, committed.commit, written);
  }

  /** A new version of the event; a status change must be one the FHIR workflow allows. */
  async update(
    actor: Actor,
    patientId: unknown,
    kindValue: unknown,
    eventId: unknown,
    expected: string | undefined,
    body: unknown,
  ): Promise<CareEventView> {
    const kind = careEventKindOf(kindValue);
    const id = parseTimestampId(eventId, 'event_id');
    if (expected === undefined) {
      throw new VprError(
        'PRECONDITION_REQUIRED',
        `an update must name the version of the ${kind} it is based on (If-Match)`,
      );
    }
    const event = parseCareEventInput(kind, body, this.#record.now());
    const coordinationId = await this.#record.idForWrite(patientId);
    const { commit } = await this.#record.commitItem(actor, coordinationId, async (head) => {
      await this.#record.assertModifiableAt(coordinationId, head);
      const current = await this.#read(coordinationId, kind, id, head);
      assertItemVersion(contentVersion(current.content), expected, kind);
      assertStatusTransition(kind, current.stored.event.status as never, event.status as never);
      // Who first recorded it stays; a file written by hand without a recorder gets this author.
      const recorded = current.stored.recordedBy;
      const recordedBy =
        recorded.name === '' || recorded.role === ''
          ? { name: actor.author.name, role: actor.author.role }
          : recorded;
      const text = renderCareEvent({ id, event, recordedBy });
      if (text === current.content.toString('utf8')) return undefined;
      const from = current.stored.event.status;
      return {
        changes: [{ path: careEventPath(kind, id), content: text }],
        action: 'update',
        summary: from === event.status ? `Updated ${kind}` : `${kind} ${from} → ${event.status}`,
        trailers: [{ key: EVENT_TRAILER, value: id }],
      };
    });
    return this.get(patientId, kind, id, commit);
  }

  async get(
    patientId: unknown,
    kindValue: unknown,
    eventId: unknown,
    version?: string,
  ): Promise<CareEventView> {
    const kind = careEventKindOf(kindValue);
    const id = parseTimestampId(eventId, 'event_id');
    const coordinationId = await this.#record.idOf(patientId);
    const at = version === undefined ? this.#record.head(coordinationId) : parseVersion(version, 'version');
    if (at === undefined) throw new VprError('NOT_FOUND', `no ${kind} with this id`);
    return this.#view(
      patientId,
      coordinationId,
      kind,
      id,
      at,
      await this.#read(coordinationId, kind, id, at),
    );
  }

  /** A patient's events of a kind in time order; upcoming ones only when asked. */
  async list(
    patientId: unknown,
    kindValue: unknown,
    query: { upcoming?: boolean; from?: string; limit?: number; cursor?: string } = {},
  ): Promise<Page<CareEventSummary>> {
    const kind = careEventKindOf(kindValue);
    const coordinationId = await this.#record.idOf(patientId);
    return listCareEvents(this.#record.projection.client, coordinationId, { kind, ...query });
  }

  /** Every appointment of a care location on one day, in time order. */
  async day(query: { care_location?: string; date?: string; limit?: number; cursor?: string }) {
    if (query.care_location === undefined || query.care_location.trim() === '') {
      throw invalidInput('care_location', 'is required');
    }
    return appointmentsOfDay(this.#record.projection.client, {
      careLocation: query.care_location.trim(),
      date: query.date ?? '',
      ...(query.limit === undefined ? {} : { limit: query.limit }),
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    });
  }
}
