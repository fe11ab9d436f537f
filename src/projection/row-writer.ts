// Writing projection rows, many repositories per statement: each table is written with one
// statement per batch over unnest()ed arrays, so a reindex pays a handful of round trips per
// few hundred repositories instead of a dozen per repository.
import type { SqlClient } from './sql-client.js';
import type { DocumentRow, LinkRow, PatientRow, RepositoryRows } from './repository-rows.js';

const DOCUMENT_COLUMNS =
  'kind, repo_id, path, doc_kind, title, snippet, author_name, created_at, updated_at, sha256, commit_sha';

/** Inserts or replaces document rows (created_at of an existing row is kept). */
export async function upsertDocuments(tx: SqlClient, rows: readonly DocumentRow[]): Promise<void> {
  if (rows.length === 0) return;
  const column = <K extends keyof DocumentRow>(key: K) => rows.map((r) => r[key]);
  await tx.query(
    `INSERT INTO documents (${DOCUMENT_COLUMNS})
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                          $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[])
     ON CONFLICT (kind, repo_id, path) DO UPDATE SET
       doc_kind = excluded.doc_kind, title = excluded.title, snippet = excluded.snippet,
       author_name = excluded.author_name, updated_at = excluded.updated_at,
       sha256 = excluded.sha256, commit_sha = excluded.commit_sha`,
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

async function upsertPatients(tx: SqlClient, rows: readonly PatientRow[]): Promise<void> {
  if (rows.length === 0) return;
  const column = <K extends keyof PatientRow>(key: K) => rows.map((r) => r[key]);
  await tx.query(
    `INSERT INTO patients (patient_id, family_name, given_names, family_name_key, given_name_key, birth_date,
       email, phone, deleted, version, created_at, updated_at, commit_sha)
     SELECT p.*, p.version FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[],
       $7::text[], $8::text[], $9::boolean[], $10::text[], $11::timestamptz[], $12::timestamptz[])
       AS p(patient_id, family_name, given_names, family_name_key, given_name_key, birth_date, email, phone,
            deleted, version, created_at, updated_at)
     ON CONFLICT (patient_id) DO UPDATE SET
       family_name = excluded.family_name, given_names = excluded.given_names,
       family_name_key = excluded.family_name_key, given_name_key = excluded.given_name_key,
       birth_date = excluded.birth_date, email = excluded.email, phone = excluded.phone,
       deleted = excluded.deleted, version = excluded.version, created_at = excluded.created_at,
       updated_at = excluded.updated_at, commit_sha = excluded.commit_sha`,
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

async function replaceLinks(
  tx: SqlClient,
  table: 'clinical_links' | 'coordination_links',
  ids: readonly string[],
  rows: readonly LinkRow[],
): Promise<void> {
  if (ids.length === 0) return;
  const [key, target] =
    table === 'clinical_links' ? ['clinical_id', 'patient_id'] : ['coordination_id', 'clinical_id'];
  await tx.query(`DELETE FROM ${table} WHERE ${key} = ANY($1::text[])`, [ids]);
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO ${table} (${key}, ${target}, commit_sha) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`,
    [rows.map((r) => r.from), rows.map((r) => r.to), rows.map((r) => r.commitSha)],
  );
}

/** The facts of each repository: patients upserted or removed, links replaced. */
export async function writeFacts(tx: SqlClient, batch: readonly RepositoryRows[]): Promise<void> {
  const of = (kind: RepositoryRows['kind']) => batch.filter((r) => r.kind === kind);
  const demographics = of('demographics');
  const gone = demographics.filter((r) => r.facts.patient === null).map((r) => r.id);
  if (gone.length > 0) await tx.query('DELETE FROM patients WHERE patient_id = ANY($1::text[])', [gone]);
  await upsertPatients(
    tx,
    demographics.flatMap((r) => (r.facts.patient ? [r.facts.patient] : [])),
  );
  const clinical = of('clinical');
  await replaceLinks(
    tx,
    'clinical_links',
    clinical.map((r) => r.id),
    clinical.flatMap((r) => (r.facts.clinicalLink ? [r.facts.clinicalLink] : [])),
  );
  const coordination = of('coordination');
  await replaceLinks(
    tx,
    'coordination_links',
    coordination.map((r) => r.id),
    coordination.flatMap((r) => (r.facts.coordinationLink ? [r.facts.coordinationLink] : [])),
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
  await tx.query(
    `INSERT INTO repositories (kind, id, head_commit, projected_at)
     SELECT kind, id, head, now() FROM unnest($1::text[], $2::text[], $3::text[]) AS r(kind, id, head)
     ON CONFLICT (kind, id) DO UPDATE SET head_commit = excluded.head_commit, projected_at = now()`,
    [batch.map((r) => r.kind), batch.map((r) => r.id), batch.map((r) => r.head)],
  );
}
