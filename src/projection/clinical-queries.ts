// Clinical lists served from the projection only (never from Git): a patient's letters newest
// first, the cross-patient queue of letters needing sign-off (oldest first, optionally for one
// author or care location), and a patient's structured entries of a kind over a time range.
// Whether a letter or entry is superseded is asked here, from the rows that reference it.
import { guardProjection } from './patient-queries.js';
import { decodeCursor, encodeCursor, pageLimit, type Page } from './page-cursor.js';
import type { SqlClient } from './sql-client.js';
import type { LetterRow } from './clinical-rows.js';
import type { DocumentRow } from './repository-rows.js';

/** A letter as lists show it: its projected row, the patient it belongs to and what supersedes it. */
export interface LetterSummary extends Omit<LetterRow, 'composerEmail' | 'commitSha'> {
  readonly patientId: string | null;
  readonly supersededBy: string | null;
}

export interface EntrySummary {
  readonly entryId: string;
  readonly kind: string;
  readonly recordedAt: string;
  readonly title: string;
  readonly summary: string;
  readonly supersedes: string | null;
  readonly supersededBy: string | null;
  readonly current: boolean;
  readonly data: unknown;
  readonly updatedAt: string;
}

export type { Page } from './page-cursor.js';

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));

const LETTER_COLUMNS = `l.clinical_id, k.patient_id, l.letter_id, l.title, l.snippet, l.status, l.composer_name,
  l.composer_role, l.care_location, l.start_time, l.references_letter, l.has_body, l.attachment_count,
  l.created_at, l.updated_at,
  (SELECT min(s.letter_id) FROM letters s
    WHERE s.clinical_id = l.clinical_id AND s.references_letter = l.letter_id) AS superseded_by`;

function letterOf(row: Record<string, unknown>): LetterSummary {
  return {
    clinicalId: String(row.clinical_id),
    patientId: (row.patient_id as string | null) ?? null,
    letterId: String(row.letter_id),
    title: String(row.title),
    snippet: String(row.snippet),
    status: String(row.status),
    composerName: String(row.composer_name),
    composerRole: String(row.composer_role),
    careLocation: String(row.care_location),
    startTime: isoOrNull(row.start_time),
    referencesLetter: (row.references_letter as string | null) ?? null,
    supersededBy: (row.superseded_by as string | null) ?? null,
    hasBody: row.has_body === true,
    attachmentCount: Number(row.attachment_count),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

function pageOf<T>(
  rows: Record<string, unknown>[],
  limit: number,
  map: (row: Record<string, unknown>) => T,
  key: (row: Record<string, unknown>) => [string, string],
): Page<T> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(map),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(...key(last)) : null,
  };
}

/** A patient's letters, newest first (letter ids sort by creation time). */
export async function listLetters(
  client: SqlClient,
  clinicalId: string,
  query: { limit?: number; cursor?: string } = {},
): Promise<Page<LetterSummary>> {
  const limit = pageLimit(query.limit);
  const params: unknown[] = [clinicalId];
  let after = '';
  if (query.cursor !== undefined) {
    const [letterId] = decodeCursor(query.cursor);
    params.push(letterId);
    after = `AND l.letter_id < $${params.length}`;
  }
  params.push(limit + 1);
  const rows = await guardProjection(() =>
    client.query(
      `SELECT ${LETTER_COLUMNS} FROM letters l LEFT JOIN clinical_links k ON k.clinical_id = l.clinical_id
        WHERE l.clinical_id = $1 ${after} ORDER BY l.letter_id DESC LIMIT $${params.length}`,
      params,
    ),
  );
  return pageOf(rows, limit, letterOf, (r) => [String(r.letter_id), '']);
}

