// The projector: turns the Git truth of one repository into rows (documents, patients, links)
// and records which commit they came from. It always projects the repository's *current* HEAD
// under a row lock on `repositories`, so racing projections of the same repository (in this
// process or another node) can only ever move it forward. When the projected commit is the
// parent of HEAD only the changed files are touched; otherwise the repository is re-projected
// from its files and history. Both paths give the same rows (a property test checks this).
import { isVprError } from '../core/errors.js';
import { parseRepoPath } from '../core/git/repo-path.js';
import type { CommitRecord, GitRepository } from '../core/git/repository.js';
import type { RecordId } from '../core/ids/record-id.js';
import { REPOSITORY_KINDS, type RepositoryKind } from '../core/record/record-layout.js';
import type { CommitEvent, RecordStore } from '../core/record/record-store.js';
import {
  NO_ITEM_ROWS,
  WELL_KNOWN_FILE,
  buildRepositoryRows,
  documentRow,
  factRows,
  type DocumentRow,
  type RepositoryRows,
} from './repository-rows.js';
import { summariseDocument } from './document-summary.js';
import type { RowBuilder } from './row-builder-pool.js';
import {
  auditPart,
  careEventsPart,
  documentsPart,
  entriesPart,
  factParts,
  fillRepositoryRows,
  headsPart,
  lettersPart,
  participantsPart,
  removalPart,
  runParts,
  threadsPart,
  writeRepositoryRows,
  type SqlPart,
} from './row-writer.js';
import { auditRowOfCommit } from './audit-rows.js';
import { readPatient } from '../core/patient/fhir-patient.js';
import type { SqlClient } from './sql-client.js';
import { parseYamlMapping, type YamlMapping } from '../core/yaml-mapping.js';
import { entryRowOf, letterRowOf, type FileDates, type LetterRow } from './clinical-rows.js';
import { careEventRowOf, threadFileOf, threadRowsOf } from './coordination-rows.js';
import { ledgerPath } from '../core/coordination/ledger.js';
import { threadPath } from '../core/coordination/thread.js';
import { careEventOfPath } from '../core/coordination/care-events.js';
import { entryOfPath } from '../core/clinical/entry-layout.js';
import { letterBodyPath, letterCompositionPath, letterIdOfPath } from '../core/clinical/letter.js';
import type { PathChange } from '../core/git/tree-edit.js';

export type ProjectionOutcome = 'unchanged' | 'incremental' | 'full';

/** Repositories written per transaction by `projectAll`. */
const BULK_BATCH = 250;

export class Projector {
  readonly #client: SqlClient;
  readonly #store: RecordStore;
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(client: SqlClient, store: RecordStore) {
    this.#client = client;
    this.#store = store;
  }

  /**
   * Runs `task` after every projection in this process of any of these repositories, and makes
   * it the one later projections of them wait for.
   */
  #serialise<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const previous = Promise.all(keys.map((key) => this.#queues.get(key)?.catch(() => undefined)));
    const result = previous.then(task);
    const settled = result.catch(() => undefined);
    for (const key of keys) this.#queues.set(key, settled);
    void settled.then(() => {
      for (const key of keys) if (this.#queues.get(key) === settled) this.#queues.delete(key);
    });
    return result;
  }

  /** Projects one repository up to its current HEAD. */
  async project(kind: RepositoryKind, id: RecordId): Promise<ProjectionOutcome> {
    const [outcome] = await this.projectMany([{ kind, id }]);
    return outcome!;
  }

