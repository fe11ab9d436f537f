// The read model as the rest of VPR sees it: opens the backend (PGlite under the data directory
// by default, PostgreSQL when a URL is given), runs the migrations, projects every commit the
// record store reports, catches up at start-up, and answers patient queries. A projection that
// is down never fails a write: the failure is counted and its repositories remembered, and
// `repairMissed` (on a timer in the server) or a catch-up projects them again from Git.
import { join } from 'node:path';
import { isVprError } from '../core/errors.js';
import type { RecordId } from '../core/ids/record-id.js';
import type { RepositoryKind } from '../core/record/record-layout.js';
import type { CommitEvent, RecordStore } from '../core/record/record-store.js';
import { migrate } from './migrations.js';
import type { ReadCache } from '../cache/read-cache.js';
import {
  getPatient,
  guardProjection,
  listPatients,
  type PatientFilter,
  type PatientPage,
} from './patient-queries.js';
import { openPostgres } from './pg-client.js';
import { openPglite } from './pglite-client.js';
import { Projector } from './projector.js';
import { reindex, type ReindexOptions } from './reindex.js';
import type { SqlClient } from './sql-client.js';

/** Repositories of missed commits remembered for repair; beyond this a whole catch-up repairs them. */
const MISSED_REPOSITORIES_KEPT = 10_000;

export interface ProjectionOptions {
  readonly dataDir: string;
  /** PostgreSQL connection string; without it PGlite keeps the projection under the data directory. */
  readonly databaseUrl?: string;
  /** PostgreSQL schema (tests and side-by-side deployments use their own). */
  readonly schema?: string;
  readonly applicationName?: string;
  /** Caches list pages (invalidated on every projected write); none: every list queries the database. */
  readonly cache?: ReadCache;
  /**
   * Without DATABASE_URL: keep the projection in memory, not under the data directory — a scratch
   * projection for a process whose commits another will project (`vpr generate`'s workers).
   */
  readonly inMemory?: boolean;
}

export interface ProjectionStatus {
  readonly backend: 'pglite' | 'postgres';
  /** Commits whose projection failed since the last successful catch-up. */
  readonly missedCommits: number;
}

export class Projection {
  readonly client: SqlClient;
  readonly backend: 'pglite' | 'postgres';
  readonly #projector: Projector;
  readonly #store: RecordStore;
  readonly #cache: ReadCache | undefined;
  #missed = 0;
  /** The repositories of the missed commits, for `repairMissed` (at most MISSED_REPOSITORIES_KEPT). */
  readonly #missedRepositories = new Map<string, { kind: RepositoryKind; id: RecordId }>();
  /** More were missed than are kept: only a whole catch-up repairs them. */
  #missedTooMany = false;

  private constructor(
    client: SqlClient,
    backend: 'pglite' | 'postgres',
    store: RecordStore,
    cache?: ReadCache,
  ) {
    this.client = client;
    this.backend = backend;
    this.#store = store;
    this.#projector = new Projector(client, store);
    this.#cache = cache;
  }

  /** Opens the backend, migrates it and registers as the store's commit listener. */
  static async open(options: ProjectionOptions, store: RecordStore): Promise<Projection> {
    const client =
      options.databaseUrl === undefined
        ? await openPglite(
            options.inMemory === true ? undefined : join(options.dataDir, '.projection', 'pglite'),
          )
        : await openPostgres({
            connectionString: options.databaseUrl,
            ...(options.schema === undefined ? {} : { schema: options.schema }),
            ...(options.applicationName === undefined ? {} : { applicationName: options.applicationName }),
          });
    try {
      await migrate(client);
    } catch (error) {
      await client.close();
      throw error;
    }
    const backend = options.databaseUrl === undefined ? 'pglite' : 'postgres';
    const projection = new Projection(client, backend, store, options.cache);
    store.setCommitListener((events) => projection.#onCommit(events));
    return projection;
  }

  async #onCommit(events: readonly CommitEvent[]): Promise<void> {
    try {
      await this.#projector.projectMany(events.map((e) => ({ kind: e.kind, id: e.id })));
    } catch {
      this.#missed += events.length;
      for (const event of events) this.#rememberMissed(event.kind, event.id);
    }
    await this.#cache?.invalidatePages();
  }

