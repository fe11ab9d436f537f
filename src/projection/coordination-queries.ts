// Coordination lists served from the projection only (never from Git): a patient's threads or
// the threads one participant takes part in, newest first; a patient's appointments, encounters
// or referrals in time order (those not yet scheduled last; only upcoming ones when asked); and
// every appointment of one care location on one day, paginated. Lists across patients leave out
// soft-deleted patients.
import { invalidInput } from '../core/errors.js';
import { guardProjection } from './patient-queries.js';
import { decodeCursor, encodeCursor, pageLimit, type Page } from './page-cursor.js';
import type { CareEventRow, ThreadRow } from './coordination-rows.js';
import type { SqlClient } from './sql-client.js';

export type { Page } from './page-cursor.js';

export interface ThreadSummary extends Omit<ThreadRow, 'commitSha'> {
  readonly patientId: string | null;
  readonly participants: readonly { participantId: string; role: string; displayName: string }[];
}

export type CareEventSummary = Omit<CareEventRow, 'commitSha'> & { readonly patientId: string | null };

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));

/** The patient behind a coordination record: coordination → clinical → patient links. */
const PATIENT_OF = `(SELECT k.patient_id FROM coordination_links c JOIN clinical_links k ON k.clinical_id = c.clinical_id
    WHERE c.coordination_id = t.coordination_id)`;

/** For lists across patients: the record's patient is not soft-deleted. */
const PATIENT_NOT_DELETED = `NOT EXISTS (SELECT 1 FROM coordination_links c
    JOIN clinical_links k ON k.clinical_id = c.clinical_id
    JOIN patients p ON p.patient_id = k.patient_id
   WHERE c.coordination_id = t.coordination_id AND p.deleted)`;

export interface ThreadFilter {
  readonly coordinationId?: string;
  readonly participantId?: string;
  readonly status?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

/** Threads newest first (thread ids sort by creation time), with their participants. */
export async function listThreads(client: SqlClient, filter: ThreadFilter): Promise<Page<ThreadSummary>> {
  const limit = pageLimit(filter.limit);
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (n: number) => string, value: unknown) => {
    params.push(value);
    where.push(sql(params.length));
  };
  if (filter.coordinationId !== undefined) add((n) => `t.coordination_id = $${n}`, filter.coordinationId);
  if (filter.participantId !== undefined) {
    add(
      (n) => `(t.coordination_id, t.communication_id) IN (SELECT p.coordination_id, p.communication_id
        FROM thread_participants p WHERE p.participant_id = $${n})`,
      filter.participantId,
    );
    if (filter.coordinationId === undefined) where.push(PATIENT_NOT_DELETED);
  }
  if (filter.status !== undefined) {
    if (!['open', 'closed', 'archived'].includes(filter.status)) {
      throw invalidInput('status', 'must be open, closed or archived');
    }
    add((n) => `t.status = $${n}`, filter.status);
  }
  if (filter.cursor !== undefined) {
    const [communicationId, coordinationId] = decodeCursor(filter.cursor);
    params.push(communicationId, coordinationId);
    where.push(`(t.communication_id, t.coordination_id) < ($${params.length - 1}, $${params.length})`);
  }
  params.push(limit + 1);
  const rows = await guardProjection(() =>
    client.query(
      `SELECT t.*, ${PATIENT_OF} AS patient_id,
              (SELECT coalesce(json_agg(json_build_object('participantId', p.participant_id, 'role', p.role,
                        'displayName', p.display_name) ORDER BY p.participant_id), '[]'::json)
                 FROM thread_participants p
                WHERE p.coordination_id = t.coordination_id AND p.communication_id = t.communication_id) AS people
         FROM threads t ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
        ORDER BY t.communication_id DESC, t.coordination_id DESC LIMIT $${params.length}`,
      params,
    ),
  );
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map((row) => ({
      coordinationId: String(row.coordination_id),
      communicationId: String(row.communication_id),
      patientId: (row.patient_id as string | null) ?? null,
      status: String(row.status),
      sensitivity: String(row.sensitivity),
      restricted: row.restricted === true,
      allowPatientParticipation: row.allow_patient_participation === true,
      messageCount: Number(row.message_count),
      lastMessageAt: isoOrNull(row.last_message_at),
      lastMessageSnippet: String(row.last_message_snippet),
      lastAuthorName: String(row.last_author_name),
      createdAt: iso(row.created_at),
      lastUpdatedAt: iso(row.last_updated_at),
      participants: (typeof row.people === 'string'
        ? JSON.parse(row.people)
        : row.people) as ThreadSummary['participants'],
    })),
    nextCursor:
      rows.length > limit && last !== undefined
        ? encodeCursor(String(last.communication_id), String(last.coordination_id))
        : null,
  };
}

