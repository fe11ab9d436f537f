// What every operation on one of a patient's repositories (clinical, coordination) shares:
// finding the repository from the patient id (and refusing writes to a deleted patient), reading
// files at HEAD or at a version through the cache, the content version (ETag) of one item, a
// view cache keyed by HEAD, and committing a change to one item so that "check the item's
// version, then write" is atomic: the check runs against a HEAD, the commit must have that HEAD
// as its parent (the ref compare-and-swap), and a commit that lost the race to an unrelated
// change of the repository is checked and tried again. A write answers from the bytes it
// committed (`filesCommitted`), not by reading them back from Git and the cache.
import { createHash } from 'node:crypto';
import type { Action, Trailer } from '../core/commit/commit-message.js';
import { VprError, isVprError } from '../core/errors.js';
import type { ObjectId } from '../core/git/git-object.js';
import { parseRecordId, type RecordId } from '../core/ids/record-id.js';
import { TimestampIdGenerator } from '../core/ids/timestamp-id.js';
import { PATIENT_FILE, readPatient } from '../core/patient/fhir-patient.js';
import {
  changeBytes,
  parseVersion,
  type ChangeInput,
  type RecordStore,
} from '../core/record/record-store.js';
import { repositoryDir } from '../core/record/record-layout.js';
import { FileStore, type StoredFile } from '../core/files/file-store.js';
import { DocumentReader } from '../cache/document-reader.js';
import type { ReadCache } from '../cache/read-cache.js';
import { ViewCache, type BuiltView } from '../cache/view-cache.js';
import { ACTING_PRINCIPAL_TRAILER } from '../projection/audit-rows.js';
import type { Projection } from '../projection/projection.js';
import { parseYamlMapping } from '../core/yaml-mapping.js';
import type { Actor } from './patient-service.js';
import type { RecordLinks } from './record-links.js';
import type { WriteSwitch } from './write-switch.js';
import { CommitSigning, type CommitOptions } from './commit-signing.js';
import type { ReadVerifier } from './read-verification.js';

/** How often a write that lost the CAS to an unrelated commit is checked and tried again. */
const CAS_ATTEMPTS = 5;
export const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

export interface RecordAccessDeps {
  readonly store: RecordStore;
  readonly projection: Projection;
  readonly cache: ReadCache;
  readonly writes: WriteSwitch;
  readonly links: RecordLinks;
  /** Where commits are made and the signing policy enforced; no policy when absent. */
  readonly signing?: CommitSigning;
  /** Verification on read; off when absent. */
  readonly verifier?: ReadVerifier;
  readonly now?: () => Date;
}

export interface ClinicalDeps extends RecordAccessDeps {
  /** The largest attachment accepted, in bytes. */
  readonly maxUploadBytes?: number;
}

/** The trailers every commit made through the API carries: who acted, with which key. */
export function actingTrailers(actor: Actor): Trailer[] {
  return [
    { key: ACTING_PRINCIPAL_TRAILER, value: actor.principal },
    { key: 'Acting-Key', value: actor.keyId },
  ];
}

/** The version of one item (a letter's files, an entry's file): 40 hex of its content's SHA-256. */
export function contentVersion(...parts: readonly (Buffer | undefined)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(part === undefined ? 'absent' : `${part.length}:`);
    if (part !== undefined) hash.update(part);
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 40);
}

/** VERSION_CONFLICT unless the item is still at the version a change is based on. */
export function assertItemVersion(current: string, expected: string | undefined, what: string): void {
  if (expected !== undefined && current !== expected) {
    throw new VprError('VERSION_CONFLICT', `the ${what} changed since the version this change was based on`, {
      details: { expected, current },
    });
  }
}

export interface ItemCommit {
  readonly changes: readonly ChangeInput[];
  readonly action: Action;
  readonly summary: string;
  readonly trailers: readonly Trailer[];
}

/** What `commitItem` made: the commit, and what it wrote to each path (null: removed). */
export interface ItemCommitted {
  readonly commit: ObjectId;
  /** Empty when the change would have stored what was stored already, and no commit was made. */
  readonly written: ReadonlyMap<string, Buffer | null>;
}

/** Reads one file of an item by its path: undefined when it is absent. */
export type FileReader = (path: string) => Promise<Buffer | undefined>;