export interface SignOffFilter {
  /** The composer's email address. */
  readonly author?: string;
  readonly careLocation?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

/**
 * Letters needing sign-off across every patient, oldest first: drafts that no later letter
 * supersedes, of patients that are not soft-deleted. Each filter has its own partial index, so the queue is a short index range scan.
 */
export async function signOffQueue(
  client: SqlClient,
  filter: SignOffFilter = {},
): Promise<Page<LetterSummary>> {
  const limit = pageLimit(filter.limit);
  const where = [`l.status = 'draft'`];
  const params: unknown[] = [];
  if (filter.author !== undefined) {
    params.push(filter.author.trim().toLowerCase());
    where.push(`l.composer_email = $${params.length}`);
  }
  if (filter.careLocation !== undefined) {
    params.push(filter.careLocation.trim());
    where.push(`l.care_location = $${params.length}`);
  }
  if (filter.cursor !== undefined) {
    const [letterId, clinicalId] = decodeCursor(filter.cursor);
    params.push(letterId, clinicalId);
    where.push(`(l.letter_id, l.clinical_id) > ($${params.length - 1}, $${params.length})`);
  }
  where.push(`NOT EXISTS (SELECT 1 FROM letters s
    WHERE s.clinical_id = l.clinical_id AND s.references_letter = l.letter_id)`);
  // Not for soft-deleted patients.
  where.push(`NOT EXISTS (SELECT 1 FROM clinical_links d JOIN patients p ON p.patient_id = d.patient_id
    WHERE d.clinical_id = l.clinical_id AND p.deleted)`);
  params.push(limit + 1);
  const rows = await guardProjection(() =>
    client.query(
      `SELECT ${LETTER_COLUMNS} FROM letters l LEFT JOIN clinical_links k ON k.clinical_id = l.clinical_id
        WHERE ${where.join(' AND ')} ORDER BY l.letter_id, l.clinical_id LIMIT $${params.length}`,
      params,
    ),
  );
  return pageOf(rows, limit, letterOf, (r) => [String(r.letter_id), String(r.clinical_id)]);
}

export interface EntryFilter {
  readonly kind?: string;
  /** Inclusive lower bound of recorded_at (ISO 8601). */
  readonly from?: string;
  /** Exclusive upper bound of recorded_at. */
  readonly to?: string;
  /** Only entries no other entry supersedes. */
  readonly current?: boolean;
  readonly limit?: number;
  readonly cursor?: string;
}

/** A patient's entries, newest first by the time they record. */
export async function listEntries(
  client: SqlClient,
  clinicalId: string,
  filter: EntryFilter = {},
): Promise<Page<EntrySummary>> {
  const limit = pageLimit(filter.limit);
  const where = ['e.clinical_id = $1'];
  const params: unknown[] = [clinicalId];
  const add = (sql: (n: number) => string, value: unknown) => {
    params.push(value);
    where.push(sql(params.length));
  };
  if (filter.kind !== undefined) add((n) => `e.entry_kind = $${n}`, filter.kind);
  if (filter.from !== undefined) add((n) => `e.recorded_at >= $${n}::timestamptz`, filter.from);
  if (filter.to !== undefined) add((n) => `e.recorded_at < $${n}::timestamptz`, filter.to);
  if (filter.cursor !== undefined) {
    const [recordedAt, entryId] = decodeCursor(filter.cursor);
    params.push(recordedAt, entryId);
    where.push(`(e.recorded_at, e.entry_id) < ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  const superseding = `(SELECT min(s.entry_id) FROM clinical_entries s
    WHERE s.clinical_id = e.clinical_id AND s.supersedes = e.entry_id)`;
  if (filter.current === true) where.push(`${superseding} IS NULL`);
  params.push(limit + 1);
  const rows = await guardProjection(() =>
    client.query(
      `SELECT e.entry_id, e.entry_kind, e.recorded_at, e.title, e.summary, e.supersedes, e.data, e.updated_at,
              ${superseding} AS superseded_by
         FROM clinical_entries e WHERE ${where.join(' AND ')}
        ORDER BY e.recorded_at DESC, e.entry_id DESC LIMIT $${params.length}`,
      params,
    ),
  );
  return pageOf(
    rows,
    limit,
    (row): EntrySummary => ({
      entryId: String(row.entry_id),
      kind: String(row.entry_kind),
      recordedAt: iso(row.recorded_at),
      title: String(row.title),
      summary: String(row.summary),
      supersedes: (row.supersedes as string | null) ?? null,
      supersededBy: (row.superseded_by as string | null) ?? null,
      current: row.superseded_by === null || row.superseded_by === undefined,
      data: typeof row.data === 'string' ? (JSON.parse(row.data) as unknown) : row.data,
      updatedAt: iso(row.updated_at),
    }),
    (r) => [iso(r.recorded_at), String(r.entry_id)],
  );
}

/** A document as a folder listing shows it. */
export type DocumentListItem = Pick<
  DocumentRow,
  'path' | 'docKind' | 'title' | 'snippet' | 'authorName' | 'createdAt' | 'updatedAt'
>;

/**
 * The documents of one repository under a folder, by file name, last first: newest first where
 * the names are TimestampIds (a patient's contributions), which order to the millisecond where
 * commit times only order to the second.
 */
export async function listDocumentsUnder(
  client: SqlClient,
  kind: string,
  repoId: string,
  folder: string,
  query: { limit?: number; cursor?: string } = {},
): Promise<Page<DocumentListItem>> {
  const limit = pageLimit(query.limit);
  const name = `regexp_replace(path, '^.*/', '')`;
  const params: unknown[] = [kind, repoId, `${folder.replace(/[\\%_]/g, (c) => `\\${c}`)}%`];
  let after = '';
  if (query.cursor !== undefined) {
    const [lastName, lastPath] = decodeCursor(query.cursor);
    params.push(lastName, lastPath);
    after = `AND (${name}, path) < ($${params.length - 1}, $${params.length})`;
  }
  params.push(limit + 1);
  const rows = await guardProjection(() =>
    client.query(
      `SELECT path, ${name} AS name, doc_kind, title, snippet, author_name, created_at, updated_at FROM documents
        WHERE kind = $1 AND repo_id = $2 AND path LIKE $3 ${after}
        ORDER BY ${name} DESC, path DESC LIMIT $${params.length}`,
      params,
    ),
  );
  return pageOf(
    rows,
    limit,
    (row): DocumentListItem => ({
      path: String(row.path),
      docKind: String(row.doc_kind),
      title: String(row.title),
      snippet: String(row.snippet),
      authorName: String(row.author_name),
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
    }),
    (r) => [String(r.name), String(r.path)],
  );
}

/**
 * The newer letter or entry that supersedes one, with the commit the projection holds for the
 * repository: an answer given when that commit is HEAD is fixed until the next commit, so a
 * caller may cache it under HEAD.
 */
export async function supersession(
  client: SqlClient,
  table: 'letters' | 'clinical_entries',
  clinicalId: string,
  itemId: string,
): Promise<{ supersededBy: string | null; projectedHead: string | null }> {
  const sql =
    table === 'letters'
      ? `SELECT (SELECT head_commit FROM repositories WHERE kind = 'clinical' AND id = $1) AS head,
                (SELECT min(letter_id) FROM letters WHERE clinical_id = $1 AND references_letter = $2) AS newer`
      : `SELECT (SELECT head_commit FROM repositories WHERE kind = 'clinical' AND id = $1) AS head,
                (SELECT min(entry_id) FROM clinical_entries WHERE clinical_id = $1 AND supersedes = $2) AS newer`;
  const [row] = await guardProjection(() =>
    client.query<{ head: string | null; newer: string | null }>(sql, [clinicalId, itemId]),
  );
  return { supersededBy: row?.newer ?? null, projectedHead: row?.head ?? null };
}
