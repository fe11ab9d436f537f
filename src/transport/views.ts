// What both doors answer for the projection's lists and for contributions: the one mapping from
// the services' page items to the API's snake_case shapes, so REST JSON and gRPC messages carry
// the same fields with the same names.
import type { Page } from '../projection/page-cursor.js';
import type { EntrySummary, LetterSummary } from '../projection/clinical-queries.js';
import type { CareEventSummary, ThreadSummary } from '../projection/coordination-queries.js';
import type { ContributionService } from '../services/contribution-service.js';

function letterSummary(l: LetterSummary) {
  return {
    letter_id: l.letterId,
    patient_id: l.patientId,
    clinical_id: l.clinicalId,
    title: l.title,
    snippet: l.snippet,
    status: l.status,
    composer_name: l.composerName,
    composer_role: l.composerRole,
    care_location: l.careLocation,
    start_time: l.startTime,
    references: l.referencesLetter,
    superseded_by: l.supersededBy,
    has_body: l.hasBody,
    attachment_count: l.attachmentCount,
    created_at: l.createdAt,
    updated_at: l.updatedAt,
  };
}

export function letterPage(page: Page<LetterSummary>) {
  return { letters: page.items.map(letterSummary), next_cursor: page.nextCursor };
}

export function entryPage(page: Page<EntrySummary>) {
  return {
    entries: page.items.map((e) => ({
      entry_id: e.entryId,
      kind: e.kind,
      recorded_at: e.recordedAt,
      title: e.title,
      summary: e.summary,
      supersedes: e.supersedes,
      superseded_by: e.supersededBy,
      current: e.current,
      data: e.data,
      updated_at: e.updatedAt,
    })),
    next_cursor: page.nextCursor,
  };
}

type ContributionPageOf = Awaited<ReturnType<ContributionService['list']>>;
type ContributionOf = Awaited<ReturnType<ContributionService['get']>>;

export function contributionPage(page: ContributionPageOf) {
  return {
    contributions: page.items.map((d) => ({
      path: d.path,
      title: d.title,
      snippet: d.snippet,
      author_name: d.authorName,
      created_at: d.createdAt,
    })),
    next_cursor: page.nextCursor,
  };
}

export function contributionView(c: ContributionOf) {
  return {
    id: c.id,
    kind: c.kind,
    path: c.path,
    commit: c.commit,
    recorded_at: c.recordedAt,
    contributor: c.contributor,
    ...(c.aboutLetter === undefined ? {} : { about_letter: c.aboutLetter }),
    data: c.data,
  };
}

function threadSummary(t: ThreadSummary) {
  return {
    communication_id: t.communicationId,
    patient_id: t.patientId,
    coordination_id: t.coordinationId,
    status: t.status,
    sensitivity: t.sensitivity,
    restricted: t.restricted,
    allow_patient_participation: t.allowPatientParticipation,
    message_count: t.messageCount,
    last_message_at: t.lastMessageAt,
    last_message_snippet: t.lastMessageSnippet,
    last_author_name: t.lastAuthorName,
    participants: t.participants.map((p) => ({
      participant_id: p.participantId,
      role: p.role,
      display_name: p.displayName,
    })),
    created_at: t.createdAt,
    last_updated_at: t.lastUpdatedAt,
  };
}

export function threadPage(page: Page<ThreadSummary>) {
  return { threads: page.items.map(threadSummary), next_cursor: page.nextCursor };
}

function eventSummary(e: CareEventSummary) {
  return {
    event_id: e.eventId,
    kind: e.eventKind,
    patient_id: e.patientId,
    status: e.status,
    start: e.startAt,
    end: e.endAt,
    care_location: e.careLocation,
    title: e.title,
    snippet: e.snippet,
    updated_at: e.updatedAt,
  };
}

export function careEventPage(page: Page<CareEventSummary>) {
  return { events: page.items.map(eventSummary), next_cursor: page.nextCursor };
}
