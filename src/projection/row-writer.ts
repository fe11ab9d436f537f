// Writing projection rows, many repositories per statement: each table is written with one
// statement per batch over unnest()ed arrays, so a reindex pays a handful of round trips per
// few hundred repositories instead of a dozen per repository. Live projection replaces what a
// repository contributed (delete, then upsert); a reindex fills fresh shadow tables, where every
// row is new, with plain inserts (`fillRepositoryRows`).
//
// Each table's write is a `SqlPart`; `runParts` sends a list of them in as few statements as
// it can, joining parts as data-modifying WITH clauses, so one commit's rows (its documents,
// items, facts and head) usually cost one statement, not eight to twelve (each statement was
// a round trip and a plan of its own; docs/adr/0015-write-path-under-load.md).
import type { SqlClient } from './sql-client.js';
import type { AuditRow } from './audit-rows.js';
import type { DocumentRow, LinkRow, PatientRow, RepositoryRows } from './repository-rows.js';
import type { EntryRow, LetterRow } from './clinical-rows.js';
import type { CareEventRow, ParticipantRow, ThreadRow } from './coordination-rows.js';

/** `upsert` replaces rows that exist; `insert` is for tables known to hold none of these keys. */
type WriteMode = 'upsert' | 'insert';

const DOCUMENT_COLUMNS =
  'kind, repo_id, path, doc_kind, title, snippet, author_name, created_at, updated_at, sha256, commit_sha';

/**
 * One data-modifying statement on one table. A part reads no table, only its parameters, so
 * parts on different tables give the same result whether run one by one or joined; its SQL
 * holds no `$n` inside a literal (the markers are renumbered when parts are joined).
 */
export interface SqlPart {
  readonly table: string;
  readonly sql: string;
  readonly params: readonly unknown[];
}

/**
 * Runs `parts` in order, joining consecutive parts into one statement (each a WITH clause of a
 * `SELECT 1`) until a part writes a table the statement writes already: all clauses of one
 * statement see the same snapshot, so a table's delete and re-insert must stay in order, in
 * statements of their own.
 */
export async function runParts(tx: SqlClient, parts: readonly (SqlPart | undefined)[]): Promise<void> {
  let group: SqlPart[] = [];
  const flush = async () => {
    if (group.length === 1) await tx.query(group[0]!.sql, group[0]!.params);
    else if (group.length > 1) {
      const params: unknown[] = [];
      const clauses = group.map((part, i) => {
        const offset = params.length;
        params.push(...part.params);
        return `w${i} AS (${part.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)})`;
      });
      await tx.query(`WITH ${clauses.join(',\n')}\nSELECT 1`, params);
    }
    group = [];
  };
  for (const part of parts) {
    if (part === undefined) continue;
    if (group.some((p) => p.table === part.table)) await flush();
    group.push(part);
  }
  await flush();
}

/**
 * `upsert` replaces rows that exist but keeps their created_at (a changed file); `replace`
 * replaces them whole, created_at too (a file added back: as if the old row had been deleted).
 */
type DocumentMode = WriteMode | 'replace';

export function documentsPart(rows: readonly DocumentRow[], mode: DocumentMode): SqlPart | undefined {
  if (rows.length === 0) return undefined;
  const column = <K extends keyof DocumentRow>(key: K) => rows.map((r) => r[key]);
  return {
    table: 'documents',
    sql: `INSERT INTO documents (${DOCUMENT_COLUMNS})
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                          $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[])
     ${
       mode === 'insert'
         ? ''
         : `ON CONFLICT (kind, repo_id, path) DO UPDATE SET
       doc_kind = excluded.doc_kind, title = excluded.title, snippet = excluded.snippet,
       author_name = excluded.author_name, updated_at = excluded.updated_at,
       sha256 = excluded.sha256, commit_sha = excluded.commit_sha${mode === 'replace' ? ', created_at = excluded.created_at' : ''}`
     }`,
    params: [
      column('kind'),
      column('repoId'),
      column('path'),
      column('docKind'),
      column('title'),
      column('snippet'),
      column('authorName'),
      column('createdAt'),
      column('updatedAt'),
      column('sha256'),
      column('commitSha'),
    ],
  };
}

/**
 * Removes the rows of `table` whose `column` is one of `values`, only those whose columns also
 * equal `within` when given (one repository's rows). Column names are this module's constants.
 */