  /**
   * Projects repositories up to their current HEADs in one transaction (a new patient's three
   * repositories cost one commit of the projection database, not three).
   */
  async projectMany(
    targets: readonly { kind: RepositoryKind; id: RecordId }[],
  ): Promise<ProjectionOutcome[]> {
    // One order for every transaction's row locks, so two of them cannot deadlock.
    const sorted = [...targets].sort((a, b) => (`${a.kind}/${a.id}` < `${b.kind}/${b.id}` ? -1 : 1));
    const outcomes = await this.#serialise(
      sorted.map((t) => `${t.kind}/${t.id}`),
      () => this.#project(sorted),
    );
    return targets.map((t) => outcomes[sorted.indexOf(t)]!);
  }

  /** A commit listener for the record store: projects the repositories a write touched. */
  readonly onCommit = async (events: readonly CommitEvent[]): Promise<void> => {
    await this.projectMany(events.map((event) => ({ kind: event.kind, id: event.id })));
  };

  async #project(targets: readonly { kind: RepositoryKind; id: RecordId }[]): Promise<ProjectionOutcome[]> {
    const repositories = await Promise.all(targets.map((t) => this.#store.repository(t.kind, t.id)));
    return this.#client.transaction(async (tx) => {
      const kinds = targets.map((t) => t.kind);
      const ids = targets.map((t) => t.id);
      // One statement both adds the rows of repositories new to the projection and locks every
      // row (the no-op update takes the row lock), returning the commit each one holds.
      const held = new Map(
        (
          await tx.query<{ kind: string; id: string; head_commit: string }>(
            `INSERT INTO repositories (kind, id, head_commit)
             SELECT kind, id, '' FROM unnest($1::text[], $2::text[]) AS r(kind, id) ORDER BY kind, id
             ON CONFLICT (kind, id) DO UPDATE SET head_commit = repositories.head_commit
             RETURNING kind, id, head_commit`,
            [kinds, ids],
          )
        ).map((r) => [`${r.kind}/${r.id}`, r.head_commit]),
      );
      const outcomes: ProjectionOutcome[] = [];
      const full: RepositoryRows[] = [];
      for (const [i, { kind, id }] of targets.entries()) {
        const repository = repositories[i]!;
        const projected = held.get(`${kind}/${id}`);
        const head = await repository.head();
        if (head === undefined || head === projected) {
          outcomes.push('unchanged');
          continue;
        }
        const commit = await repository.readCommit(head);
        if (projected !== undefined && projected !== '' && commit.parents[0] === projected) {
          await this.#projectChanges(tx, kind, id, repository, commit);
          outcomes.push('incremental');
          continue;
        }
        full.push(await buildRepositoryRows(kind, id, repository, commit));
        outcomes.push('full');
      }
      await writeRepositoryRows(tx, full);
      return outcomes;
    });
  }

  /**
   * Applies one commit on top of its parent: only the files it changed, then the facts, then
   * the head, gathered as parts and sent in as few statements as they allow (usually one).
   */
  async #projectChanges(
    tx: SqlClient,
    kind: RepositoryKind,
    id: RecordId,
    repository: GitRepository,
    commit: CommitRecord,
  ): Promise<void> {
    // Removed: the row goes. Added (perhaps back): the row is replaced whole. Modified: the row
    // keeps its created_at.
    const removed: string[] = [];
    const added: DocumentRow[] = [];
    const modified: DocumentRow[] = [];
    let wellKnown: YamlMapping | undefined;
    // The facts (patient, links) always record HEAD, so they are rewritten on every commit.
    let wellKnownChanged = false;
    const changes = await repository.changedFiles(commit.id);
    const contents = new Map<string, Buffer>();
    for (const change of changes) {
      if (change.path === WELL_KNOWN_FILE[kind]) wellKnownChanged = true;
      if (change.status === 'removed') {
        removed.push(change.path);
        continue;
      }
      const content = await repository.readBlob(change.id!);
      contents.set(change.path, content);
      const summary = summariseDocument(change.path, content);
      if (change.path === WELL_KNOWN_FILE[kind]) wellKnown = summary.yaml;
      (change.status === 'modified' ? modified : added).push(
        documentRow(kind, id, change.path, summary, commit, commit),
      );
    }
    const parts: (SqlPart | undefined)[] = [
      removalPart('documents', 'path', removed, { kind, repo_id: id }),
      documentsPart(added, 'replace'),
      documentsPart(modified, 'upsert'),
    ];
    if (kind === 'clinical')
      parts.push(...(await clinicalChangeParts(id, repository, commit, changes, contents)));
    if (kind === 'coordination')
      parts.push(...(await coordinationChangeParts(id, repository, commit, changes, contents)));
    if (!wellKnownChanged) {
      // Unchanged by this commit: read it by its path alone, not by listing the whole tree.
      const content = await repository
        .readFile(parseRepoPath(WELL_KNOWN_FILE[kind]), commit.id)
        .catch((error: unknown) => {
          if (isVprError(error, 'NOT_FOUND')) return undefined;
          throw error;
        });
      wellKnown = content === undefined ? undefined : parseYamlMapping(content.toString('utf8'));
    }
    parts.push(
      ...factParts([
        {
          kind,
          id,
          head: commit.id,
          documents: [],
          // A patient row that exists keeps its created_at (see patientsPart); a new one is created now.
          facts: factRows(kind, id, commit, wellKnown, undefined),
          audit: [],
          ...NO_ITEM_ROWS,
        },
      ]),
    );
    if (kind === 'demographics') {
      const after = readPatient(wellKnown);
      parts.push(auditPart([await auditRowOfCommit(id, repository, commit, { changes, after })]));
    }
    parts.push(headsPart([{ kind, id, head: commit.id }], 'upsert'));
    await runParts(tx, parts);
  }

  /**
   * Projects every repository on disk from scratch, a batch of repositories per transaction and
   * a few statements per batch. For the shadow tables of a reindex, which nothing else writes.
   * The builder reads Git (in worker threads when it has them) a few batches ahead, while this
   * thread writes the batches already built, one transaction at a time.
   */
  async projectAll(builder: RowBuilder, onProgress?: (repositories: number) => void): Promise<number> {
    let done = 0;
    const building: Promise<RepositoryRows[]>[] = [];
    let writing: Promise<void> = Promise.resolve();
    const writeNext = async () => {
      const rows = await building.shift()!;
      await writing;
      writing = this.#client
        .transaction((tx) => fillRepositoryRows(tx, rows))
        .then(() => {
          done += rows.length;
          onProgress?.(done);
        });
      // Awaited on the next round; until then a failure must not count as unhandled.
      writing.catch(() => undefined);
    };
    const submit = async (kind: RepositoryKind, ids: RecordId[]) => {
      const rows = builder.build(kind, ids);
      rows.catch(() => undefined);
      building.push(rows);
      if (building.length > builder.parallelism * 2) await writeNext();
    };
    try {
      for (const kind of REPOSITORY_KINDS) {
        let batch: RecordId[] = [];
        for await (const id of this.#store.listRecordIds(kind)) {
          batch.push(id);
          if (batch.length === BULK_BATCH) {
            await submit(kind, batch);
            batch = [];
          }
        }
        if (batch.length > 0) await submit(kind, batch);
      }
      while (building.length > 0) await writeNext();
    } finally {
      // On failure too: no transaction may still be running when the caller moves on.
      await Promise.allSettled([writing, ...building]);
    }
    await writing;
    return done;
  }

  /**
   * Brings every repository on disk up to date: any whose HEAD differs from its projected commit
   * is projected again. Returns how many repositories were looked at and how many re-projected.
   * An aborted `signal` stops it between batches (what was projected stays projected).
   */
  async catchUp(
    onProgress?: (checked: number, projected: number) => void,
    signal?: AbortSignal,
  ): Promise<{ checked: number; projected: number }> {
    let checked = 0;
    let projected = 0;
    for (const kind of REPOSITORY_KINDS) {
      let batch: RecordId[] = [];
      const flush = async () => {
        const [rows, heads] = await Promise.all([
          this.#client.query<{ id: string; head_commit: string }>(
            'SELECT id, head_commit FROM repositories WHERE kind = $1 AND id = ANY($2::text[])',
            [kind, batch],
          ),
          this.#store.heads(kind, batch),
        ]);
        const known = new Map(rows.map((r) => [r.id, r.head_commit]));
        for (const [i, id] of batch.entries()) {
          // A HEAD that moved since it was read is projected by the write that moved it.
          const head = heads[i];
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
        if (signal?.aborted === true) return { checked, projected };
      }
      if (batch.length > 0) await flush();
    }
    return { checked, projected };
  }
}

