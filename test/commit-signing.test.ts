// Signed commits, offline: commits made by the stock git CLI, signed with ECDSA P-256 keys and
// X.509 certificates made by src/core/signing/certificates.ts, written back with git plumbing,
// checked by `git fsck --strict`, and verified from their bytes alone — and the signature
// cross-checked with openssl. Tampering with a message, an author, a date or a file by raw
// plumbing is detected, as are a wrong key, someone else's certificate, an expired or
// not-yet-valid certificate, an untrusted chain, and a forged commit in a history of ten.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  createCertificateAuthority,
  createProfessionalCertificate,
  type KeyAndCertificate,
} from '../src/core/signing/certificates.js';
import { DEFAULT_REPOSITORY_OPTIONS, GitRepository } from '../src/core/git/repository.js';
import { parseRepoPath } from '../src/core/git/repo-path.js';
import {
  parsePayload,
  signatureHeader,
  signCommit,
  splitSignature,
} from '../src/core/signing/commit-signature.js';
import { verifyHistory } from '../src/core/signing/verify-history.js';
import { verifyCommitBytes, type TrustAnchors } from '../src/core/signing/verify-commit.js';
import { assertCleanAndSound, git, plumb } from './support/git-check.js';
import { writeCommitObject } from './support/signing.js';
import { tempDir } from './support/temp-dir.js';

const run = promisify(execFile);
const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Dr Ada Synthetic',
  GIT_AUTHOR_EMAIL: 'dr.synthetic@example.invalid',
  GIT_COMMITTER_NAME: 'Dr Ada Synthetic',
  GIT_COMMITTER_EMAIL: 'dr.synthetic@example.invalid',
};
const ADA = { name: 'Dr Ada Synthetic', authority: 'GMC', number: '7000001' };

/** A repository with one commit by the stock git CLI. */
async function repository(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t);
  await run('git', ['init', '-q', '-b', 'main', dir]);
  await writeFile(join(dir, 'note.md'), 'A synthetic clinical note.\n');
  await run('git', ['-C', dir, 'add', 'note.md']);
  await run('git', ['-C', dir, 'commit', '-q', '-m', 'clinical:create: Note'], {
    env: { ...process.env, ...GIT_ENV },
  });
  return dir;
}

const commitBytes = async (dir: string, rev: string) =>
  (await run('git', ['-C', dir, 'cat-file', 'commit', rev], { encoding: 'buffer' })).stdout as Buffer;

const anchorsOf = (...cas: KeyAndCertificate[]): TrustAnchors => ({
  certificates: cas.map((ca) => new X509Certificate(ca.certificatePem)),
});

test('sign and verify: a CA-certified clinician, git fsck clean, openssl agrees', async (t) => {
  const dir = await repository(t);
  const ca = await createCertificateAuthority('Synthetic Test CA');
  const ada = await createProfessionalCertificate(ADA, { issuer: ca });
  const unsigned = await commitBytes(dir, 'HEAD');
  const signed = signCommit(unsigned, ada.privateKeyPem, [ada.certificatePem]);
  const id = await writeCommitObject(dir, signed);
  await git(dir, ['update-ref', 'refs/heads/main', id]);
  await git(dir, ['fsck', '--strict', '--no-dangling']);
  assert.match(
    await git(dir, ['log', '-1', '--format=%s']),
    /clinical:create: Note/,
    'git reads it as usual',
  );

  const stored = await commitBytes(dir, id);
  assert.ok(stored.equals(signed), 'git stores the bytes as signed');
  const verdict = verifyCommitBytes(stored, anchorsOf(ca));
  assert.equal(verdict.status, 'valid', JSON.stringify(verdict));
  if (verdict.status === 'valid') {
    assert.equal(verdict.signer.registration, 'vpr://GMC/7000001');
    assert.match(verdict.signer.subject ?? '', /CN=Dr Ada Synthetic/);
    assert.equal(verdict.signer.certified, true);
  }
  assert.ok(splitSignature(stored).unsigned.equals(unsigned), 'the signed bytes are the commit as it was');

  // An independent verifier: openssl, given the public key, the bytes and the DER signature.
  const payload = parsePayload(splitSignature(stored).payloadText!);
  assert.ok(!('malformed' in payload));
  const work = await tempDir(t);
  const pem = createPublicKey({ key: payload.publicKey, format: 'der', type: 'spki' }).export({
    format: 'pem',
    type: 'spki',
  });
  await writeFile(join(work, 'key.pem'), pem);
  await writeFile(join(work, 'sig.der'), payload.signature);
  await writeFile(join(work, 'commit.bin'), unsigned);
  const openssl = () =>
    run('openssl', [
      'dgst',
      '-sha256',
      '-verify',
      join(work, 'key.pem'),
      '-signature',
      join(work, 'sig.der'),
      join(work, 'commit.bin'),
    ]);
  const ok = await openssl();
  assert.match(ok.stdout, /Verified OK/);
  await writeFile(join(work, 'commit.bin'), Buffer.concat([unsigned, Buffer.from('x')]));
  await assert.rejects(openssl(), (e: { stdout?: string }) => /Verification failure/.test(e.stdout ?? ''));
});