export function removalPart(
  table: string,
  column: string,
  values: readonly string[],
  within: Readonly<Record<string, string>> = {},
): SqlPart | undefined {
  if (values.length === 0) return undefined;
  const scope = Object.keys(within).map((key, i) => `${key} = $${i + 2} AND `);
  return {
    table,
    sql: `DELETE FROM ${table} WHERE ${scope.join('')}${column} = ANY($1::text[])`,
    params: [values, ...Object.values(within)],
  };
}

/**
 * Adds or updates patient rows. An existing row keeps its created_at: when a patient was created
 * never changes, so an incremental projection need not look it up.
 */
function patientsPart(rows: readonly PatientRow[], mode: WriteMode): SqlPart | undefined {
  if (rows.length === 0) return undefined;
  const column = <K extends keyof PatientRow>(key: K) => rows.map((r) => r[key]);
  return {
    table: 'patients',
    sql: `INSERT INTO patients (patient_id, family_name, given_names, family_name_key, given_name_key, birth_date,
       email, phone, deleted, version, created_at, updated_at, commit_sha)
     SELECT p.*, p.version FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[],
       $7::text[], $8::text[], $9::boolean[], $10::text[], $11::timestamptz[], $12::timestamptz[])
       AS p(patient_id, family_name, given_names, family_name_key, given_name_key, birth_date, email, phone,
            deleted, version, created_at, updated_at)
     ${
       mode === 'insert'
         ? ''
         : `ON CONFLICT (patient_id) DO UPDATE SET
       family_name = excluded.family_name, given_names = excluded.given_names,
       family_name_key = excluded.family_name_key, given_name_key = excluded.given_name_key,
       birth_date = excluded.birth_date, email = excluded.email, phone = excluded.phone,
       deleted = excluded.deleted, version = excluded.version,
       updated_at = excluded.updated_at, commit_sha = excluded.commit_sha`
     }`,
    params: [
      column('patientId'),
      column('familyName'),
      column('givenNames'),
      column('familyNameKey'),
      column('givenNameKey'),
      column('birthDate'),
      column('email'),
      column('phone'),
      column('deleted'),
      column('version'),
      column('createdAt'),
      column('updatedAt'),
    ],
  };
}

type LinkTable = 'clinical_links' | 'coordination_links';

const LINK_COLUMNS: Readonly<Record<LinkTable, readonly [string, string]>> = {
  clinical_links: ['clinical_id', 'patient_id'],
  coordination_links: ['coordination_id', 'clinical_id'],
};

/** Link rows: `upsert` replaces a repository's link that exists (live), `insert` adds new ones. */
function linksPart(table: LinkTable, rows: readonly LinkRow[], mode: WriteMode): SqlPart | undefined {
  if (rows.length === 0) return undefined;
  const [key, target] = LINK_COLUMNS[table];
  return {
    table,
    sql: `INSERT INTO ${table} (${key}, ${target}, commit_sha) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
     ${mode === 'insert' ? '' : `ON CONFLICT (${key}) DO UPDATE SET ${target} = excluded.${target}, commit_sha = excluded.commit_sha`}`,
    params: [rows.map((r) => r.from), rows.map((r) => r.to), rows.map((r) => r.commitSha)],
  };
}

/** The link rows of the given repositories, of one kind. */
function linksOf(batch: readonly RepositoryRows[], table: LinkTable): LinkRow[] {
  return batch.flatMap((r) => {
    const link = table === 'clinical_links' ? r.facts.clinicalLink : r.facts.coordinationLink;
    return link ? [link] : [];
  });
}

function patientsOf(batch: readonly RepositoryRows[]): PatientRow[] {
  return batch.flatMap((r) => (r.facts.patient ? [r.facts.patient] : []));
}

/**
 * The facts of each repository, as parts: patients removed or upserted, links upserted, and
 * the links of repositories that no longer have one removed.
 */
