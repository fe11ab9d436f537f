// The projector: turns the Git truth of one repository into rows (documents, patients, links)
// and records which commit they came from. It always projects the repository's *current* HEAD
// under a row lock on `repositories`, so racing projections of the same repository (in this
// process or another node) can only ever move it forward. When the projected commit is the
// parent of HEAD only the changed files are touched; otherwise the repository is re-projected
// from its files and history. Both paths give the same rows (a property test checks this).
import type { ObjectId } from '../core/git/git-object.js';
import type { CommitRecord, GitRepository } from '../core/git/repository.js';
import type { RecordId } from '../core/ids/record-id.js';
import { REPOSITORY_KINDS, type RepositoryKind } from '../core/record/record-layout.js';
import type { CommitEvent, RecordStore } from '../core/record/record-store.js';
import { summariseDocument } from './document-summary.js';
import { coordinationClinicalId, ehrSubject, nameKey, patientFacts } from './record-facts.js';
import type { SqlClient } from './sql-client.js';

export type ProjectionOutcome = 'unchanged' | 'incremental' | 'full';

/** How far back a full projection looks for each file's first and last change. */
const MAX_HISTORY_COMMITS = 20_000;

interface FileDates {
  created: CommitRecord;
  updated: CommitRecord;
}

const isoOf = (commit: CommitRecord) => new Date(commit.committer.timestamp).toISOString();

export class Projector {
  readonly #client: SqlClient;
  readonly #store: RecordStore;
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(client: SqlClient, store: RecordStore) {
    this.#client = client;
    this.#store = store;
  }

  /** Runs projections of one repository one after another in this process. */
  #serialise<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const settled = result.catch(() => undefined);
    this.#queues.set(key, settled);
    void settled.then(() => {
      if (this.#queues.get(key) === settled) this.#queues.delete(key);
    });
    return result;
  }

  /** Projects one repository up to its current HEAD. */
  async project(kind: RepositoryKind, id: RecordId): Promise<ProjectionOutcome> {
    return this.#serialise(`${kind}/${id}`, () => this.#project(kind, id));
  }

  /** A commit listener for the record store: projects each repository a write touched. */
  readonly onCommit = async (events: readonly CommitEvent[]): Promise<void> => {
    await Promise.all(events.map((event) => this.project(event.kind, event.id)));
  };