test('a bare key verifies, uncertified; an unsigned commit says so', async (t) => {
  const dir = await repository(t);
  const self = await createProfessionalCertificate(ADA);
  const unsigned = await commitBytes(dir, 'HEAD');
  assert.deepEqual(verifyCommitBytes(unsigned, anchorsOf()), { status: 'unsigned' });
  const verdict = verifyCommitBytes(signCommit(unsigned, self.privateKeyPem), anchorsOf());
  assert.equal(verdict.status, 'valid');
  if (verdict.status === 'valid') assert.equal(verdict.signer.certified, false);
});

test('tampering by raw git plumbing is detected: message, author, date, file', async (t) => {
  const dir = await repository(t);
  const ca = await createCertificateAuthority('Synthetic Test CA');
  const ada = await createProfessionalCertificate(ADA, { issuer: ca });
  const signed = signCommit(await commitBytes(dir, 'HEAD'), ada.privateKeyPem, [ada.certificatePem]);
  const text = signed.toString('utf8');
  // A tree with the note rewritten, made with plumbing.
  const blob = await plumb(dir, ['hash-object', '-w', '--stdin'], 'A rewritten note.\n');
  const tree = await plumb(dir, ['mktree'], `100644 blob ${blob}\tnote.md\n`);
  const forgeries: Record<string, string> = {
    message: text.replace('clinical:create: Note', 'clinical:create: Other'),
    author: text.replace('author Dr Ada Synthetic', 'author Dr Eve Synthetic'),
    date: text.replace(
      /^(committer .* )(\d+)( [+-]\d{4})$/m,
      (_, a: string, s: string, z: string) => `${a}${Number(s) - 3600}${z}`,
    ),
    file: text.replace(/^tree [0-9a-f]{40}$/m, `tree ${tree}`),
  };
  for (const [what, forged] of Object.entries(forgeries)) {
    assert.notEqual(forged, text, `${what}: the forgery changes the commit`);
    const id = await writeCommitObject(dir, Buffer.from(forged, 'utf8'));
    const verdict = verifyCommitBytes(await commitBytes(dir, id), anchorsOf(ca));
    assert.equal(
      verdict.status === 'invalid' && verdict.reason,
      'bad-signature',
      `${what}: ${JSON.stringify(verdict)}`,
    );
  }
});

test('wrong key, someone else’s certificate, expired, not yet valid, untrusted, malformed', async (t) => {
  const dir = await repository(t);
  const unsigned = await commitBytes(dir, 'HEAD');
  const ca = await createCertificateAuthority('Synthetic Test CA');
  const otherCa = await createCertificateAuthority('Some Other CA');
  const ada = await createProfessionalCertificate(ADA, { issuer: ca });
  const eve = await createProfessionalCertificate(
    { name: 'Dr Eve Synthetic', authority: 'GMC', number: '7000002' },
    { issuer: ca },
  );
  const reason = (bytes: Buffer, anchors = anchorsOf(ca)) => {
    const verdict = verifyCommitBytes(bytes, anchors);
    return verdict.status === 'invalid' ? verdict.reason : verdict.status;
  };

  // Signed by Ada's key, but the public key in the payload is Eve's.
  const byAda = signCommit(unsigned, ada.privateKeyPem).toString('utf8');
  const eveKey = createPublicKey(eve.privateKeyPem)
    .export({ format: 'der', type: 'spki' })
    .toString('base64');
  assert.equal(
    reason(Buffer.from(byAda.replace(/Public-Key: \S+/, `Public-Key: ${eveKey}`))),
    'bad-signature',
  );
  assert.equal(reason(signCommit(unsigned, ada.privateKeyPem, [eve.certificatePem])), 'key-mismatch');

  const yearAgo = new Date(Date.now() - 400 * 24 * 3600_000);
  const expired = await createProfessionalCertificate(ADA, { issuer: ca, notBefore: yearAgo, days: 30 });
  assert.equal(
    reason(signCommit(unsigned, expired.privateKeyPem, [expired.certificatePem])),
    'certificate-expired',
  );
  const future = await createProfessionalCertificate(ADA, {
    issuer: ca,
    notBefore: new Date(Date.now() + 7 * 24 * 3600_000),
  });
  assert.equal(
    reason(signCommit(unsigned, future.privateKeyPem, [future.certificatePem])),
    'certificate-not-yet-valid',
  );

  const stranger = await createProfessionalCertificate(ADA, { issuer: otherCa });
  assert.equal(
    reason(signCommit(unsigned, stranger.privateKeyPem, [stranger.certificatePem])),
    'untrusted-chain',
  );
  const selfSigned = await createProfessionalCertificate(ADA);
  assert.equal(
    reason(signCommit(unsigned, selfSigned.privateKeyPem, [selfSigned.certificatePem])),
    'untrusted-chain',
  );
  assert.equal(
    reason(signCommit(unsigned, stranger.privateKeyPem, [stranger.certificatePem]), anchorsOf(ca, otherCa)),
    'valid',
    'trusted once its CA is an anchor',
  );

  const good = signCommit(unsigned, ada.privateKeyPem, [ada.certificatePem]).toString('utf8');
  assert.equal(reason(Buffer.from(good.replace(/Signature: \S+/, 'Signature: not*base64'))), 'malformed');
  assert.equal(reason(Buffer.from(good.replace('Version: 1', 'Version: 9'))), 'malformed');
  assert.throws(() => signCommit(Buffer.from(good), ada.privateKeyPem), /signed already/);
  assert.throws(() => signCommit(unsigned, 'not a key'), /signing_key/);
});