export function factParts(batch: readonly RepositoryRows[]): (SqlPart | undefined)[] {
  const of = (kind: RepositoryRows['kind']) => batch.filter((r) => r.kind === kind);
  const gone = of('demographics')
    .filter((r) => r.facts.patient === null)
    .map((r) => r.id);
  const parts: (SqlPart | undefined)[] = [
    removalPart('patients', 'patient_id', gone),
    patientsPart(patientsOf(batch), 'upsert'),
  ];
  for (const [table, kind] of [
    ['clinical_links', 'clinical'],
    ['coordination_links', 'coordination'],
  ] as const) {
    const unlinked = of(kind)
      .filter((r) => !(table === 'clinical_links' ? r.facts.clinicalLink : r.facts.coordinationLink))
      .map((r) => r.id);
    parts.push(
      linksPart(table, linksOf(batch, table), 'upsert'),
      removalPart(table, LINK_COLUMNS[table][0], unlinked),
    );
  }
  return parts;
}

/**
 * Records the commit each repository's rows came from, and when: the clock at this statement,
 * not the transaction's start, so the time is later than the HEAD read it follows (a reindex
 * relies on that to find what was projected while it ran, see reindex.ts).
 */
export function headsPart(
  batch: readonly { kind: string; id: string; head: string }[],
  mode: WriteMode,
): SqlPart | undefined {
  if (batch.length === 0) return undefined;
  return {
    table: 'repositories',
    sql: `INSERT INTO repositories (kind, id, head_commit, projected_at)
     SELECT kind, id, head, clock_timestamp() FROM unnest($1::text[], $2::text[], $3::text[]) AS r(kind, id, head)
     ${mode === 'insert' ? '' : 'ON CONFLICT (kind, id) DO UPDATE SET head_commit = excluded.head_commit, projected_at = excluded.projected_at'}`,
    params: [batch.map((r) => r.kind), batch.map((r) => r.id), batch.map((r) => r.head)],
  };
}

/** Adds audit rows; a commit already recorded is left as it is (its row never changes). */
export function auditPart(rows: readonly AuditRow[], mode: WriteMode = 'upsert'): SqlPart | undefined {
  if (rows.length === 0) return undefined;
  return {
    table: 'audit_log',
    sql: `INSERT INTO audit_log (patient_id, commit_sha, occurred_at, actor, action, changed_fields)
     SELECT r.patient_id, r.commit_sha, r.occurred_at, r.actor, r.action,
            CASE WHEN r.fields = '' THEN '{}'::text[] ELSE string_to_array(r.fields, chr(31)) END
       FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[])
         AS r(patient_id, commit_sha, occurred_at, actor, action, fields)
     ${mode === 'insert' ? '' : 'ON CONFLICT (patient_id, commit_sha) DO NOTHING'}`,
    params: [
      rows.map((r) => r.patientId),
      rows.map((r) => r.commitSha),
      rows.map((r) => r.occurredAt),
      rows.map((r) => r.actor),
      rows.map((r) => r.action),
      // One text per row (unnest cannot take ragged arrays), fields joined by the unit separator.
      rows.map((r) => r.changedFields.join('\u001f')),
    ],
  };
}

/** Inserts or replaces letter rows; an existing row keeps its created_at. */
export function lettersPart(rows: readonly LetterRow[], mode: WriteMode = 'upsert'): SqlPart | undefined {
  if (rows.length === 0) return undefined;
  const column = <K extends keyof LetterRow>(key: K) => rows.map((r) => r[key]);
  return {
    table: 'letters',
    sql: `INSERT INTO letters (clinical_id, letter_id, title, snippet, status, composer_name, composer_role,
       composer_email, care_location, start_time, references_letter, has_body, attachment_count,
       created_at, updated_at, commit_sha)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
       $8::text[], $9::text[], $10::timestamptz[], $11::text[], $12::boolean[], $13::int[],
       $14::timestamptz[], $15::timestamptz[], $16::text[])
     ${
       mode === 'insert'
         ? ''
         : `ON CONFLICT (clinical_id, letter_id) DO UPDATE SET
       title = excluded.title, snippet = excluded.snippet, status = excluded.status,
       composer_name = excluded.composer_name, composer_role = excluded.composer_role,
       composer_email = excluded.composer_email, care_location = excluded.care_location,
       start_time = excluded.start_time, references_letter = excluded.references_letter,
       has_body = excluded.has_body, attachment_count = excluded.attachment_count,
       updated_at = excluded.updated_at, commit_sha = excluded.commit_sha`
     }`,
    params: [
      column('clinicalId'),
      column('letterId'),
      column('title'),
      column('snippet'),
      column('status'),
      column('composerName'),
      column('composerRole'),
      column('composerEmail'),
      column('careLocation'),
      column('startTime'),
      column('referencesLetter'),
      column('hasBody'),
      column('attachmentCount'),
      column('createdAt'),
      column('updatedAt'),
      column('commitSha'),
    ],
  };
}

