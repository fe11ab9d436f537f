// Building projection rows from Git, without touching the database: the documents of a
// repository at a commit (with each file's first and last change from history), and the facts
// one well-known file per kind contributes (the patient, the links between repositories).
// The incremental projector, the full projector and the bulk reindex all build rows here, so
// they cannot disagree on what a row holds.
import type { ObjectId } from '../core/git/git-object.js';
import type { CommitRecord, GitRepository } from '../core/git/repository.js';
import type { RecordId } from '../core/ids/record-id.js';
import type { RepositoryKind } from '../core/record/record-layout.js';
import { summariseDocument, type DocumentSummary } from './document-summary.js';
import {
  coordinationClinicalId,
  ehrSubject,
  nameKey,
  patientFacts,
  type PatientFacts,
} from './record-facts.js';
import type { YamlMapping } from '../core/yaml-mapping.js';
import { auditRowsOfHistory, type AuditRow } from './audit-rows.js';
import { historyReader, type HistoryReader } from './history-reader.js';
import { readPatient } from '../core/patient/fhir-patient.js';
import { ClinicalRowCollector, type EntryRow, type LetterRow } from './clinical-rows.js';
import {
  CoordinationRowCollector,
  type CareEventRow,
  type ParticipantRow,
  type ThreadRow,
} from './coordination-rows.js';

export interface DocumentRow {
  readonly kind: RepositoryKind;
  readonly repoId: RecordId;
  readonly path: string;
  readonly docKind: string;
  readonly title: string;
  readonly snippet: string;
  readonly authorName: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly sha256: string;
  readonly commitSha: string;
}

