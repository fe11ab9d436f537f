// The record store: the one entry point to every patient repository on disk. It creates full
// patient records all-or-nothing, commits validated changes with the controlled vocabulary,
// reads files and history, and runs recovery and maintenance. Repository objects are cached
// (bounded) so each one's in-process write queue is shared by every caller.
import { mkdirSync, renameSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { VprError, invalidInput } from '../errors.js';
import { isErrno, syncDirectory, writeNewFile } from '../fs/durable-file.js';
import { parseAuthor, parseSingleLine, type Author } from '../commit/author.js';
import { formatCommitMessage, type Action, type Trailer } from '../commit/commit-message.js';
import { newRecordId, parseRecordId, type RecordId } from '../ids/record-id.js';
import type { CommitHeader } from '../git/commit-object.js';
import { isObjectId, type ObjectId } from '../git/git-object.js';
import { readRef, readRefAsync } from '../git/refs.js';
import { parseRepoPath, type RepoPath } from '../git/repo-path.js';
import {
  DEFAULT_REPOSITORY_OPTIONS,
  GitRepository,
  type CommitRequest,
  type CommitResult,
  type HistoryPage,
  type PreparedCommit,
  type RepositoryOptions,
} from '../git/repository.js';
import type { FileChange } from '../git/tree-edit.js';
import { isOwnerDead, writeLockOwnerFile } from '../git/write-lock.js';
import { COORDINATION_STATUS_FILE, renderInitialCoordinationStatus } from './coordination-status.js';
import { EHR_STATUS_FILE, renderEhrStatus } from './ehr-status.js';
import { parseDemographics } from '../patient/demographics.js';
import { PATIENT_FILE, renderPatient } from '../patient/fhir-patient.js';
import { REPOSITORY_KINDS, repositoryDir, stagingRoot, type RepositoryKind } from './record-layout.js';

export const GITIGNORE = 'files/\n';
export const MAX_CHANGES_PER_COMMIT = 1_000;
export const MAX_FILE_BYTES = 16 * 1024 * 1024;
const REPOSITORY_CACHE_SIZE = 256;

/** A commit that landed, as told to listeners such as the projection. */
export interface CommitEvent {
  readonly kind: RepositoryKind;
  readonly id: RecordId;
  readonly commit: ObjectId;
  readonly parent: ObjectId | undefined;
}

/**
 * Told of every commit after it is durable, before the write answers. A listener must not
 * throw: the commit stands whatever it does (the projection records its own lag and catches up).
 */
export type CommitListener = (events: readonly CommitEvent[]) => Promise<void>;

export interface RecordStoreOptions {
  readonly dataDir: string;
  readonly onCommit?: CommitListener;
  /** Deployment namespace used in `ehr://<namespace>/mpi`. */
  readonly namespace?: string;
  readonly repository?: Partial<RepositoryOptions>;
}

export interface FullRecordInput {
  readonly demographics: unknown;
  readonly author: unknown;
  readonly careLocation: unknown;
  /** Further trailers on all three first commits (e.g. the acting API principal). */
  readonly trailers?: readonly Trailer[];
  /**
   * The ids to use, chosen by the caller beforehand (an idempotent create records them before
   * writing, so a retry after a crash finds the record it made); new ones otherwise.
   */
  readonly ids?: Readonly<Record<RepositoryKind, string>>;
}

export interface FullRecord {
  readonly demographicsId: RecordId;
  readonly clinicalId: RecordId;
  readonly coordinationId: RecordId;
  readonly commits: Readonly<Record<RepositoryKind, ObjectId>>;
}

export interface ChangeInput {
  readonly path: string;
  /** New content; null removes the file. */
  readonly content: string | Buffer | null;
}

export interface CommitChangeInput {
  readonly kind: RepositoryKind;
  readonly id: string;
  /** The version the change is based on; omitted means "whatever is current under the lock". */
  readonly parent?: string;
  readonly changes: readonly ChangeInput[];
  readonly author: unknown;
  readonly action: Action;
  readonly summary: string;
  readonly careLocation: unknown;
  readonly trailers?: readonly Trailer[];
  readonly extraHeaders?: readonly CommitHeader[];
  /** Signs the commit where it is made (see CommitRequest.sign); the key stays with the caller. */
  readonly sign?: (unsigned: Buffer) => CommitHeader;
}

/** A change built on its parent, not yet landed: `commit.unsigned` is what its signer signs. */
export interface PreparedChange {
  readonly kind: RepositoryKind;
  readonly id: RecordId;
  readonly parent: ObjectId;
  readonly commit: PreparedCommit;
}

function newRecordIds(): Record<RepositoryKind, RecordId> {
  return { demographics: newRecordId(), clinical: newRecordId(), coordination: newRecordId() };
}

function parseRecordIds(ids: Readonly<Record<RepositoryKind, string>>): Record<RepositoryKind, RecordId> {
  const parsed = {
    demographics: parseRecordId(ids.demographics, 'ids.demographics'),
    clinical: parseRecordId(ids.clinical, 'ids.clinical'),
    coordination: parseRecordId(ids.coordination, 'ids.coordination'),
  };
  if (new Set(Object.values(parsed)).size !== 3) throw invalidInput('ids', 'must be three different ids');
  return parsed;
}

function parseKind(kind: unknown): RepositoryKind {
  if (!REPOSITORY_KINDS.includes(kind as RepositoryKind)) {
    throw invalidInput('kind', `must be one of ${REPOSITORY_KINDS.join(', ')}`);
  }
  return kind as RepositoryKind;
}

export function parseVersion(value: unknown, field = 'version'): ObjectId {
  if (typeof value !== 'string' || !isObjectId(value))
    throw invalidInput(field, 'must be a 40-hex commit id');
  return value;
}

/** A change's content as Git stores it: text as UTF-8; bytes (or anything else, refused later) as given. */
export function changeBytes<C>(content: string | C): Buffer | C {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
}

function parseChanges(changes: readonly ChangeInput[]): FileChange[] {
  if (!Array.isArray(changes) || changes.length === 0)
    throw invalidInput('changes', 'must list at least one change');
  if (changes.length > MAX_CHANGES_PER_COMMIT) {
    throw invalidInput('changes', `must list at most ${MAX_CHANGES_PER_COMMIT} changes`);
  }
  return changes.map((change, i) => {
    const path = parseRepoPath(change.path, `changes[${i}].path`);
    if (path === '.gitignore') throw invalidInput(`changes[${i}].path`, 'the .gitignore is managed by VPR');
    if (change.content === null) return { path, remove: true as const };
    const content = changeBytes(change.content);
    if (!Buffer.isBuffer(content)) throw invalidInput(`changes[${i}].content`, 'must be text, bytes or null');
    if (content.length > MAX_FILE_BYTES) {
      throw invalidInput(`changes[${i}].content`, `must be at most ${MAX_FILE_BYTES} bytes`);
    }
    return { path, content };
  });
}

/** Runs a repository write; a failure that is not one of ours becomes STORAGE_FAILURE. */
async function storing<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof VprError) throw error;
    throw new VprError('STORAGE_FAILURE', 'the change could not be stored', { cause: error });
  }
}