  #rememberMissed(kind: RepositoryKind, id: RecordId): void {
    if (this.#missedRepositories.size < MISSED_REPOSITORIES_KEPT) {
      this.#missedRepositories.set(`${kind}/${id}`, { kind, id });
    } else {
      this.#missedTooMany = true;
    }
  }

  /**
   * Projects again the repositories whose commits failed to project while this process ran (the
   * database was away): those it remembers, or every repository by a catch-up when it missed
   * more than it keeps. Answers how many repositories it looked at; throws, remembering them
   * still, when the database is still away.
   */
  async repairMissed(): Promise<number> {
    if (this.#missed === 0) return 0;
    if (this.#missedTooMany) {
      const { checked } = await this.catchUp();
      return checked;
    }
    const missedBefore = this.#missed;
    const targets = [...this.#missedRepositories.values()];
    this.#missedRepositories.clear();
    let done = 0;
    try {
      for (const target of targets) {
        try {
          await this.project(target.kind, target.id);
        } catch (error) {
          // A record removed since (a cancelled import) has nothing left to project.
          if (!isVprError(error, 'NOT_FOUND')) throw error;
        }
        done++;
      }
    } catch (error) {
      for (const target of targets.slice(done)) this.#rememberMissed(target.kind, target.id);
      throw error;
    }
    this.#missed -= missedBefore;
    await this.#cache?.invalidatePages();
    return targets.length;
  }

  /**
   * Projects every repository whose HEAD differs from what the projection holds; an aborted
   * `signal` stops it between batches.
   */
  async catchUp(onProgress?: (checked: number, projected: number) => void, signal?: AbortSignal) {
    // Commits missed before the catch-up began are covered by it; any missed during it are not.
    const missedBefore = this.#missed;
    const remembered = [...this.#missedRepositories.entries()];
    const tooMany = this.#missedTooMany;
    const result = await guardProjection(() => this.#projector.catchUp(onProgress, signal));
    if (signal?.aborted !== true) {
      this.#missed -= missedBefore;
      // An entry missed again during the catch-up is a new object, and stays.
      for (const [key, target] of remembered) {
        if (this.#missedRepositories.get(key) === target) this.#missedRepositories.delete(key);
      }
      if (tooMany) this.#missedTooMany = false;
    }
    if (result.projected > 0) await this.#cache?.invalidatePages();
    return result;
  }

  async reindex(options: ReindexOptions = {}) {
    // As for catch-up: a reindex reads Git after every commit missed before it began.
    const missedBefore = this.#missed;
    const result = await guardProjection(() => reindex(this.client, this.#store, options));
    this.#missed -= missedBefore;
    await this.#cache?.invalidatePages();
    return result;
  }

  async project(kind: RepositoryKind, id: RecordId) {
    return guardProjection(() => this.#projector.project(kind, id));
  }

  /** A page of patients: from the cache when the same page was asked since the last write. */
  async listPatients(filter: PatientFilter = {}): Promise<PatientPage> {
    const cache = this.#cache;
    if (cache === undefined) return listPatients(this.client, filter);
    const generation = cache.generation;
    const key = `patients:${JSON.stringify(filter, Object.keys(filter).sort())}`;
    const hit = await cache.getPage(generation, key);
    if (hit !== undefined) return JSON.parse(hit) as PatientPage;
    const page = await listPatients(this.client, filter);
    await cache.setPage(generation, key, JSON.stringify(page));
    return page;
  }

  getPatient(patientId: string) {
    return getPatient(this.client, patientId);
  }

  status(): ProjectionStatus {
    return { backend: this.backend, missedCommits: this.#missed };
  }

  async close(): Promise<void> {
    this.#store.setCommitListener(undefined);
    await this.client.close();
  }
}