/** The dates of a file changed by `commit`, for rows an incremental projection writes. */
function datesOf(commit: CommitRecord): FileDates {
  const at = new Date(commit.committer.timestamp).toISOString();
  return { createdAt: at, updatedAt: at, commitSha: commit.id };
}

/** A file at `commit`: from the contents the commit's changes were read into, else from Git. */
function fileReader(repository: GitRepository, commit: CommitRecord, contents: ReadonlyMap<string, Buffer>) {
  return async (path: string): Promise<Buffer | undefined> =>
    contents.get(path) ??
    (await repository.readFile(parseRepoPath(path), commit.id).catch((error: unknown) => {
      if (isVprError(error, 'NOT_FOUND')) return undefined;
      throw error;
    }));
}

/**
 * The rows of the one-file items a commit changed (entries, care events): each changed file that
 * is such an item gives its row, or, removed or unreadable, its id to delete.
 */
function fileItemRows<R>(
  changes: readonly PathChange[],
  contents: ReadonlyMap<string, Buffer>,
  idOfPath: (path: string) => string | undefined,
  rowOf: (path: string, text: string) => R | undefined,
): { rows: R[]; gone: string[] } {
  const rows: R[] = [];
  const gone: string[] = [];
  for (const change of changes) {
    const id = idOfPath(change.path);
    if (id === undefined) continue;
    const content = contents.get(change.path);
    const row = content === undefined ? undefined : rowOf(change.path, content.toString('utf8'));
    if (row === undefined) gone.push(id);
    else rows.push(row);
  }
  return { rows, gone };
}