/** Inserts or replaces structured entry rows; an existing row keeps its created_at. */
export function entriesPart(rows: readonly EntryRow[], mode: WriteMode = 'upsert'): SqlPart | undefined {
  if (rows.length === 0) return undefined;
  const column = <K extends keyof EntryRow>(key: K) => rows.map((r) => r[key]);
  return {
    table: 'clinical_entries',
    sql: `INSERT INTO clinical_entries (clinical_id, entry_id, entry_kind, path, recorded_at, title, summary,
       supersedes, data, created_at, updated_at, commit_sha)
     SELECT r.clinical_id, r.entry_id, r.entry_kind, r.path, r.recorded_at, r.title, r.summary, r.supersedes,
            r.data::jsonb, r.created_at, r.updated_at, r.commit_sha
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
                   $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[])
         AS r(clinical_id, entry_id, entry_kind, path, recorded_at, title, summary, supersedes, data,
              created_at, updated_at, commit_sha)
     ${
       mode === 'insert'
         ? ''
         : `ON CONFLICT (clinical_id, entry_id) DO UPDATE SET
       entry_kind = excluded.entry_kind, path = excluded.path, recorded_at = excluded.recorded_at,
       title = excluded.title, summary = excluded.summary, supersedes = excluded.supersedes,
       data = excluded.data, updated_at = excluded.updated_at, commit_sha = excluded.commit_sha`
     }`,
    params: [
      column('clinicalId'),
      column('entryId'),
      column('entryKind'),
      column('path'),
      column('recordedAt'),
      column('title'),
      column('summary'),
      column('supersedes'),
      column('data'),
      column('createdAt'),
      column('updatedAt'),
      column('commitSha'),
    ],
  };
}

/** Inserts or replaces thread rows (a thread keeps its created_at). */
export function threadsPart(threads: readonly ThreadRow[], mode: WriteMode = 'upsert'): SqlPart | undefined {
  if (threads.length === 0) return undefined;
  const column = <K extends keyof ThreadRow>(key: K) => threads.map((r) => r[key]);
  return {
    table: 'threads',
    sql: `INSERT INTO threads (coordination_id, communication_id, status, sensitivity, restricted,
         allow_patient_participation, message_count, last_message_at, last_message_snippet, last_author_name,
         created_at, last_updated_at, commit_sha)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::boolean[],
         $7::int[], $8::timestamptz[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::text[])
       ${
         mode === 'insert'
           ? ''
           : `ON CONFLICT (coordination_id, communication_id) DO UPDATE SET
         status = excluded.status, sensitivity = excluded.sensitivity, restricted = excluded.restricted,
         allow_patient_participation = excluded.allow_patient_participation,
         message_count = excluded.message_count, last_message_at = excluded.last_message_at,
         last_message_snippet = excluded.last_message_snippet, last_author_name = excluded.last_author_name,
         last_updated_at = excluded.last_updated_at, commit_sha = excluded.commit_sha`
       }`,
    params: [
      column('coordinationId'),
      column('communicationId'),
      column('status'),
      column('sensitivity'),
      column('restricted'),
      column('allowPatientParticipation'),
      column('messageCount'),
      column('lastMessageAt'),
      column('lastMessageSnippet'),
      column('lastAuthorName'),
      column('createdAt'),
      column('lastUpdatedAt'),
      column('commitSha'),
    ],
  };
}

/**
 * Adds participant rows (the caller removes a thread's old participants first, in an earlier
 * statement; a reindex's tables hold none).
 */
export function participantsPart(participants: readonly ParticipantRow[]): SqlPart | undefined {
  if (participants.length === 0) return undefined;
  const column = <K extends keyof ParticipantRow>(key: K) => participants.map((r) => r[key]);
  return {
    table: 'thread_participants',
    sql: `INSERT INTO thread_participants (coordination_id, communication_id, participant_id, role, display_name)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])`,
    params: [
      column('coordinationId'),
      column('communicationId'),
      column('participantId'),
      column('role'),
      column('displayName'),
    ],
  };
}