/** One kind of a patient's repositories, as the services of that kind use it. */
export class RecordAccess {
  readonly kind: 'clinical' | 'coordination';
  readonly store: RecordStore;
  readonly projection: Projection;
  readonly ids = new TimestampIdGenerator();
  readonly now: () => Date;
  readonly #documents: DocumentReader;
  readonly #views: ViewCache;
  readonly #writes: WriteSwitch;
  readonly #links: RecordLinks;
  readonly #signing: CommitSigning;
  readonly #verifier: ReadVerifier | undefined;
  /** Item commits of one repository run one after another in this process (see commitItem). */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(kind: 'clinical' | 'coordination', deps: RecordAccessDeps) {
    this.kind = kind;
    this.store = deps.store;
    this.projection = deps.projection;
    this.#documents = new DocumentReader(deps.store, deps.cache, deps.verifier);
    this.#views = new ViewCache(deps.cache, deps.verifier);
    this.#verifier = deps.verifier;
    this.#writes = deps.writes;
    this.#links = deps.links;
    this.#signing = deps.signing ?? new CommitSigning({ store: deps.store, writes: deps.writes });
    this.now = deps.now ?? (() => new Date());
  }

  /** The patient's repository of this kind, for reading. */
  async idOf(patientId: unknown): Promise<RecordId> {
    return this.#links.idOf(parseRecordId(patientId, 'patient_id'), this.kind);
  }

