// Writing projection rows, many repositories per statement: each table is written with one
// statement per batch over unnest()ed arrays, so a reindex pays a handful of round trips per
// few hundred repositories instead of a dozen per repository. Live projection replaces what a
// repository contributed (delete, then upsert); a reindex fills fresh shadow tables, where every
// row is new, with plain inserts (`fillRepositoryRows`).
import type { SqlClient } from './sql-client.js';
import type { AuditRow } from './audit-rows.js';
import type { DocumentRow, LinkRow, PatientRow, RepositoryRows } from './repository-rows.js';
import type { EntryRow, LetterRow } from './clinical-rows.js';
import type { CareEventRow, ParticipantRow, ThreadRow } from './coordination-rows.js';

/** `upsert` replaces rows that exist; `insert` is for tables known to hold none of these keys. */
type WriteMode = 'upsert' | 'insert';

const DOCUMENT_COLUMNS =
  'kind, repo_id, path, doc_kind, title, snippet, author_name, created_at, updated_at, sha256, commit_sha';

async function writeDocuments(tx: SqlClient, rows: readonly DocumentRow[], mode: WriteMode): Promise<void> {
  if (rows.length === 0) return;
  const column = <K extends keyof DocumentRow>(key: K) => rows.map((r) => r[key]);
  await tx.query(
    `INSERT INTO documents (${DOCUMENT_COLUMNS})
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                          $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[])
     ${
       mode === 'insert'
         ? ''
         : `ON CONFLICT (kind, repo_id, path) DO UPDATE SET
       doc_kind = excluded.doc_kind, title = excluded.title, snippet = excluded.snippet,
       author_name = excluded.author_name, updated_at = excluded.updated_at,
       sha256 = excluded.sha256, commit_sha = excluded.commit_sha`
     }`,
    [
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
  );
}

/** Inserts or replaces document rows (created_at of an existing row is kept). */
export async function upsertDocuments(tx: SqlClient, rows: readonly DocumentRow[]): Promise<void> {
  await writeDocuments(tx, rows, 'upsert');
}

/**
 * Adds or updates patient rows. An existing row keeps its created_at: when a patient was created
 * never changes, so an incremental projection need not look it up.
 */
async function writePatients(tx: SqlClient, rows: readonly PatientRow[], mode: WriteMode): Promise<void> {
  if (rows.length === 0) return;
  const column = <K extends keyof PatientRow>(key: K) => rows.map((r) => r[key]);
  await tx.query(
    `INSERT INTO patients (patient_id, family_name, given_names, family_name_key, given_name_key, birth_date,
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
    [
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
  );
}

type LinkTable = 'clinical_links' | 'coordination_links';

const LINK_COLUMNS: Readonly<Record<LinkTable, readonly [string, string]>> = {
  clinical_links: ['clinical_id', 'patient_id'],
  coordination_links: ['coordination_id', 'clinical_id'],
};

async function insertLinks(tx: SqlClient, table: LinkTable, rows: readonly LinkRow[]): Promise<void> {
  if (rows.length === 0) return;
  const [key, target] = LINK_COLUMNS[table];
  await tx.query(
    `INSERT INTO ${table} (${key}, ${target}, commit_sha) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`,
    [rows.map((r) => r.from), rows.map((r) => r.to), rows.map((r) => r.commitSha)],
  );
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

/** The facts of each repository: patients upserted or removed, links replaced. */
export async function writeFacts(tx: SqlClient, batch: readonly RepositoryRows[]): Promise<void> {
  const of = (kind: RepositoryRows['kind']) => batch.filter((r) => r.kind === kind);
  const gone = of('demographics')
    .filter((r) => r.facts.patient === null)
    .map((r) => r.id);
  if (gone.length > 0) await tx.query('DELETE FROM patients WHERE patient_id = ANY($1::text[])', [gone]);
  await writePatients(tx, patientsOf(batch), 'upsert');
  for (const [table, kind] of [
    ['clinical_links', 'clinical'],
    ['coordination_links', 'coordination'],
  ] as const) {
    const ids = of(kind).map((r) => r.id);
    if (ids.length === 0) continue;
    await tx.query(`DELETE FROM ${table} WHERE ${LINK_COLUMNS[table][0]} = ANY($1::text[])`, [ids]);
    await insertLinks(tx, table, linksOf(batch, table));
  }
}

/**
 * Records the commit each repository's rows came from, and when: the clock at this statement,
 * not the transaction's start, so the time is later than the HEAD read it follows (a reindex
 * relies on that to find what was projected while it ran, see reindex.ts).
 */
async function recordHeads(tx: SqlClient, batch: readonly RepositoryRows[], mode: WriteMode): Promise<void> {
  await tx.query(
    `INSERT INTO repositories (kind, id, head_commit, projected_at)
     SELECT kind, id, head, clock_timestamp() FROM unnest($1::text[], $2::text[], $3::text[]) AS r(kind, id, head)
     ${mode === 'insert' ? '' : 'ON CONFLICT (kind, id) DO UPDATE SET head_commit = excluded.head_commit, projected_at = excluded.projected_at'}`,
    [batch.map((r) => r.kind), batch.map((r) => r.id), batch.map((r) => r.head)],
  );
}

/** Adds audit rows; a commit already recorded is left as it is (its row never changes). */
export async function insertAuditRows(
  tx: SqlClient,
  rows: readonly AuditRow[],
  mode: WriteMode = 'upsert',
): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO audit_log (patient_id, commit_sha, occurred_at, actor, action, changed_fields)
     SELECT r.patient_id, r.commit_sha, r.occurred_at, r.actor, r.action,
            CASE WHEN r.fields = '' THEN '{}'::text[] ELSE string_to_array(r.fields, chr(31)) END
       FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[])
         AS r(patient_id, commit_sha, occurred_at, actor, action, fields)
     ${mode === 'insert' ? '' : 'ON CONFLICT (patient_id, commit_sha) DO NOTHING'}`,
    [
      rows.map((r) => r.patientId),
      rows.map((r) => r.commitSha),
      rows.map((r) => r.occurredAt),
      rows.map((r) => r.actor),
      rows.map((r) => r.action),
      // One text per row (unnest cannot take ragged arrays), fields joined by the unit separator.
      rows.map((r) => r.changedFields.join('\u001f')),
    ],
  );
}

/** Inserts or replaces letter rows; an existing row keeps its created_at. */
export async function writeLetters(
  tx: SqlClient,
  rows: readonly LetterRow[],
  mode: WriteMode = 'upsert',
): Promise<void> {
  if (rows.length === 0) return;
  const column = <K extends keyof LetterRow>(key: K) => rows.map((r) => r[key]);
  await tx.query(
    `INSERT INTO letters (clinical_id, letter_id, title, snippet, status, composer_name, composer_role,
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
    [
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
  );
}

/** Inserts or replaces structured entry rows; an existing row keeps its created_at. */
export async function writeEntries(
  tx: SqlClient,
  rows: readonly EntryRow[],
  mode: WriteMode = 'upsert',
): Promise<void> {
  if (rows.length === 0) return;
  const column = <K extends keyof EntryRow>(key: K) => rows.map((r) => r[key]);
  await tx.query(
    `INSERT INTO clinical_entries (clinical_id, entry_id, entry_kind, path, recorded_at, title, summary,
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
    [
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
  );
}

/**
 * Inserts or replaces thread rows (a thread keeps its created_at) and adds participant rows
 * (the caller removes a thread's old participants first; a reindex's tables hold none).
 */
export async function writeThreads(
  tx: SqlClient,
  threads: readonly ThreadRow[],
  participants: readonly ParticipantRow[],
  mode: WriteMode = 'upsert',
): Promise<void> {
  if (threads.length > 0) {
    const column = <K extends keyof ThreadRow>(key: K) => threads.map((r) => r[key]);
    await tx.query(
      `INSERT INTO threads (coordination_id, communication_id, status, sensitivity, restricted,
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
      [
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
    );
  }
  if (participants.length > 0) {
    const column = <K extends keyof ParticipantRow>(key: K) => participants.map((r) => r[key]);
    await tx.query(
      `INSERT INTO thread_participants (coordination_id, communication_id, participant_id, role, display_name)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])`,
      [
        column('coordinationId'),
        column('communicationId'),
        column('participantId'),
        column('role'),
        column('displayName'),
      ],
    );
  }
}

/** Inserts or replaces appointment, encounter and referral rows (created_at kept). */
export async function writeCareEvents(
  tx: SqlClient,
  rows: readonly CareEventRow[],
  mode: WriteMode = 'upsert',
): Promise<void> {
  if (rows.length === 0) return;
  const column = <K extends keyof CareEventRow>(key: K) => rows.map((r) => r[key]);
  await tx.query(
    `INSERT INTO care_events (coordination_id, event_id, event_kind, status, start_at, end_at, care_location,
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
    [
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
  );
}

/** Replaces everything the given repositories contribute, and records the commit each came from. */
export async function writeRepositoryRows(tx: SqlClient, batch: readonly RepositoryRows[]): Promise<void> {
  if (batch.length === 0) return;
  await tx.query(
    `DELETE FROM documents d USING unnest($1::text[], $2::text[]) AS r(kind, id)
     WHERE d.kind = r.kind AND d.repo_id = r.id`,
    [batch.map((r) => r.kind), batch.map((r) => r.id)],
  );
  await upsertDocuments(
    tx,
    batch.flatMap((r) => r.documents),
  );
  await writeFacts(tx, batch);
  const demographics = batch.filter((r) => r.kind === 'demographics').map((r) => r.id);
  if (demographics.length > 0) {
    await tx.query('DELETE FROM audit_log WHERE patient_id = ANY($1::text[])', [demographics]);
  }
  await insertAuditRows(
    tx,
    batch.flatMap((r) => r.audit),
  );
  const clinical = batch.filter((r) => r.kind === 'clinical').map((r) => r.id);
  if (clinical.length > 0) {
    await tx.query('DELETE FROM letters WHERE clinical_id = ANY($1::text[])', [clinical]);
    await tx.query('DELETE FROM clinical_entries WHERE clinical_id = ANY($1::text[])', [clinical]);
  }
  await writeLetters(
    tx,
    batch.flatMap((r) => r.letters),
  );
  await writeEntries(
    tx,
    batch.flatMap((r) => r.entries),
  );
  const coordination = batch.filter((r) => r.kind === 'coordination').map((r) => r.id);
  if (coordination.length > 0) {
    for (const table of ['threads', 'thread_participants', 'care_events']) {
      await tx.query(`DELETE FROM ${table} WHERE coordination_id = ANY($1::text[])`, [coordination]);
    }
  }
  await writeThreads(
    tx,
    batch.flatMap((r) => r.threads),
    batch.flatMap((r) => r.participants),
  );
  await writeCareEvents(
    tx,
    batch.flatMap((r) => r.careEvents),
  );
  await recordHeads(tx, batch, 'upsert');
}

/**
 * Adds the rows of repositories that the tables do not hold yet (a reindex's fresh shadow
 * tables): plain inserts, with no lookups of rows to replace.
 */
export async function fillRepositoryRows(tx: SqlClient, batch: readonly RepositoryRows[]): Promise<void> {
  if (batch.length === 0) return;
  await writeDocuments(
    tx,
    batch.flatMap((r) => r.documents),
    'insert',
  );
  await writePatients(tx, patientsOf(batch), 'insert');
  await insertLinks(tx, 'clinical_links', linksOf(batch, 'clinical_links'));
  await insertLinks(tx, 'coordination_links', linksOf(batch, 'coordination_links'));
  await insertAuditRows(
    tx,
    batch.flatMap((r) => r.audit),
    'insert',
  );
  await writeLetters(
    tx,
    batch.flatMap((r) => r.letters),
    'insert',
  );
  await writeEntries(
    tx,
    batch.flatMap((r) => r.entries),
    'insert',
  );
  await writeThreads(
    tx,
    batch.flatMap((r) => r.threads),
    batch.flatMap((r) => r.participants),
    'insert',
  );
  await writeCareEvents(
    tx,
    batch.flatMap((r) => r.careEvents),
    'insert',
  );
  await recordHeads(tx, batch, 'insert');
}
