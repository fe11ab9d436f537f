// Verifying a repository's whole history: every commit of main, newest first along the single
// line of first parents (VPR keeps one linear branch), each with its verdict. Bounded: at most
// `limit` commits are read, and the answer says whether the history went on beyond them.
import { decodeCommit } from '../git/commit-object.js';
import type { ObjectId } from '../git/git-object.js';
import type { GitRepository } from '../git/repository.js';
import { verifyCommitBytes, type TrustAnchors, type Verdict } from './verify-commit.js';

export const MAX_VERIFY_COMMITS = 100_000;

export interface CommitVerdict {
  readonly commit: ObjectId;
  readonly verdict: Verdict;
}

export interface HistoryVerdict {
  readonly commits: readonly CommitVerdict[];
  /** True when the history is longer than the limit and was not read to its root. */
  readonly truncated: boolean;
  readonly counts: Readonly<Record<Verdict['status'], number>>;
}

export async function verifyHistory(
  repository: Pick<GitRepository, 'head' | 'readCommitBytes'>,
  anchors: TrustAnchors,
  limit = MAX_VERIFY_COMMITS,
): Promise<HistoryVerdict> {
  const commits: CommitVerdict[] = [];
  const counts = { valid: 0, unsigned: 0, invalid: 0 };
  let cursor = await repository.head();
  while (cursor !== undefined && commits.length < limit) {
    const bytes = await repository.readCommitBytes(cursor);
    const verdict = verifyCommitBytes(bytes, anchors);
    commits.push({ commit: cursor, verdict });
    counts[verdict.status]++;
    // The parent from the bytes just read: one object read per commit.
    cursor = decodeCommit(bytes).parents[0];
  }
  return { commits, truncated: cursor !== undefined, counts };
}