  /** The repository id for a write: writes must be on, and the patient must not be deleted. */
  async idForWrite(patientId: unknown): Promise<RecordId> {
    const id = parseRecordId(patientId, 'patient_id');
    this.#writes.assertWritable();
    const repoId = await this.#links.idOf(id, this.kind);
    const patient = await this.#documents.read('demographics', id, PATIENT_FILE).catch((error: unknown) => {
      if (isVprError(error, 'NOT_FOUND')) {
        throw new VprError('NOT_FOUND', 'no patient with this id', { details: { patient_id: id } });
      }
      throw error;
    });
    if (readPatient(parseYamlMapping(patient.content.toString('utf8')))?.active === false) {
      throw new VprError('RECORD_DELETED', 'this patient is deleted; restore it to change the record', {
        details: { patient_id: id },
      });
    }
    return repoId;
  }

  /** The repository's HEAD. */
  head(id: RecordId): ObjectId | undefined {
    return this.store.head(this.kind, id);
  }

  /** A file at a commit (default HEAD), through the cache; undefined when absent there. */
  async readOptional(repoId: RecordId, path: string, version?: string): Promise<Buffer | undefined> {
    try {
      return (await this.#documents.read(this.kind, repoId, path, version)).content;
    } catch (error) {
      if (isVprError(error, 'NOT_FOUND')) return undefined;
      throw error;
    }
  }

  /** Files at a commit (default HEAD), through the cache (`readOptional`). */
  filesAt(repoId: RecordId, version?: string): FileReader {
    return (path) => this.readOptional(repoId, path, version);
  }

  /**
   * Files as `committed` left them: the bytes the commit wrote, else (a file it did not touch)
   * as stored at that commit. With verification on read, the commit's history is checked first,
   * as for any read: a write's answer serves what was there before it too.
   */
  async filesCommitted(repoId: RecordId, committed: ItemCommitted): Promise<FileReader> {
    await this.#verifier?.check(this.kind, repoId, committed.commit);
    const atCommit = this.filesAt(repoId, committed.commit);
    return async (path) => {
      const written = committed.written.get(path);
      return written === undefined ? atCommit(path) : (written ?? undefined);
    };
  }

  /**
   * A view of one item (letter, entry, thread) as served at `at` (HEAD or a version), checked by
   * verification on read, from the cache when it was built at this same commit (ViewCache).
   */
  async viewAtHead<T>(
    repoId: RecordId,
    at: string,
    key: string,
    build: () => Promise<BuiltView<T>>,
  ): Promise<T> {
    return this.#views.at(this.kind, repoId, parseVersion(at), key, build);
  }

  /**
   * Commits a change to one item. `check` looks at the repository as it is at `head` and throws
   * if the change no longer applies (wrong version, wrong state); it then returns the commit to
   * make, or undefined when the change would store what is stored already (no commit is made).
   * The commit is made on top of exactly that head, so the check and the write are one step.
   * It is signed, refused or prepared for signing as the actor's signing mode and the policy say.
   */
  async commitItem(
    actor: Actor,
    repoId: RecordId,
    check: (head: ObjectId) => Promise<ItemCommit | undefined>,
    options: CommitOptions = {},
  ): Promise<ItemCommitted> {
    // In this process, writers to one repository take turns, so their checks never race each
    // other (twenty messages posted to one thread at once all land, none retried to exhaustion);
    // the CAS and the retry below cover writers in other processes.
    const previous = this.#queues.get(repoId) ?? Promise.resolve();
    const turn = previous.catch(() => undefined).then(() => this.#commitItem(actor, repoId, check, options));
    const settled = turn.catch(() => undefined);
    this.#queues.set(repoId, settled);
    void settled.then(() => {
      if (this.#queues.get(repoId) === settled) this.#queues.delete(repoId);
    });
    return turn;
  }

  async #commitItem(
    actor: Actor,
    repoId: RecordId,
    check: (head: ObjectId) => Promise<ItemCommit | undefined>,
    options: CommitOptions,
  ): Promise<ItemCommitted> {
    for (let attempt = 1; ; attempt++) {
      const head = this.head(repoId);
      if (head === undefined) {
        throw new VprError('NOT_FOUND', `the ${this.kind} record has no commits`, {
          details: { repo_id: repoId },
        });
      }
      const change = await check(head);
      if (change === undefined) return { commit: head, written: new Map() };
      // Encoded once: the store commits these bytes, and the write answers from them.
      const changes = change.changes.map((c) => ({
        path: c.path,
        content: c.content === null ? null : changeBytes(c.content),
      }));
      try {
        const input = {
          kind: this.kind,
          id: repoId,
          parent: head,
          changes,
          author: actor.author,
          action: change.action,
          summary: change.summary,
          careLocation: actor.careLocation,
          trailers: [...actingTrailers(actor), ...change.trailers],
        };
        const result = await this.#signing.commit(actor, input, options);
        return { commit: result.id, written: new Map(changes.map((c) => [c.path, c.content])) };
      } catch (error) {
        // Another change of this repository landed first: look again, and retry if ours still applies.
        if (isVprError(error, 'VERSION_CONFLICT') && attempt < CAS_ATTEMPTS) {
          // Another process's commit landed first: wait a moment, so retries do not collide again.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
          continue;
        }
        throw error;
      }
    }
  }
}

/** The clinical repository, with the file store its letters' attachments live in. */
export class ClinicalRecord extends RecordAccess {
  readonly maxUploadBytes: number;
  /** Stored files that requests in flight may still commit a reference to (see `holdFile`). */
  readonly #held = new Map<string, { count: number; created: boolean; committed: boolean }>();

  constructor(deps: ClinicalDeps) {
    super('clinical', deps);
    this.maxUploadBytes = deps.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  }

  /** The content-addressed file store of this clinical repository. */
  files(repoId: RecordId): FileStore {
    return new FileStore(repositoryDir(this.store.dataDir, this.kind, repoId), {
      durability: 'fsync',
      maxBytes: this.maxUploadBytes,
    });
  }

  /**
   * Marks a stored file as about to be referenced by a commit of this request. Two requests may
   * upload the same bytes at once: only one of them created the file, and if that one's commit
   * fails while the other's succeeds, the bytes must stay. So the bytes are removed only when
   * every request holding them has finished and none committed (in this process; see
   * docs/storage.md for what that leaves across processes).
   */
  holdFile(repoId: RecordId, file: StoredFile): void {
    const key = `${repoId}/${file.hash}`;
    const held = this.#held.get(key) ?? { count: 0, created: false, committed: false };
    held.count++;
    held.created ||= file.created;
    this.#held.set(key, held);
  }

  /** Ends a hold; when the last holder ends and nobody committed, a file a holder created goes. */
  async releaseFile(repoId: RecordId, file: StoredFile, committed: boolean): Promise<void> {
    const key = `${repoId}/${file.hash}`;
    const held = this.#held.get(key);
    if (held === undefined) return;
    held.count--;
    held.committed ||= committed;
    if (held.count > 0) return;
    this.#held.delete(key);
    if (!held.committed && held.created) await this.files(repoId).discard({ ...file, created: true });
  }
}