function identityOf(author: Author) {
  return { name: author.name, email: author.email };
}

/** A ref read slower than this came from the disk, not the page cache (which takes ~10 µs). */
const DISK_READ_MS = 0.2;

export class RecordStore {
  readonly dataDir: string;
  readonly #namespace: string;
  #repositoryOptions: RepositoryOptions;
  readonly #repositories = new Map<string, GitRepository>();
  #onCommit: CommitListener | undefined;
  readonly #commits: Record<RepositoryKind, number> = { clinical: 0, demographics: 0, coordination: 0 };
  #ownerFile: string | undefined;

  constructor(options: RecordStoreOptions) {
    this.dataDir = options.dataDir;
    this.#namespace = parseSingleLine(options.namespace ?? 'vpr', 'namespace', 64);
    this.#repositoryOptions = { ...DEFAULT_REPOSITORY_OPTIONS, ...options.repository };
    this.#onCommit = options.onCommit;
  }

  /** Sets the one listener told of every commit (the projection), replacing any earlier one. */
  setCommitListener(listener: CommitListener | undefined): void {
    this.#onCommit = listener;
  }

  /** Commits this store has made since it was opened, by kind (for metrics). */
  commitCounts(): Readonly<Record<RepositoryKind, number>> {
    return { ...this.#commits };
  }

  async #notify(events: readonly CommitEvent[]): Promise<void> {
    for (const event of events) this.#commits[event.kind]++;
    if (this.#onCommit === undefined) return;
    try {
      await this.#onCommit(events);
    } catch {
      // The commit is durable; a listener's failure is its own to record and repair.
    }
  }

  /**
   * Every id of one kind of repository on disk, in shard order (streamed, not collected). The
   * shard directories under one first-level shard are read side by side through the thread pool:
   * on a cold disk several times faster than one after another, in the page cache as fast
   * (docs/adr/0019).
   */
  async *listRecordIds(kind: RepositoryKind): AsyncGenerator<RecordId> {
    const root = join(this.dataDir, parseKind(kind));
    const list = async (dir: string) => {
      try {
        return (await readdir(dir)).sort();
      } catch (error) {
        if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return [];
        throw error;
      }
    };
    const shard = /^[0-9a-f]{2}$/;
    for (const s1 of await list(root)) {
      if (!shard.test(s1)) continue;
      const s2s = (await list(join(root, s1))).filter((s2) => shard.test(s2));
      const names = await Promise.all(s2s.map((s2) => list(join(root, s1, s2))));
      for (const [i, s2] of s2s.entries()) {
        for (const name of names[i]!) {
          if (/^[0-9a-f]{32}$/.test(name) && name.startsWith(`${s1}${s2}`)) yield name as RecordId;
        }
      }
    }
  }

  /**
   * Prepares the data directory and removes any record a crashed process left half-made in the
   * staging area (never acknowledged, so nobody knows its ids). Call once at start-up.
   */
  async open(): Promise<void> {
    await mkdir(stagingRoot(this.dataDir), { recursive: true });
    const locks = join(this.dataDir, '.locks');
    await mkdir(locks, { recursive: true });
    for (const name of await readdir(locks)) {
      if (isOwnerDead(join(locks, name))) await rm(join(locks, name), { force: true });
    }
    const ownerFile = join(locks, `owner-${hostname()}-${process.pid}.json`);
    writeLockOwnerFile(ownerFile);
    this.#ownerFile = ownerFile;
    this.#repositoryOptions = { ...this.#repositoryOptions, lockOwnerFile: ownerFile };
    for (const name of await readdir(stagingRoot(this.dataDir))) {
      await this.#abandonStaging(join(stagingRoot(this.dataDir), name));
    }
  }

  async #abandonStaging(staging: string): Promise<void> {
    try {
      const intent = JSON.parse(await readFile(join(staging, 'intent.json'), 'utf8')) as {
        targets: string[];
      };
      for (const target of intent.targets) await rm(target, { recursive: true, force: true });
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
    await rm(staging, { recursive: true, force: true });
  }

  /** The cached repository object for a path (one per path, so one write queue per repository). */
  #repositoryAt(dir: string): GitRepository {
    let repository = this.#repositories.get(dir);
    if (repository !== undefined) {
      this.#repositories.delete(dir);
    } else {
      repository = new GitRepository(dir, this.#repositoryOptions);
      if (this.#repositories.size >= REPOSITORY_CACHE_SIZE) {
        const [oldestDir, oldest] = this.#repositories.entries().next().value as [string, GitRepository];
        this.#repositories.delete(oldestDir);
        void oldest.close();
      }
    }
    this.#repositories.set(dir, repository);
    return repository;
  }

  /**
   * The commit a repository's branch points at, read straight from its ref without opening the
   * repository (for scans of every repository); undefined when it has no commit or does not exist.
   */
  head(kind: RepositoryKind, id: RecordId): ObjectId | undefined {
    return readRef(join(repositoryDir(this.dataDir, parseKind(kind), id), '.git'));
  }

  /**
   * As `head`, for many repositories at once (catch-up's scan). Refs in the page cache are read
   * synchronously, which is fastest; from the first read that had to wait for the disk, the rest
   * are read side by side through the thread pool, which on a cold disk is several times faster
   * (docs/adr/0019). `diskReadMs`: how slow a read must be to count as the disk's.
   */
  async heads(
    kind: RepositoryKind,
    ids: readonly RecordId[],
    diskReadMs = DISK_READ_MS,
  ): Promise<(ObjectId | undefined)[]> {
    const gitDir = (id: RecordId) => join(repositoryDir(this.dataDir, parseKind(kind), id), '.git');
    const heads: (ObjectId | undefined)[] = [];
    for (const id of ids) {
      const started = performance.now();
      heads.push(readRef(gitDir(id)));
      if (performance.now() - started > diskReadMs) break;
    }
    const rest = await Promise.all(ids.slice(heads.length).map((id) => readRefAsync(gitDir(id))));
    return heads.concat(rest);
  }

  /** An existing repository; NOT_FOUND when the id names none. */
  async repository(kind: RepositoryKind, id: string): Promise<GitRepository> {
    const dir = repositoryDir(this.dataDir, parseKind(kind), parseRecordId(id));
    if (
      !this.#repositories.has(dir) &&
      !statSync(join(dir, '.git', 'HEAD'), { throwIfNoEntry: false })?.isFile()
    ) {
      throw new VprError('NOT_FOUND', `no ${kind} record with this id`, { details: { kind, id } });
    }
    return this.#repositoryAt(dir);
  }

  /**
   * Creates demographics, clinical and coordination repositories for a new patient, each with
   * its first commit. The three are assembled in the staging area and renamed into place; if
   * any step fails, every directory of the new patient is removed again.
   */
  async createFullRecord(input: FullRecordInput): Promise<FullRecord> {
    const demographics = parseDemographics(input.demographics);
    const author = parseAuthor(input.author);
    const careLocation = parseSingleLine(input.careLocation, 'careLocation');
    const ids = input.ids === undefined ? newRecordIds() : parseRecordIds(input.ids);
    const now = new Date();
    const trailers = input.trailers ?? [];
    const message = (domain: RepositoryKind, summary: string) =>
      formatCommitMessage({ domain, action: 'create', summary, author, careLocation, trailers });
    const plan: Record<RepositoryKind, { files: Record<string, string>; message: string }> = {
      demographics: {
        files: { [PATIENT_FILE]: renderPatient(ids.demographics, demographics, now) },
        message: message('demographics', 'Created patient demographics'),
      },
      clinical: {
        files: { [EHR_STATUS_FILE]: renderEhrStatus(ids.clinical, ids.demographics, this.#namespace) },
        message: message('clinical', 'Created clinical record'),
      },
      coordination: {
        files: {
          [COORDINATION_STATUS_FILE]: renderInitialCoordinationStatus(ids.coordination, ids.clinical),
        },
        message: message('coordination', 'Created coordination record'),
      },
    };

    const durability = this.#repositoryOptions.durability;
    const staging = join(stagingRoot(this.dataDir), `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const targets = REPOSITORY_KINDS.map((kind) => repositoryDir(this.dataDir, kind, ids[kind]));
    if (targets.some((target) => statSync(target, { throwIfNoEntry: false }) !== undefined)) {
      throw new VprError('ALREADY_EXISTS', 'a record with one of these ids exists already', {
        details: { ids },
      });
    }
    const moved: string[] = [];
    try {
      mkdirSync(staging);
      const build = async (kind: RepositoryKind): Promise<[RepositoryKind, CommitResult]> => {
        const repository = await GitRepository.layOut(join(staging, kind), this.#repositoryOptions);
        const changes: FileChange[] = Object.entries({ '.gitignore': GITIGNORE, ...plan[kind].files }).map(
          ([path, text]) => ({ path: parseRepoPath(path), content: Buffer.from(text, 'utf8') }),
        );
        const result = await repository.commit({
          parent: 'unborn',
          changes,
          identity: identityOf(author),
          message: plan[kind].message,
          time: now.getTime(),
        });
        await repository.syncLayout();
        await repository.close();
        return [kind, result];
      };
      const [commits] = await Promise.all([
        Promise.all(REPOSITORY_KINDS.map(build)),
        writeNewFile(join(staging, 'intent.json'), JSON.stringify({ targets }), durability),
        ...targets.map((target) => this.#ensureDirectory(dirname(target))),
      ]);
      await syncDirectory(staging, durability);
      for (const [i, kind] of REPOSITORY_KINDS.entries()) {
        try {
          renameSync(join(staging, kind), targets[i]!);
        } catch (error) {
          // Another writer created the same id between the check above and here.
          if (!isErrno(error, 'ENOTEMPTY') && !isErrno(error, 'EEXIST')) throw error;
          throw new VprError('ALREADY_EXISTS', 'a record with one of these ids exists already', {
            details: { ids },
          });
        }
        moved.push(targets[i]!);
      }
      await Promise.all(targets.map((target) => syncDirectory(dirname(target), durability)));
      await rm(staging, { recursive: true, force: true });
      const byKind = Object.fromEntries(commits.map(([kind, result]) => [kind, result.id]));
      await this.#notify(
        commits.map(([kind, result]) => ({ kind, id: ids[kind], commit: result.id, parent: undefined })),
      );
      return {
        demographicsId: ids.demographics,
        clinicalId: ids.clinical,
        coordinationId: ids.coordination,
        commits: byKind as Record<RepositoryKind, ObjectId>,
      };
    } catch (error) {
      for (const target of moved) await rm(target, { recursive: true, force: true }).catch(() => undefined);
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
      if (error instanceof VprError) throw error;
      throw new VprError('STORAGE_FAILURE', 'the patient record could not be created; nothing was kept', {
        cause: error,
      });
    }
  }

  /** mkdir -p that makes each directory it creates durable in its parent. */
  async #ensureDirectory(dir: string): Promise<void> {
    try {
      mkdirSync(dir);
    } catch (error) {
      if (isErrno(error, 'EEXIST')) return;
      if (!isErrno(error, 'ENOENT')) throw error;
      await this.#ensureDirectory(dirname(dir));
      try {
        mkdirSync(dir);
      } catch (again) {
        if (!isErrno(again, 'EEXIST')) throw again;
      }
    }
    await syncDirectory(dirname(dir), this.#repositoryOptions.durability);
  }

  /** Commits a validated change of one or more files to one repository. */
  async commitChange(input: CommitChangeInput): Promise<CommitResult> {
    const { kind, id, request } = this.#commitRequest(input);
    const repository = await this.repository(kind, id);
    const result = await storing(() =>
      repository.commit({ ...request, ...(input.sign === undefined ? {} : { sign: input.sign }) }),
    );
    await this.#notify([{ kind, id, commit: result.id, parent: result.parent }]);
    return result;
  }

  /**
   * Builds a validated change on top of its parent (which it must name) without landing it, for
   * a signer elsewhere: the prepared commit carries the exact bytes to sign. Nothing is written.
   */
  async prepareChange(input: CommitChangeInput & { readonly parent: string }): Promise<PreparedChange> {
    const { kind, id, request } = this.#commitRequest(input);
    const parent = parseVersion(input.parent, 'parent');
    const repository = await this.repository(kind, id);
    const prepared = await storing(() => repository.prepare({ ...request, parent }));
    return { kind, id, parent, commit: prepared };
  }

  /**
   * Lands a prepared change with its signature header: VERSION_CONFLICT, nothing written, when
   * the repository moved on since it was prepared.
   */
  async commitPrepared(prepared: PreparedChange, header: CommitHeader): Promise<CommitResult> {
    const repository = await this.repository(prepared.kind, prepared.id);
    const result = await storing(() => repository.commitPrepared(prepared.commit, header));
    await this.#notify([{ kind: prepared.kind, id: prepared.id, commit: result.id, parent: result.parent }]);
    return result;
  }

  #commitRequest(input: CommitChangeInput): { kind: RepositoryKind; id: RecordId; request: CommitRequest } {
    const kind = parseKind(input.kind);
    const id = parseRecordId(input.id);
    const parent = input.parent === undefined ? 'current' : parseVersion(input.parent, 'parent');
    const changes = parseChanges(input.changes);
    const author = parseAuthor(input.author);
    const careLocation = parseSingleLine(input.careLocation, 'careLocation');
    const message = formatCommitMessage({
      domain: kind,
      action: input.action,
      summary: input.summary,
      author,
      careLocation,
      trailers: input.trailers ?? [],
    });
    const request: CommitRequest = {
      parent,
      changes,
      identity: identityOf(author),
      message,
      ...(input.extraHeaders === undefined ? {} : { extraHeaders: input.extraHeaders }),
    };
    return { kind, id, request };
  }

  async readFile(kind: RepositoryKind, id: string, path: string, version?: string): Promise<Buffer> {
    const repoPath: RepoPath = parseRepoPath(path);
    const at = version === undefined ? undefined : parseVersion(version);
    return (await this.repository(kind, id)).readFile(repoPath, at);
  }

  async history(
    kind: RepositoryKind,
    id: string,
    query: { path?: string; after?: string; limit?: number } = {},
  ): Promise<HistoryPage> {
    const repository = await this.repository(kind, id);
    return repository.history({
      ...(query.path === undefined ? {} : { path: parseRepoPath(query.path) }),
      ...(query.after === undefined ? {} : { after: parseVersion(query.after, 'after') }),
      ...(query.limit === undefined ? {} : { limit: query.limit }),
    });
  }

  async diffFile(kind: RepositoryKind, id: string, path: string, from: string, to: string): Promise<string> {
    const repository = await this.repository(kind, id);
    return repository.diffFile(parseRepoPath(path), parseVersion(from, 'from'), parseVersion(to, 'to'));
  }

  async recover(kind: RepositoryKind, id: string): Promise<void> {
    await (await this.repository(kind, id)).recover();
  }

  async maintain(kind: RepositoryKind, id: string): Promise<void> {
    await (await this.repository(kind, id)).maintain();
  }

  async close(): Promise<void> {
    const repositories = [...this.#repositories.values()];
    this.#repositories.clear();
    await Promise.all(repositories.map((repository) => repository.close()));
    if (this.#ownerFile !== undefined) await rm(this.#ownerFile, { force: true });
    this.#ownerFile = undefined;
  }
}
