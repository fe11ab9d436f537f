// Verification on read (VPR_VERIFY_ON_READ): before content is served, the history it comes
// from (the commit read and every first-parent ancestor) is checked: each signed commit must
// verify against the trust anchors, and each unsigned one must be one the signing policy lets
// be unsigned. `warn` serves the content and says what failed (the VPR-Verification header /
// vpr-verification trailer); `enforce` refuses with SIGNATURE_UNVERIFIED. The verdict on a
// commit covers its whole ancestry and is cached by commit id (an id names its ancestry), so a
// read pays only for commits it has not seen: nothing, once a repository's head is verified.
import { AsyncLocalStorage } from 'node:async_hooks';
import { parseCommitMessage } from '../core/commit/commit-message.js';
import { VprError } from '../core/errors.js';
import { decodeCommit } from '../core/git/commit-object.js';
import type { ObjectId } from '../core/git/git-object.js';
import type { RepositoryKind } from '../core/record/record-layout.js';
import type { RecordStore } from '../core/record/record-store.js';
import {
  NO_SIGNING_POLICY,
  requiresSignatureOfStored,
  type SigningPolicy,
} from '../core/signing/signing-policy.js';
import { NO_TRUST_ANCHORS } from '../core/signing/trust-anchors.js';
import { verifyCommitBytes, type TrustAnchors } from '../core/signing/verify-commit.js';
import { MAX_VERIFY_COMMITS } from '../core/signing/verify-history.js';

export const VERIFY_ON_READ_MODES = ['off', 'warn', 'enforce'] as const;
export type VerifyOnRead = (typeof VERIFY_ON_READ_MODES)[number];

/** How many commit verdicts are kept (each a few dozen bytes). */
export const VERIFIED_COMMITS_CACHED = 200_000;

/** The verdict on a commit and all its ancestors: the newest commit that fails, if any. */
export interface ChainVerdict {
  readonly ok: boolean;
  readonly commit?: ObjectId;
  readonly reason?: string;
}

const OK: ChainVerdict = { ok: true };

/** What the reads of one request found, for the door to report (warn). */
export interface ReadVerificationState {
  checked: boolean;
  failure: { readonly commit: ObjectId; readonly reason: string } | undefined;
}

const scope = new AsyncLocalStorage<ReadVerificationState>();

/** The VPR-Verification value for what a request read: undefined when nothing was checked. */
export function verificationValue(state: ReadVerificationState | undefined): string | undefined {
  if (state === undefined || !state.checked) return undefined;
  return state.failure === undefined
    ? 'verified'
    : `failed; commit=${state.failure.commit}; reason=${state.failure.reason}`;
}

export interface ReadVerifierDeps {
  readonly store: RecordStore;
  readonly mode?: VerifyOnRead;
  readonly anchors?: TrustAnchors;
  readonly policy?: SigningPolicy;
  readonly cacheEntries?: number;
}

export class ReadVerifier {
  readonly mode: VerifyOnRead;
  readonly #store: RecordStore;
  readonly #anchors: TrustAnchors;
  readonly #policy: SigningPolicy;
  readonly #cacheEntries: number;
  readonly #verdicts = new Map<ObjectId, ChainVerdict>();

  constructor(deps: ReadVerifierDeps) {
    this.#store = deps.store;
    this.mode = deps.mode ?? 'off';
    this.#anchors = deps.anchors ?? NO_TRUST_ANCHORS;
    this.#policy = deps.policy ?? NO_SIGNING_POLICY;
    this.#cacheEntries = deps.cacheEntries ?? VERIFIED_COMMITS_CACHED;
  }

  /**
   * Runs one request's work with its own verification state, handed to `work` to keep. When
   * verification is off nothing is ever checked, so the work runs outside any scope: the
   * asynchronous-context tracking a scope needs costs every promise of the process a call,
   * and is then never switched on (docs/adr/0016-cpu-per-request.md).
   */
  scoped<T>(work: (state: ReadVerificationState) => T): T {
    const state: ReadVerificationState = { checked: false, failure: undefined };
    return this.mode === 'off' ? work(state) : scope.run(state, () => work(state));
  }

  /**
   * Checks the history content at `commit` comes from, as the mode says: nothing when off; the
   * request's state records a failure (warn), or SIGNATURE_UNVERIFIED is thrown (enforce).
   */
  async check(kind: RepositoryKind, id: string, commit: ObjectId): Promise<void> {
    if (this.mode === 'off') return;
    const verdict = await this.verdict(kind, id, commit);
    const state = scope.getStore();
    if (state !== undefined) {
      state.checked = true;
      if (!verdict.ok && state.failure === undefined) {
        state.failure = { commit: verdict.commit!, reason: verdict.reason! };
      }
    }
    if (!verdict.ok && this.mode === 'enforce') {
      throw new VprError(
        'SIGNATURE_UNVERIFIED',
        'this content is withheld: a commit in its history fails signature verification',
        { details: { repository: kind, commit: verdict.commit, reason: verdict.reason } },
      );
    }
  }

  /** The verdict on `commit` and its ancestors, reading only the commits not judged before. */
  async verdict(kind: RepositoryKind, id: string, commit: ObjectId): Promise<ChainVerdict> {
    const known = this.#cached(commit);
    if (known !== undefined) return known;
    const repository = await this.#store.repository(kind, id);
    const walked: { commit: ObjectId; own: ChainVerdict }[] = [];
    let base = OK;
    let cursor: ObjectId | undefined = commit;
    while (cursor !== undefined) {
      const hit = this.#cached(cursor);
      if (hit !== undefined) {
        base = hit;
        break;
      }
      if (walked.length >= MAX_VERIFY_COMMITS) {
        base = { ok: false, commit: cursor, reason: 'history-too-long-to-verify' };
        break;
      }
      const bytes = await repository.readCommitBytes(cursor);
      const data = decodeCommit(bytes);
      walked.push({ commit: cursor, own: this.#judge(kind, bytes, data.message, data.parents, cursor) });
      cursor = data.parents[0];
    }
    for (let i = walked.length - 1; i >= 0; i--) {
      const { commit: at, own } = walked[i]!;
      base = own.ok ? base : own;
      this.#remember(at, base);
    }
    return base;
  }

  #judge(
    kind: RepositoryKind,
    bytes: Buffer,
    message: string,
    parents: readonly string[],
    commit: ObjectId,
  ): ChainVerdict {
    const verdict = verifyCommitBytes(bytes, this.#anchors);
    if (verdict.status === 'valid') return OK;
    if (verdict.status === 'invalid') return { ok: false, commit, reason: verdict.reason };
    return requiresSignatureOfStored(this.#policy, kind, parseCommitMessage(message), parents)
      ? { ok: false, commit, reason: 'unsigned-where-required' }
      : OK;
  }

  #cached(commit: ObjectId): ChainVerdict | undefined {
    return this.#verdicts.get(commit);
  }

  #remember(commit: ObjectId, verdict: ChainVerdict): void {
    if (this.#verdicts.size >= this.#cacheEntries) {
      const oldest = this.#verdicts.keys().next().value as ObjectId;
      this.#verdicts.delete(oldest);
    }
    this.#verdicts.set(commit, verdict);
  }
}