  async #project(kind: RepositoryKind, id: RecordId): Promise<ProjectionOutcome> {
    const repository = await this.#store.repository(kind, id);
    return this.#client.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO repositories (kind, id, head_commit) VALUES ($1, $2, '') ON CONFLICT DO NOTHING`,
        [kind, id],
      );
      const [row] = await tx.query<{ head_commit: string }>(
        'SELECT head_commit FROM repositories WHERE kind = $1 AND id = $2 FOR UPDATE',
        [kind, id],
      );
      const head = await repository.head();
      if (head === undefined || head === row?.head_commit) return 'unchanged';
      const commit = await repository.readCommit(head);
      const incremental = row?.head_commit !== '' && commit.parents[0] === row?.head_commit;
      if (incremental) await this.#projectChanges(tx, kind, id, repository, commit);
      else await this.#projectWhole(tx, kind, id, repository, commit);
      await this.#projectFacts(tx, kind, id, repository, commit);
      await tx.query(
        'UPDATE repositories SET head_commit = $3, projected_at = now() WHERE kind = $1 AND id = $2',
        [kind, id, head],
      );
      return incremental ? 'incremental' : 'full';
    });
  }

  async #upsertDocument(
    tx: SqlClient,
    kind: RepositoryKind,
    id: RecordId,
    path: string,
    content: Buffer,
    dates: FileDates,
  ): Promise<void> {
    const summary = summariseDocument(path, content);
    await tx.query(
      `INSERT INTO documents (kind, repo_id, path, doc_kind, title, snippet, author_name, created_at, updated_at, sha256, commit_sha)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (kind, repo_id, path) DO UPDATE SET
         doc_kind = excluded.doc_kind, title = excluded.title, snippet = excluded.snippet,
         author_name = excluded.author_name, updated_at = excluded.updated_at,
         sha256 = excluded.sha256, commit_sha = excluded.commit_sha`,
      [
        kind,
        id,
        path,
        summary.docKind,
        summary.title,
        summary.snippet,
        dates.updated.author.name,
        isoOf(dates.created),
        isoOf(dates.updated),
        summary.sha256,
        dates.updated.id,
      ],
    );
  }

  async #projectChanges(
    tx: SqlClient,
    kind: RepositoryKind,
    id: RecordId,
    repository: GitRepository,
    commit: CommitRecord,
  ): Promise<void> {
    for (const change of await repository.changedFiles(commit.id)) {
      if (change.status === 'removed') {
        await tx.query('DELETE FROM documents WHERE kind = $1 AND repo_id = $2 AND path = $3', [
          kind,
          id,
          change.path,
        ]);
        continue;
      }
      // A file added back after removal is new again; a modified one keeps its created_at (ON CONFLICT).
      if (change.status === 'added') {
        await tx.query('DELETE FROM documents WHERE kind = $1 AND repo_id = $2 AND path = $3', [
          kind,
          id,
          change.path,
        ]);
      }
      const content = await repository.readBlob(change.id!);
      await this.#upsertDocument(tx, kind, id, change.path, content, { created: commit, updated: commit });
    }
  }

  /** When each file present at HEAD was last added (created) and last changed (updated). */
  async #fileDates(repository: GitRepository, head: CommitRecord, paths: ReadonlySet<string>) {
    const dates = new Map<string, Partial<FileDates>>();
    let cursor: ObjectId | undefined = head.id;
    for (let seen = 0; cursor !== undefined && seen < MAX_HISTORY_COMMITS; seen++) {
      const commit: CommitRecord = cursor === head.id ? head : await repository.readCommit(cursor);
      for (const change of await repository.changedFiles(commit.id)) {
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

  async #projectWhole(
    tx: SqlClient,
    kind: RepositoryKind,
    id: RecordId,
    repository: GitRepository,
    head: CommitRecord,
  ): Promise<void> {
    await tx.query('DELETE FROM documents WHERE kind = $1 AND repo_id = $2', [kind, id]);
    const files = await repository.listFileIds(head.id);
    const dates = await this.#fileDates(repository, head, new Set(files.map((f) => f.path)));
    for (const file of files) {
      const known = dates.get(file.path);
      const updated = known?.updated ?? head;
      const created = known?.created ?? updated;
      await this.#upsertDocument(tx, kind, id, file.path, await repository.readBlob(file.id), {
        created,
        updated,
      });
    }
  }

  /** The rows that come from one well-known file per kind: patients and the links between repositories. */
  async #projectFacts(
    tx: SqlClient,
    kind: RepositoryKind,
    id: RecordId,
    repository: GitRepository,
    head: CommitRecord,
  ): Promise<void> {
    const read = async (path: string) => {
      const file = (await repository.listFileIds(head.id)).find((f) => f.path === path);
      return file === undefined ? undefined : repository.readBlob(file.id);
    };
    if (kind === 'demographics') {
      const content = await read('patient.yaml');
      const facts = content === undefined ? undefined : patientFacts(content);
      if (facts === undefined) {
        await tx.query('DELETE FROM patients WHERE patient_id = $1', [id]);
        return;
      }
      const [created] = await tx.query<{ created_at: string }>(
        'SELECT created_at FROM documents WHERE kind = $1 AND repo_id = $2 AND path = $3',
        ['demographics', id, 'patient.yaml'],
      );
      await tx.query(
        `INSERT INTO patients (patient_id, family_name, given_names, family_name_key, given_name_key, birth_date,
           email, phone, deleted, version, created_at, updated_at, commit_sha)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $10)
         ON CONFLICT (patient_id) DO UPDATE SET
           family_name = excluded.family_name, given_names = excluded.given_names,
           family_name_key = excluded.family_name_key, given_name_key = excluded.given_name_key,
           birth_date = excluded.birth_date, email = excluded.email, phone = excluded.phone,
           deleted = excluded.deleted, version = excluded.version, created_at = excluded.created_at,
           updated_at = excluded.updated_at, commit_sha = excluded.commit_sha`,
        [
          id,
          facts.familyName,
          facts.givenNames,
          nameKey(facts.familyName),
          nameKey(facts.givenNames),
          facts.birthDate,
          facts.email,
          facts.phone,
          facts.deleted,
          head.id,
          created?.created_at ?? isoOf(head),
          isoOf(head),
        ],
      );
    } else if (kind === 'clinical') {
      const content = await read('ehr_status.yaml');
      const patientId = content === undefined ? undefined : ehrSubject(content);
      await tx.query('DELETE FROM clinical_links WHERE clinical_id = $1', [id]);
      if (patientId !== undefined) {
        await tx.query(
          'INSERT INTO clinical_links (clinical_id, patient_id, commit_sha) VALUES ($1, $2, $3)',
          [id, patientId, head.id],
        );
      }
    } else {
      const content = await read('COORDINATION_STATUS.yaml');
      const clinicalId = content === undefined ? undefined : coordinationClinicalId(content);
      await tx.query('DELETE FROM coordination_links WHERE coordination_id = $1', [id]);
      if (clinicalId !== undefined) {
        await tx.query(
          'INSERT INTO coordination_links (coordination_id, clinical_id, commit_sha) VALUES ($1, $2, $3)',
          [id, clinicalId, head.id],
        );
      }
    }
  }

  /**
   * Brings every repository on disk up to date: any whose HEAD differs from its projected commit
   * is projected again. Returns how many repositories were looked at and how many re-projected.
   */
  async catchUp(
    onProgress?: (checked: number, projected: number) => void,
  ): Promise<{ checked: number; projected: number }> {
    let checked = 0;
    let projected = 0;
    for (const kind of REPOSITORY_KINDS) {
      let batch: RecordId[] = [];
      const flush = async () => {
        const rows = await this.#client.query<{ id: string; head_commit: string }>(
          'SELECT id, head_commit FROM repositories WHERE kind = $1 AND id = ANY($2::text[])',
          [kind, batch],
        );
        const known = new Map(rows.map((r) => [r.id, r.head_commit]));
        for (const id of batch) {
          const head = await (await this.#store.repository(kind, id)).head();
          if (head !== undefined && known.get(id) !== head) {
            if ((await this.project(kind, id)) !== 'unchanged') projected++;
          }
          checked++;
        }
        onProgress?.(checked, projected);
        batch = [];
      };
      for await (const id of this.#store.listRecordIds(kind)) {
        batch.push(id);
        if (batch.length === 500) await flush();
      }
      if (batch.length > 0) await flush();
    }
    return { checked, projected };
  }
}