/**
 * The letters and entries a clinical commit touched: each letter whose folder changed is read
 * again whole (composition and body at this commit), each changed entry file is read once.
 */
async function clinicalChangeParts(
  clinicalId: RecordId,
  repository: GitRepository,
  commit: CommitRecord,
  changes: readonly PathChange[],
  contents: ReadonlyMap<string, Buffer>,
): Promise<(SqlPart | undefined)[]> {
  // A new row is created now; an existing one keeps its created_at (see lettersPart).
  const dates = datesOf(commit);
  const letters = new Set(changes.flatMap((c) => letterIdOfPath(c.path) ?? []));
  const entries = fileItemRows(
    changes,
    contents,
    (path) => entryOfPath(path)?.entryId,
    (path, text) => entryRowOf(clinicalId, path, text, dates),
  );
  const read = fileReader(repository, commit, contents);
  const letterRows: LetterRow[] = [];
  const goneLetters: string[] = [];
  for (const letterId of letters) {
    const composition = await read(letterCompositionPath(letterId));
    const body = await read(letterBodyPath(letterId));
    const row =
      composition === undefined
        ? undefined
        : letterRowOf(
            clinicalId,
            { text: composition.toString('utf8'), dates },
            body === undefined ? undefined : { text: body.toString('utf8'), dates },
          );
    if (row === undefined) goneLetters.push(letterId);
    else letterRows.push(row);
  }
  return [
    removalPart('letters', 'letter_id', goneLetters, { clinical_id: clinicalId }),
    removalPart('clinical_entries', 'entry_id', entries.gone, { clinical_id: clinicalId }),
    lettersPart(letterRows),
    entriesPart(entries.rows),
  ];
}

/**
 * The threads and care events a coordination commit touched: each thread whose folder changed is
 * read again whole (ledger and thread.md at this commit), each changed event file once.
 */
async function coordinationChangeParts(
  coordinationId: RecordId,
  repository: GitRepository,
  commit: CommitRecord,
  changes: readonly PathChange[],
  contents: ReadonlyMap<string, Buffer>,
): Promise<(SqlPart | undefined)[]> {
  const dates = datesOf(commit);
  const threads = new Set(changes.flatMap((c) => threadFileOf(c.path)?.communicationId ?? []));
  const events = fileItemRows(
    changes,
    contents,
    (path) => careEventOfPath(path)?.id,
    (path, text) => careEventRowOf(coordinationId, path, text, dates),
  );
  const read = fileReader(repository, commit, contents);
  const rows = [];
  const goneThreads: string[] = [];
  for (const communicationId of threads) {
    const ledger = await read(ledgerPath(communicationId));
    const thread = await read(threadPath(communicationId));
    const built =
      ledger === undefined
        ? undefined
        : threadRowsOf(coordinationId, ledger.toString('utf8'), thread?.toString('utf8'), dates);
    if (built === undefined) goneThreads.push(communicationId);
    else rows.push(built);
  }
  return [
    // A thread's participants are removed in one statement and added again in a later one.
    removalPart('thread_participants', 'communication_id', [...threads], { coordination_id: coordinationId }),
    removalPart('threads', 'communication_id', goneThreads, { coordination_id: coordinationId }),
    removalPart('care_events', 'event_id', events.gone, { coordination_id: coordinationId }),
    threadsPart(rows.map((r) => r.thread)),
    participantsPart(rows.flatMap((r) => r.participants)),
    careEventsPart(events.rows),
  ];
}
