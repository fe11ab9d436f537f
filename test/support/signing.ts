// Signed commits put into a repository behind the record store's back, as a test needs them:
// a commit signed with the library on top of HEAD, or a forged copy of one, written with git
// plumbing and made the branch head; and the test PKI those commits are signed with.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { signCommit } from '../../src/core/signing/commit-signature.js';
import {
  createCertificateAuthority,
  createProfessionalCertificate,
  type KeyAndCertificate,
} from '../../src/core/signing/certificates.js';
import { tempDir } from './temp-dir.js';
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

/** Dr Ada Synthetic, the test clinician whose certificate the test CA issues. */
export const ADA = { name: 'Dr Ada Synthetic', authority: 'GMC', number: '7000001' } as const;

/** A test CA, Dr Ada's key and certificate from it, and a PEM file holding the CA (trust anchors). */
export async function testPki(
  t: TestContext,
): Promise<{ ca: KeyAndCertificate; ada: KeyAndCertificate; anchorsFile: string }> {
  const ca = await createCertificateAuthority('Synthetic Test CA');
  const ada = await createProfessionalCertificate(ADA, { issuer: ca });
  const anchorsFile = join(await tempDir(t), 'anchors.pem');
  await writeFile(anchorsFile, ca.certificatePem);
  return { ca, ada, anchorsFile };
}
