// Reading a document's content through the cache: HEAD (or the asked version) is resolved to a
// commit first, so the key `kind/id/commit/path` names immutable content and can never be stale.
// With verification on read, the history of that commit is checked before anything is served.
import type { RepositoryKind } from '../core/record/record-layout.js';
import type { RecordStore } from '../core/record/record-store.js';
import { parseRepoPath } from '../core/git/repo-path.js';
import { parseVersion } from '../core/record/record-store.js';
import { VprError } from '../core/errors.js';
import { parseRecordId } from '../core/ids/record-id.js';
import type { ReadCache } from './read-cache.js';
import type { ReadVerifier } from '../services/read-verification.js';

export interface DocumentContent {
  readonly version: string;
  readonly content: Buffer;
}

export class DocumentReader {
  readonly #store: RecordStore;
  readonly #cache: ReadCache;
  readonly #verifier: ReadVerifier | undefined;

  constructor(store: RecordStore, cache: ReadCache, verifier?: ReadVerifier) {
    this.#store = store;
    this.#cache = cache;
    this.#verifier = verifier;
  }

  async read(kind: RepositoryKind, id: string, path: string, version?: string): Promise<DocumentContent> {
    const repoPath = parseRepoPath(path);
    // HEAD straight from the ref: a cache hit needs nothing else of the repository.
    const commit = version === undefined ? this.#store.head(kind, parseRecordId(id)) : parseVersion(version);
    if (commit === undefined) {
      throw new VprError('NOT_FOUND', `no ${kind} record with this id`, { details: { kind, id } });
    }
    const key = `${kind}/${id}/${commit}/${repoPath}`;
    const cached = await this.#cache.getDocument(key);
    if (cached !== undefined) {
      await this.#verifier?.check(kind, id, commit);
      return { version: commit, content: cached };
    }
    // Read first: a version that is not a commit of this repository is NOT_FOUND, not a verdict.
    const content = await (await this.#store.repository(kind, id)).readFile(repoPath, commit);
    await this.#verifier?.check(kind, id, commit);
    await this.#cache.setDocument(key, content);
    return { version: commit, content };
  }
}
