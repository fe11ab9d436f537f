// Signed commits put into a repository behind the record store's back, as a test needs them:
// a commit signed with the library on top of HEAD, or a forged copy of one, written with git
// plumbing and made the branch head.
import { signCommit } from '../../src/core/signing/commit-signature.js';
import { git, plumb } from './git-check.js';

/** Writes commit bytes as a commit object with `git hash-object`; answers its id. */
export const writeCommitObject = (dir: string, bytes: Buffer): Promise<string> =>
  plumb(dir, ['hash-object', '-t', 'commit', '-w', '--stdin'], bytes);

/** A copy of HEAD's commit, as its child, signed with `keyPem`, made the head of main. */
export async function signOnTop(
  dir: string,
  keyPem: string,
  certificatePems: readonly string[],
): Promise<{ signed: Buffer; id: string }> {
  const head = (await git(dir, ['rev-parse', 'HEAD'])).trim();
  const child = (await git(dir, ['cat-file', 'commit', head])).replace(
    /^(tree [0-9a-f]{40})$/m,
    `$1\nparent ${head}`,
  );
  const signed = signCommit(Buffer.from(child), keyPem, certificatePems);
  const id = await writeCommitObject(dir, signed);
  await git(dir, ['update-ref', 'refs/heads/main', id]);
  return { signed, id };
}

/** `signed` with `from` rewritten as `to`, its signature kept, made the head of main. */
export async function forgeOnTop(dir: string, signed: Buffer, from: string, to: string): Promise<string> {
  const id = await writeCommitObject(dir, Buffer.from(signed.toString('utf8').replace(from, to)));
  await git(dir, ['update-ref', 'refs/heads/main', id]);
  return id;
}