/** A patient as projected: the facts of patient.yaml plus search keys, version and times. */
export interface PatientRow extends PatientFacts {
  readonly patientId: RecordId;
  readonly familyNameKey: string;
  readonly givenNameKey: string;
  readonly version: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface LinkRow {
  /** The repository the link is read from (clinical or coordination id). */
  readonly from: RecordId;
  /** What it points at (demographics id from clinical, clinical id from coordination). */
  readonly to: string;
  readonly commitSha: string;
}

/** The rows one repository contributes besides its documents; `null` means "none: remove any". */
export interface FactRows {
  readonly patient?: PatientRow | null;
  readonly clinicalLink?: LinkRow | null;
  readonly coordinationLink?: LinkRow | null;
}

export interface RepositoryRows {
  readonly kind: RepositoryKind;
  readonly id: RecordId;
  readonly head: ObjectId;
  readonly documents: readonly DocumentRow[];
  readonly facts: FactRows;
  /** Demographics only: one row per commit (audit-rows.ts). */
  readonly audit: readonly AuditRow[];
  /** Clinical only: letters and structured entries (clinical-rows.ts). */
  readonly letters: readonly LetterRow[];
  readonly entries: readonly EntryRow[];
  /** Coordination only: threads, their participants, appointments/encounters/referrals. */
  readonly threads: readonly ThreadRow[];
  readonly participants: readonly ParticipantRow[];
  readonly careEvents: readonly CareEventRow[];
}

/** The rows of a repository that are not documents, facts or audit: none, for a start. */
export const NO_ITEM_ROWS = {
  letters: [],
  entries: [],
  threads: [],
  participants: [],
  careEvents: [],
} as const satisfies Pick<RepositoryRows, 'letters' | 'entries' | 'threads' | 'participants' | 'careEvents'>;

/** How far back a full projection looks for each file's first and last change. */
const MAX_HISTORY_COMMITS = 20_000;

export const isoOf = (commit: CommitRecord): string => new Date(commit.committer.timestamp).toISOString();

export function documentRow(
  kind: RepositoryKind,
  repoId: RecordId,
  path: string,
  summary: DocumentSummary,
  created: CommitRecord,
  updated: CommitRecord,
): DocumentRow {
  return {
    kind,
    repoId,
    path,
    docKind: summary.docKind,
    title: summary.title,
    snippet: summary.snippet,
    authorName: updated.author.name,
    createdAt: isoOf(created),
    updatedAt: isoOf(updated),
    sha256: summary.sha256,
    commitSha: updated.id,
  };
}

/** When each file present at HEAD was last added (created) and last changed (updated). */
async function fileDates(history: HistoryReader, head: CommitRecord, paths: ReadonlySet<string>) {
  const dates = new Map<string, { created?: CommitRecord; updated?: CommitRecord }>();
  // A repository of one commit (most, right after creation): every file was made by it.
  if (head.parents.length === 0) {
    for (const path of paths) dates.set(path, { created: head, updated: head });
    return dates;
  }
  let cursor: ObjectId | undefined = head.id;
  for (let seen = 0; cursor !== undefined && seen < MAX_HISTORY_COMMITS; seen++) {
    const commit: CommitRecord = await history.commit(cursor);
    for (const change of await history.changes(commit.id)) {
      if (!paths.has(change.path)) continue;
      const entry = dates.get(change.path) ?? {};
      entry.updated ??= commit;
      if (change.status === 'added' && entry.created === undefined) entry.created = commit;
      dates.set(change.path, entry);
    }
    if ([...paths].every((p) => dates.get(p)?.created !== undefined)) break;
    cursor = commit.parents[0];
  }
  return dates;
}

/** The facts a kind's well-known file contributes, given that file's parsed YAML (absent: none). */
export function factRows(
  kind: RepositoryKind,
  id: RecordId,
  head: CommitRecord,
  wellKnown: YamlMapping | undefined,
  patientCreatedAt: string | undefined,
): FactRows {
  if (kind === 'demographics') {
    const facts = patientFacts(wellKnown);
    if (facts === undefined) return { patient: null };
    return {
      patient: {
        ...facts,
        patientId: id,
        familyNameKey: nameKey(facts.familyName),
        givenNameKey: nameKey(facts.givenNames),
        version: head.id,
        createdAt: patientCreatedAt ?? isoOf(head),
        updatedAt: isoOf(head),
      },
    };
  }
  if (kind === 'clinical') {
    const patientId = ehrSubject(wellKnown);
    return { clinicalLink: patientId === undefined ? null : { from: id, to: patientId, commitSha: head.id } };
  }
  const clinicalId = coordinationClinicalId(wellKnown);
  return {
    coordinationLink: clinicalId === undefined ? null : { from: id, to: clinicalId, commitSha: head.id },
  };
}

export const WELL_KNOWN_FILE: Readonly<Record<RepositoryKind, string>> = {
  demographics: 'patient.yaml',
  clinical: 'ehr_status.yaml',
  coordination: 'COORDINATION_STATUS.yaml',
};

/** Every row of one repository at `head`, recomputed from its files and history. */
export async function buildRepositoryRows(
  kind: RepositoryKind,
  id: RecordId,
  repository: GitRepository,
  head: CommitRecord,
): Promise<RepositoryRows> {
  const files = await repository.listFileIds(head.id);
  const history = historyReader(repository, head);
  const dates = await fileDates(history, head, new Set(files.map((f) => f.path)));
  const documents: DocumentRow[] = [];
  const clinical = kind === 'clinical' ? new ClinicalRowCollector(id) : undefined;
  const coordination = kind === 'coordination' ? new CoordinationRowCollector(id) : undefined;
  let wellKnown: YamlMapping | undefined;
  for (const file of files) {
    const known = dates.get(file.path);
    const updated = known?.updated ?? head;
    const content = await repository.readBlob(file.id);
    const summary = summariseDocument(file.path, content);
    if (file.path === WELL_KNOWN_FILE[kind]) wellKnown = summary.yaml;
    const row = documentRow(kind, id, file.path, summary, known?.created ?? updated, updated);
    documents.push(row);
    clinical?.add(file.path, content, row);
    coordination?.add(file.path, content, row);
  }
  const patientFileCreated = documents.find((d) => d.path === 'patient.yaml')?.createdAt;
  return {
    kind,
    id,
    head: head.id,
    documents,
    facts: factRows(kind, id, head, wellKnown, patientFileCreated),
    audit:
      kind === 'demographics'
        ? await auditRowsOfHistory(
            id,
            history,
            head,
            files.map((f) => f.path),
            readPatient(wellKnown),
          )
        : [],
    ...NO_ITEM_ROWS,
    ...clinical?.rows(),
    ...coordination?.rows(),
  };
}