function careEventOf(row: Record<string, unknown>): CareEventSummary {
  return {
    coordinationId: String(row.coordination_id),
    patientId: (row.patient_id as string | null) ?? null,
    eventId: String(row.event_id),
    eventKind: String(row.event_kind),
    status: String(row.status),
    startAt: isoOrNull(row.start_at),
    endAt: isoOrNull(row.end_at),
    careLocation: (row.care_location as string | null) ?? null,
    title: String(row.title),
    snippet: String(row.snippet),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

const EVENT_COLUMNS = `t.coordination_id, t.event_id, t.event_kind, t.status, t.start_at, t.end_at, t.care_location,
  t.title, t.snippet, t.created_at, t.updated_at, ${PATIENT_OF} AS patient_id`;

/** Events that did not happen, or are not going to: left out of "upcoming". */
const NOT_HAPPENING = `('cancelled', 'noshow', 'entered-in-error', 'revoked')`;

/** A patient's events of a kind in time order; `from` (default now, when upcoming) bounds the start. */
export async function listCareEvents(
  client: SqlClient,
  coordinationId: string,
  query: { kind: string; from?: string; upcoming?: boolean; limit?: number; cursor?: string },
): Promise<Page<CareEventSummary>> {
  const limit = pageLimit(query.limit);
  const params: unknown[] = [coordinationId, query.kind];
  const where = ['t.coordination_id = $1', 't.event_kind = $2'];
  const from = query.from ?? (query.upcoming === true ? new Date().toISOString() : undefined);
  if (from !== undefined) {
    params.push(from);
    where.push(`t.start_at >= $${params.length}::timestamptz`);
  }
  if (query.upcoming === true) where.push(`t.status NOT IN ${NOT_HAPPENING}`);
  if (query.cursor !== undefined) {
    const [startAt, eventId] = decodeCursor(query.cursor);
    params.push(eventId);
    if (startAt === '') {
      // The last page ended among the unscheduled events (no start), which come last.
      where.push(`t.start_at IS NULL AND t.event_id > $${params.length}`);
    } else {
      params.push(startAt);
      where.push(
        `(t.start_at IS NULL OR (t.start_at, t.event_id) > ($${params.length}::timestamptz, $${params.length - 1}))`,
      );
    }
  }
  params.push(limit + 1);
  const rows = await guardProjection(() =>
    client.query(
      `SELECT ${EVENT_COLUMNS} FROM care_events t WHERE ${where.join(' AND ')}
        ORDER BY t.start_at NULLS LAST, t.event_id LIMIT $${params.length}`,
      params,
    ),
  );
  return pageOfEvents(rows, limit);
}

function pageOfEvents(rows: Record<string, unknown>[], limit: number): Page<CareEventSummary> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(careEventOf),
    nextCursor:
      rows.length > limit && last !== undefined
        ? encodeCursor(last.start_at === null ? '' : iso(last.start_at), String(last.event_id))
        : null,
  };
}

/** Every appointment of one care location starting on one UTC day, in time order. */
export async function appointmentsOfDay(
  client: SqlClient,
  query: { careLocation: string; date: string; limit?: number; cursor?: string },
): Promise<Page<CareEventSummary>> {
  const limit = pageLimit(query.limit);
  const start = new Date(`${query.date}T00:00:00Z`);
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(query.date) ||
    Number.isNaN(start.getTime()) ||
    start.toISOString().slice(0, 10) !== query.date
  ) {
    throw invalidInput('date', 'must be a date that exists, YYYY-MM-DD');
  }
  const end = new Date(start.getTime() + 24 * 60 * 60 * 1000);
  const params: unknown[] = [query.careLocation, start.toISOString(), end.toISOString()];
  const where = [
    't.care_location = $1',
    `t.event_kind = 'appointment'`,
    't.start_at >= $2::timestamptz',
    't.start_at < $3::timestamptz',
    PATIENT_NOT_DELETED,
  ];
  if (query.cursor !== undefined) {
    const [startAt, eventId] = decodeCursor(query.cursor);
    params.push(startAt, eventId);
    where.push(`(t.start_at, t.event_id) > ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  params.push(limit + 1);
  const rows = await guardProjection(() =>
    client.query(
      `SELECT ${EVENT_COLUMNS} FROM care_events t WHERE ${where.join(' AND ')}
        ORDER BY t.start_at, t.event_id LIMIT $${params.length}`,
      params,
    ),
  );
  return pageOfEvents(rows, limit);
}
