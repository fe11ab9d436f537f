// The audit log as a projection: one row per commit of a demographics repository, answering
// "who changed what, when" without walking Git — who (the acting API principal, or the commit's
// author), what (the Patient API fields that changed, and any other file as `file:<path>`) and
// when (the commit time). Built from Git alone, like every projection, so a reindex rebuilds it.
import { parseCommitMessage } from '../core/commit/commit-message.js';
import type { ObjectId } from '../core/git/git-object.js';
import { parseRepoPath } from '../core/git/repo-path.js';
import type { CommitRecord, GitRepository } from '../core/git/repository.js';
import type { PathChange } from '../core/git/tree-edit.js';
import type { RecordId } from '../core/ids/record-id.js';
import {
  PATIENT_FILE,
  changedPatientFields,
  readPatient,
  type StoredPatient,
} from '../core/patient/fhir-patient.js';
import type { HistoryReader } from './history-reader.js';
import { parseYamlMapping } from '../core/yaml-mapping.js';

export interface AuditRow {
  readonly patientId: RecordId;
  readonly commitSha: string;
  readonly occurredAt: string;
  readonly actor: string;
  readonly action: string;
  readonly changedFields: readonly string[];
}

/** The trailer naming the API principal that made a commit (absent on commits made otherwise). */
export const ACTING_PRINCIPAL_TRAILER = 'Acting-Principal';
/** The Patient API action (create, update, delete, restore) a commit carried out. */
export const PATIENT_ACTION_TRAILER = 'Patient-Action';

/** How many commits of one repository a full projection records in the audit log. */
const MAX_AUDITED_COMMITS = 20_000;

/** The audit row of one commit, given the patient before and after it and the paths it changed. */
export function auditRow(
  patientId: RecordId,
  commit: CommitRecord,
  before: StoredPatient | undefined,
  after: StoredPatient | undefined,
  otherPaths: readonly string[],
): AuditRow {
  const message = parseCommitMessage(commit.message);
  const trailer = (key: string) => message?.trailers.find((t) => t.key === key)?.value;
  return {
    patientId,
    commitSha: commit.id,
    occurredAt: new Date(commit.committer.timestamp).toISOString(),
    actor: trailer(ACTING_PRINCIPAL_TRAILER) ?? commit.author.name,
    action: trailer(PATIENT_ACTION_TRAILER) ?? message?.action ?? 'unknown',
    changedFields: [...changedPatientFields(before, after), ...otherPaths.map((p) => `file:${p}`)],
  };
}

async function patientAt(
  repository: GitRepository,
  commit: ObjectId | undefined,
): Promise<StoredPatient | undefined> {
  if (commit === undefined) return undefined;
  const content = await repository.readFile(parseRepoPath(PATIENT_FILE), commit).catch(() => undefined);
  return content === undefined ? undefined : readPatient(parseYamlMapping(content.toString('utf8')));
}

/**
 * The audit row of `commit` alone, reading the patient at its parent and at itself. A caller
 * that has the commit's changes, or the patient it leaves, already passes them in.
 */
export async function auditRowOfCommit(
  patientId: RecordId,
  repository: GitRepository,
  commit: CommitRecord,
  known: { changes?: readonly PathChange[]; after?: StoredPatient | undefined } = {},
): Promise<AuditRow> {
  const changes = known.changes ?? (await repository.changedFiles(commit.id));
  const patientChanged = changes.some((c) => c.path === PATIENT_FILE);
  const after = !patientChanged
    ? undefined
    : 'after' in known
      ? known.after
      : await patientAt(repository, commit.id);
  const before = patientChanged ? await patientAt(repository, commit.parents[0]) : undefined;
  const others = changes.filter((c) => c.path !== PATIENT_FILE && c.path !== '.gitignore').map((c) => c.path);
  return auditRow(patientId, commit, before, after, others);
}

/**
 * Every audit row of a demographics repository, newest first. A repository of one commit (most)
 * needs no reading beyond what its caller holds; a longer history is walked once, reading
 * patient.yaml once for each commit that changed it (the patient after a commit is the patient
 * before the next newer one).
 */
export async function auditRowsOfHistory(
  patientId: RecordId,
  history: HistoryReader,
  head: CommitRecord,
  headFiles: readonly string[],
  patientAtHead: StoredPatient | undefined,
): Promise<AuditRow[]> {
  const others = (paths: readonly string[]) => paths.filter((p) => p !== PATIENT_FILE && p !== '.gitignore');
  if (head.parents.length === 0)
    return [auditRow(patientId, head, undefined, patientAtHead, others(headFiles))];
  const rows: AuditRow[] = [];
  let after = patientAtHead;
  let commit: CommitRecord | undefined = head;
  for (let n = 0; commit !== undefined && n < MAX_AUDITED_COMMITS; n++) {
    const changes = await history.changes(commit.id);
    const patientChanged = changes.some((c) => c.path === PATIENT_FILE);
    const parent: ObjectId | undefined = commit.parents[0];
    const before = patientChanged ? await patientAt(history.repository, parent) : after;
    rows.push(
      auditRow(
        patientId,
        commit,
        patientChanged ? before : undefined,
        patientChanged ? after : undefined,
        others(changes.map((c) => c.path)),
      ),
    );
    after = before;
    commit = parent === undefined ? undefined : await history.commit(parent);
  }
  return rows;
}
