// The rows a coordination repository contributes besides its documents: one per messaging thread
// (status, visibility, message count, the last message's time, author and snippet), one per
// participant of a thread (so "open threads I take part in" is one index scan), and one per
// appointment, encounter or referral (kind, status, times, care location). Built from the files
// alone, so the incremental projector, the full projector and the reindex agree.
import { careEventOfPath, careEventSummary, readCareEvent } from '../core/coordination/care-events.js';
import { LEDGER_FILE, communicationIdOfPath, readLedger } from '../core/coordination/ledger.js';
import { THREAD_FILE, parseThread } from '../core/coordination/thread.js';
import type { TimestampId } from '../core/ids/timestamp-id.js';
import type { FileDates } from './clinical-rows.js';

export interface ThreadRow {
  readonly coordinationId: string;
  readonly communicationId: string;
  readonly status: string;
  readonly sensitivity: string;
  readonly restricted: boolean;
  readonly allowPatientParticipation: boolean;
  readonly messageCount: number;
  readonly lastMessageAt: string | null;
  readonly lastMessageSnippet: string;
  readonly lastAuthorName: string;
  readonly createdAt: string;
  readonly lastUpdatedAt: string;
  readonly commitSha: string;
}

export interface ParticipantRow {
  readonly coordinationId: string;
  readonly communicationId: string;
  readonly participantId: string;
  readonly role: string;
  readonly displayName: string;
}

export interface CareEventRow {
  readonly coordinationId: string;
  readonly eventId: string;
  readonly eventKind: string;
  readonly status: string;
  readonly startAt: string | null;
  readonly endAt: string | null;
  readonly careLocation: string | null;
  readonly title: string;
  readonly snippet: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly commitSha: string;
}

const SNIPPET_LENGTH = 160;
const oneLine = (text: string) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= SNIPPET_LENGTH ? flat : `${flat.slice(0, SNIPPET_LENGTH - 1)}…`;
};
const isoOrNull = (value: string | null | undefined) =>
  value === null || value === undefined || Number.isNaN(Date.parse(value))
    ? null
    : new Date(value).toISOString();

/** A thread's rows from its ledger and thread.md; undefined when the ledger is not one. */
export function threadRowsOf(
  coordinationId: string,
  ledgerText: string,
  threadText: string | undefined,
  dates: FileDates,
): { thread: ThreadRow; participants: ParticipantRow[] } | undefined {
  const ledger = readLedger(ledgerText);
  if (ledger === undefined) return undefined;
  let messages: ReturnType<typeof parseThread>['messages'] = [];
  try {
    messages = threadText === undefined ? [] : parseThread(threadText).messages;
  } catch {
    // A thread.md that does not parse is projected as holding no messages; reads report it.
    messages = [];
  }
  const last = messages.at(-1);
  return {
    thread: {
      coordinationId,
      communicationId: ledger.communication_id,
      status: ledger.status,
      sensitivity: ledger.visibility.sensitivity,
      restricted: ledger.visibility.restricted,
      allowPatientParticipation: ledger.policies.allow_patient_participation,
      messageCount: messages.length,
      lastMessageAt: isoOrNull(last?.timestamp),
      lastMessageSnippet: last === undefined ? '' : oneLine(last.body),
      lastAuthorName: last?.authorName ?? '',
      createdAt: isoOrNull(ledger.created_at) ?? dates.createdAt,
      lastUpdatedAt: isoOrNull(ledger.last_updated_at) ?? dates.updatedAt,
      commitSha: dates.commitSha,
    },
    participants: ledger.participants.map((p) => ({
      coordinationId,
      communicationId: ledger.communication_id,
      participantId: p.participant_id,
      role: p.role,
      displayName: p.display_name,
    })),
  };
}

/** The row of one appointment, encounter or referral file; undefined when it is not one. */
export function careEventRowOf(
  coordinationId: string,
  path: string,
  text: string,
  dates: FileDates,
): CareEventRow | undefined {
  const where = careEventOfPath(path);
  if (where === undefined) return undefined;
  const event = readCareEvent(text);
  if (event === undefined || event.kind !== where.kind || event.id !== where.id) return undefined;
  const summary = careEventSummary(event);
  return {
    coordinationId,
    eventId: where.id,
    eventKind: where.kind,
    status: summary.status,
    startAt: isoOrNull(summary.start),
    endAt: isoOrNull(summary.end),
    careLocation: summary.careLocation,
    title: summary.title,
    snippet: summary.snippet,
    createdAt: dates.createdAt,
    updatedAt: dates.updatedAt,
    commitSha: dates.commitSha,
  };
}

export interface CoordinationRows {
  readonly threads: ThreadRow[];
  readonly participants: ParticipantRow[];
  readonly careEvents: CareEventRow[];
}

/** Which thread a path belongs to, and whether it is its ledger or its thread.md. */
export function threadFileOf(
  path: string,
): { communicationId: TimestampId; file: 'ledger' | 'thread' } | undefined {
  const communicationId = communicationIdOfPath(path);
  if (communicationId === undefined) return undefined;
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (path.split('/').length !== 3) return undefined;
  if (name === LEDGER_FILE) return { communicationId, file: 'ledger' };
  if (name === THREAD_FILE) return { communicationId, file: 'thread' };
  return undefined;
}

/** The coordination rows of a whole repository, from every file at HEAD (full projection, reindex). */
export class CoordinationRowCollector {
  readonly #coordinationId: string;
  readonly #threads = new Map<
    TimestampId,
    { ledger?: { text: string; dates: FileDates }; thread?: string }
  >();
  readonly #careEvents: CareEventRow[] = [];

  constructor(coordinationId: string) {
    this.#coordinationId = coordinationId;
  }

  add(path: string, content: Buffer, dates: FileDates): void {
    const threadFile = threadFileOf(path);
    if (threadFile !== undefined) {
      const files = this.#threads.get(threadFile.communicationId) ?? {};
      if (threadFile.file === 'ledger') files.ledger = { text: content.toString('utf8'), dates };
      else files.thread = content.toString('utf8');
      this.#threads.set(threadFile.communicationId, files);
      return;
    }
    const event = careEventRowOf(this.#coordinationId, path, content.toString('utf8'), dates);
    if (event !== undefined) this.#careEvents.push(event);
  }

  rows(): CoordinationRows {
    const threads: ThreadRow[] = [];
    const participants: ParticipantRow[] = [];
    for (const files of this.#threads.values()) {
      if (files.ledger === undefined) continue;
      const rows = threadRowsOf(this.#coordinationId, files.ledger.text, files.thread, files.ledger.dates);
      if (rows === undefined) continue;
      threads.push(rows.thread);
      participants.push(...rows.participants);
    }
    return { threads, participants, careEvents: this.#careEvents };
  }
}
