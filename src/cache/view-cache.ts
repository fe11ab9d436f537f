// Views, the JSON a read answers with, cached by the commit they were built at. The key names a
// commit, so a cached view can never be stale. The builder says whether its view may be kept:
// only when everything it used was as of that commit, the projection's part included. With
// verification on read, the commit's history is checked on a hit as well as on a miss.
import type { ObjectId } from '../core/git/git-object.js';
import type { RepositoryKind } from '../core/record/record-layout.js';
import type { ReadVerifier } from '../services/read-verification.js';
import type { ReadCache } from './read-cache.js';

export interface BuiltView<T> {
  readonly view: T;
  /** True only when the view is wholly as of the commit in its key. */
  readonly cacheable: boolean;
}

export class ViewCache {
  readonly #cache: ReadCache;
  readonly #verifier: ReadVerifier | undefined;

  constructor(cache: ReadCache, verifier?: ReadVerifier) {
    this.#cache = cache;
    this.#verifier = verifier;
  }

  /** The view under `key` (which must name `commit`), built and kept when it is not cached. */
  async at<T>(
    kind: RepositoryKind,
    repoId: string,
    commit: ObjectId,
    key: string,
    build: () => Promise<BuiltView<T>>,
  ): Promise<T> {
    const cached = await this.#cache.getDocument(key);
    if (cached !== undefined) {
      await this.#verifier?.check(kind, repoId, commit);
      return JSON.parse(cached.toString('utf8')) as T;
    }
    // Built first: a version that is not a commit of this repository is NOT_FOUND, not a verdict.
    const { view, cacheable } = await build();
    await this.#verifier?.check(kind, repoId, commit);
    if (cacheable) await this.#cache.setDocument(key, Buffer.from(JSON.stringify(view)));
    return view;
  }
}