/** Inserts or replaces appointment, encounter and referral rows (created_at kept). */
export function careEventsPart(
  rows: readonly CareEventRow[],
  mode: WriteMode = 'upsert',
): SqlPart | undefined {
  if (rows.length === 0) return undefined;
  const column = <K extends keyof CareEventRow>(key: K) => rows.map((r) => r[key]);
  return {
    table: 'care_events',
    sql: `INSERT INTO care_events (coordination_id, event_id, event_kind, status, start_at, end_at, care_location,
       title, snippet, created_at, updated_at, commit_sha)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
       $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[])
     ${
       mode === 'insert'
         ? ''
         : `ON CONFLICT (coordination_id, event_id) DO UPDATE SET
       event_kind = excluded.event_kind, status = excluded.status, start_at = excluded.start_at,
       end_at = excluded.end_at, care_location = excluded.care_location, title = excluded.title,
       snippet = excluded.snippet, updated_at = excluded.updated_at, commit_sha = excluded.commit_sha`
     }`,
    params: [
      column('coordinationId'),
      column('eventId'),
      column('eventKind'),
      column('status'),
      column('startAt'),
      column('endAt'),
      column('careLocation'),
      column('title'),
      column('snippet'),
      column('createdAt'),
      column('updatedAt'),
      column('commitSha'),
    ],
  };
}

/** The fields of RepositoryRows that are lists of rows. */
type RowListKey = 'documents' | 'audit' | 'letters' | 'entries' | 'threads' | 'participants' | 'careEvents';

/**
 * The rows the given repositories contribute, table by table, then the commit each came from:
 * with `upsert` the facts also remove patients and links that are gone.
 */
function rowParts(batch: readonly RepositoryRows[], mode: WriteMode): (SqlPart | undefined)[] {
  /** The rows of one kind from every repository of the batch. */
  const all = <K extends RowListKey>(key: K) => batch.flatMap((r) => r[key] as RepositoryRows[K][number][]);
  return [
    documentsPart(all('documents'), mode),
    ...(mode === 'upsert'
      ? factParts(batch)
      : [
          patientsPart(patientsOf(batch), mode),
          linksPart('clinical_links', linksOf(batch, 'clinical_links'), mode),
          linksPart('coordination_links', linksOf(batch, 'coordination_links'), mode),
        ]),
    auditPart(all('audit'), mode),
    lettersPart(all('letters'), mode),
    entriesPart(all('entries'), mode),
    threadsPart(all('threads'), mode),
    participantsPart(all('participants')),
    careEventsPart(all('careEvents'), mode),
    headsPart(batch, mode),
  ];
}

/** Replaces everything the given repositories contribute, and records the commit each came from. */
export async function writeRepositoryRows(tx: SqlClient, batch: readonly RepositoryRows[]): Promise<void> {
  if (batch.length === 0) return;
  const ids = (kind: RepositoryRows['kind']) => batch.filter((r) => r.kind === kind).map((r) => r.id);
  const [demographics, clinical, coordination] = [ids('demographics'), ids('clinical'), ids('coordination')];
  // Everything the repositories held goes first; the tables written afresh follow, in later statements.
  await runParts(tx, [
    {
      table: 'documents',
      sql: `DELETE FROM documents d USING unnest($1::text[], $2::text[]) AS r(kind, id)
     WHERE d.kind = r.kind AND d.repo_id = r.id`,
      params: [batch.map((r) => r.kind), batch.map((r) => r.id)],
    },
    removalPart('audit_log', 'patient_id', demographics),
    removalPart('letters', 'clinical_id', clinical),
    removalPart('clinical_entries', 'clinical_id', clinical),
    ...['threads', 'thread_participants', 'care_events'].map((table) =>
      removalPart(table, 'coordination_id', coordination),
    ),
    ...rowParts(batch, 'upsert'),
  ]);
}

/**
 * Adds the rows of repositories that the tables do not hold yet (a reindex's fresh shadow
 * tables): plain inserts, with no lookups of rows to replace, one statement per table as the
 * reindex was measured (docs/adr/0006-reindex-in-worker-threads.md).
 */
export async function fillRepositoryRows(tx: SqlClient, batch: readonly RepositoryRows[]): Promise<void> {
  if (batch.length === 0) return;
  for (const part of rowParts(batch, 'insert')) await runParts(tx, [part]);
}