test('a history of ten where commit 3 was forged: 1 and 2 verify, 3 to 10 do not', async (t) => {
  const dir = await repository(t);
  const ca = await createCertificateAuthority('Synthetic Test CA');
  const ada = await createProfessionalCertificate(ADA, { issuer: ca });
  const base = (await commitBytes(dir, 'HEAD')).toString('utf8');
  const ids: string[] = [];
  const unsignedOf: string[] = [];
  for (let i = 1; i <= 10; i++) {
    const parent = ids.at(-1);
    const text = base
      .replace('clinical:create: Note', `clinical:update: Note ${i}`)
      .replace(/^(tree [0-9a-f]{40})$/m, parent === undefined ? '$1' : `$1\nparent ${parent}`);
    unsignedOf.push(text);
    ids.push(
      await writeCommitObject(dir, signCommit(Buffer.from(text), ada.privateKeyPem, [ada.certificatePem])),
    );
  }
  await git(dir, ['update-ref', 'refs/heads/main', ids.at(-1)!]);
  const verdicts = async () => {
    const revs = (await git(dir, ['rev-list', '--reverse', 'main'])).trim().split('\n');
    return Promise.all(
      revs.map(async (rev) => verifyCommitBytes(await commitBytes(dir, rev), anchorsOf(ca)).status),
    );
  };
  assert.deepEqual(await verdicts(), Array(10).fill('valid'));

  // The forger rewrites commit 3's message and, to keep the history whole, rebuilds 4–10 on it,
  // each with the signature it had.
  const forged: string[] = ids.slice(0, 2);
  for (let i = 2; i < 10; i++) {
    const original = (await commitBytes(dir, ids[i]!)).toString('utf8');
    let text = original.replace(/^parent [0-9a-f]{40}$/m, `parent ${forged.at(-1)}`);
    if (i === 2) text = text.replace('Note 3', 'Note 3 (nothing to see)');
    forged.push(await writeCommitObject(dir, Buffer.from(text)));
  }
  await git(dir, ['update-ref', 'refs/heads/main', forged.at(-1)!]);
  await git(dir, ['fsck', '--strict', '--no-dangling']);
  assert.deepEqual(await verdicts(), ['valid', 'valid', ...Array(8).fill('invalid')]);
});

test('commits signed where they are made: the store signs, git agrees, the history verifies', async (t) => {
  const dir = await tempDir(t);
  const repository = await GitRepository.layOut(join(dir, 'repo'), DEFAULT_REPOSITORY_OPTIONS);
  await repository.syncLayout();
  t.after(() => repository.close());
  const ca = await createCertificateAuthority('Synthetic Test CA');
  const ada = await createProfessionalCertificate(ADA, { issuer: ca });
  const identity = { name: ADA.name, email: 'dr.synthetic@example.invalid' };
  const sign = (unsigned: Buffer) => signatureHeader(unsigned, ada.privateKeyPem, [ada.certificatePem]);
  let parent: string | 'unborn' = 'unborn';
  for (let i = 1; i <= 4; i++) {
    const result = await repository.commit({
      parent: parent as never,
      changes: [{ path: parseRepoPath('note.md'), content: Buffer.from(`Note ${i}\n`) }],
      identity,
      message: `clinical:update: Note ${i}\n`,
      ...(i === 3 ? {} : { sign }),
    });
    parent = result.id;
  }
  await assertCleanAndSound(repository.dir);
  const history = await verifyHistory(repository, anchorsOf(ca));
  assert.deepEqual(
    history.commits.map((c) => c.verdict.status),
    ['valid', 'unsigned', 'valid', 'valid'],
    'newest first; commit 3 was made unsigned',
  );
  assert.deepEqual(history.counts, { valid: 3, unsigned: 1, invalid: 0 });
  assert.equal(history.truncated, false);
  const bounded = await verifyHistory(repository, anchorsOf(ca), 2);
  assert.equal(bounded.commits.length, 2);
  assert.equal(bounded.truncated, true);
  // What the store wrote, read back by the stock git CLI, verifies too.
  const head = (await git(repository.dir, ['rev-parse', 'HEAD'])).trim();
  assert.equal(verifyCommitBytes(await commitBytes(repository.dir, head), anchorsOf(ca)).status, 'valid');
});
