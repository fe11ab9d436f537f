// Two-step signing over both doors, the signing policy on write and verification on read, on
// the running service with real repositories checked by the stock git CLI. The private keys stay
// in the test (the client's side); the service only ever sees signatures and certificates.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { signedWrite, signPrepared } from '../src/client/signing-client.js';
import { repositoryDir } from '../src/core/record/record-layout.js';
import {
  createCertificateAuthority,
  createProfessionalCertificate,
  type KeyAndCertificate,
} from '../src/core/signing/certificates.js';
import { verifyCommitBytes } from '../src/core/signing/verify-commit.js';
import { parseTrustAnchors } from '../src/core/signing/trust-anchors.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import { failsWith, startGrpcService, type GrpcTestService } from './support/grpc.js';
import {
  CLINICIAN_KEY,
  PATIENT_KEY,
  WRITER_KEY,
  auth,
  patientBody,
  type TestService,
  type Json,
} from './support/service.js';
import { ADA, forgeOnTop, testPki } from './support/signing.js';

const BOB = { name: 'Dr Bob Synthetic', authority: 'GMC', number: '7000002' };

interface Pki {
  readonly ca: KeyAndCertificate;
  readonly ada: KeyAndCertificate;
  readonly bob: KeyAndCertificate;
  readonly anchorsFile: string;
}

/** The test PKI, with a second clinician (Bob) certified by the same CA. */
async function pki(t: TestContext): Promise<Pki> {
  const base = await testPki(t);
  return { ...base, bob: await createProfessionalCertificate(BOB, { issuer: base.ca }) };
}

async function newPatient(service: TestService): Promise<{ id: string; base: string; clinicalDir: string }> {
  const created = await service.inject({
    method: 'POST',
    url: '/api/v1/patients',
    headers: { ...auth(WRITER_KEY), 'content-type': 'application/json' },
    payload: patientBody(),
  });
  assert.equal(created.statusCode, 201, created.body);
  const patient = created.json() as Json;
  return {
    id: patient.patient_id,
    base: `/api/v1/patients/${patient.patient_id}`,
    clinicalDir: repositoryDir(service.dataDir, 'clinical', patient.clinical_id),
  };
}

const head = async (dir: string) => (await git(dir, ['rev-parse', 'HEAD'])).trim();
const letter = (body: string) => ({ title: 'Clinic letter', body });

test('two-step signing over REST: prepared, refused when wrong, landed when right, never on a moved head', async (t) => {
  const { ada, bob, ca, anchorsFile } = await pki(t);
  const service = await startGrpcService(t, 'pglite', {
    VPR_TRUST_ANCHORS: anchorsFile,
    VPR_SIGNING_POLICY: 'clinical, !patient-contributions',
  });
  const patient = await newPatient(service);
  const post = (url: string, payload: unknown, headers: Record<string, string> = {}, key = CLINICIAN_KEY) =>
    service.inject({
      method: 'POST',
      url,
      headers: { ...auth(key), 'content-type': 'application/json', ...headers },
      payload: JSON.stringify(payload),
    });
  const start = await head(patient.clinicalDir);

  // The policy: an unsigned clinical write is refused, and nothing is written.
  const unsigned = await post(`${patient.base}/letters`, letter('Unsigned.\n'));
  assert.equal(unsigned.statusCode, 403, unsigned.body);
  assert.equal(unsigned.json().code, 'SIGNATURE_REQUIRED');
  assert.equal(await head(patient.clinicalDir), start);
  // …but a patient's own contribution is exempt.
  const contribution = await post(
    `${patient.base}/contributions/symptom`,
    { symptom: 'Tired in the evenings', severity: 2 },
    {},
    PATIENT_KEY,
  );
  assert.equal(contribution.statusCode, 201, contribution.body);
  const afterContribution = await head(patient.clinicalDir);
  assert.notEqual(afterContribution, start);

  // Prepare: 202 with the exact bytes; nothing committed yet.
  const prepare = (body: string) =>
    post(`${patient.base}/letters`, letter(body), { 'vpr-signing': 'prepare' });
  const first = await prepare('Seen in clinic today.\n');
  assert.equal(first.statusCode, 202, first.body);
  const prepared = first.json().prepared_commit as Json;
  assert.equal(prepared.repository, 'clinical');
  assert.equal(prepared.parent, afterContribution);
  assert.match(prepared.subject, /^clinical:create: Created letter/);
  assert.equal(await head(patient.clinicalDir), afterContribution, 'preparing commits nothing');
  const bytes = Buffer.from(prepared.bytes, 'base64');
  assert.match(bytes.toString('utf8'), new RegExp(`^tree [0-9a-f]{40}\nparent ${afterContribution}\n`));

  const submit = (id: string, payload: unknown) =>
    service.inject({
      method: 'POST',
      url: `/api/v1/prepared-commits/${id}/signature`,
      headers: { ...auth(CLINICIAN_KEY), 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    });
  const parts = (who: KeyAndCertificate, chain: readonly string[] = [who.certificatePem]) => {
    const signed = signPrepared(prepared as never, { keyPem: who.privateKeyPem, certificatePems: chain });
    return {
      signature: signed.signature.toString('base64'),
      certificates: signed.certificates.map((c) => c.toString('base64')),
    };
  };
  // Wrong key: Bob's signature sent with Ada's certificate.
  const wrongKey = await submit(prepared.prepared_commit_id, {
    ...parts(bob),
    certificates: parts(ada).certificates,
  });
  assert.equal(wrongKey.statusCode, 422, wrongKey.body);
  assert.equal(wrongKey.json().code, 'SIGNATURE_INVALID');
  assert.equal(wrongKey.json().details.reason, 'bad-signature');
  // Someone else's certificate: Ada's signature, Bob's certificate.
  const otherCert = await submit(prepared.prepared_commit_id, {
    ...parts(ada),
    certificates: parts(bob).certificates,
  });
  assert.equal(otherCert.json().details.reason, 'bad-signature');
  // A public key that is not the certificate's.
  const mismatch = await submit(prepared.prepared_commit_id, {
    ...parts(ada),
    public_key: Buffer.from(
      new (await import('node:crypto')).X509Certificate(bob.certificatePem).publicKey.export({
        format: 'der',
        type: 'spki',
      }),
    ).toString('base64'),
  });
  assert.equal(mismatch.json().details.reason, 'key-mismatch');
  // A certificate from a CA the deployment does not trust.
  const rogueCa = await createCertificateAuthority('Rogue Test CA');
  const rogue = await createProfessionalCertificate(ADA, { issuer: rogueCa });
  const untrusted = await submit(prepared.prepared_commit_id, parts(rogue));
  assert.equal(untrusted.json().details.reason, 'untrusted-chain');
  // An expired certificate (valid for a day, two years ago).
  const old = await createProfessionalCertificate(ADA, {
    issuer: ca,
    notBefore: new Date(Date.now() - 2 * 365 * 86_400_000),
    days: 1,
  });
  const expired = await submit(prepared.prepared_commit_id, parts(old));
  assert.equal(expired.json().details.reason, 'certificate-expired');
  // Malformed submissions are refused as input.
  const malformed = await submit(prepared.prepared_commit_id, { signature: 'not base64!', certificates: [] });
  assert.equal(malformed.statusCode, 400);
  assert.equal(await head(patient.clinicalDir), afterContribution, 'no refused signature lands');

  // Right: lands, signed, verifiable from the bytes alone, on the prepared parent.
  const landed = await submit(prepared.prepared_commit_id, parts(ada));
  assert.equal(landed.statusCode, 201, landed.body);
  const commit = landed.json().commit as string;
  assert.equal(landed.json().signer.registration, 'vpr://GMC/7000001');
  assert.equal(await head(patient.clinicalDir), commit);
  assert.equal((await git(patient.clinicalDir, ['rev-parse', `${commit}^`])).trim(), afterContribution);
  const stored = Buffer.from(await git(patient.clinicalDir, ['cat-file', 'commit', commit]), 'utf8');
  const verdict = verifyCommitBytes(stored, parseTrustAnchors(ca.certificatePem));
  assert.equal(verdict.status, 'valid');
  await assertCleanAndSound(patient.clinicalDir);
  const listed = await service.inject({ url: `${patient.base}/letters`, headers: auth(CLINICIAN_KEY) });
  assert.equal(listed.json().letters.length, 1);
  // A prepared commit lands once.
  const again = await submit(prepared.prepared_commit_id, parts(ada));
  assert.equal(again.statusCode, 404);
  // Only the principal that prepared a commit may submit it.
  const mine = (await prepare('Mine to sign.\n')).json().prepared_commit as Json;
  const byOther = await service.inject({
    method: 'POST',
    url: `/api/v1/prepared-commits/${mine.prepared_commit_id}/signature`,
    headers: { ...auth(WRITER_KEY), 'content-type': 'application/json' },
    payload: JSON.stringify(parts(ada)),
  });
  assert.equal(byOther.statusCode, 404);

  // Two prepared on the same head: the first to land wins, the other is a clear conflict.
  const a = (await prepare('Letter A.\n')).json().prepared_commit as Json;
  const b = (await prepare('Letter B.\n')).json().prepared_commit as Json;
  const sign = (p: Json) => {
    const s = signPrepared(p as never, { keyPem: ada.privateKeyPem, certificatePems: [ada.certificatePem] });
    return {
      signature: s.signature.toString('base64'),
      certificates: s.certificates.map((c) => c.toString('base64')),
    };
  };
  assert.equal((await submit(a.prepared_commit_id, sign(a))).statusCode, 201);
  const conflict = await submit(b.prepared_commit_id, sign(b));
  assert.equal(conflict.statusCode, 412, conflict.body);
  assert.equal(conflict.json().code, 'VERSION_CONFLICT');
  await assertCleanAndSound(patient.clinicalDir);

  // The client helper does both steps; an If-Match edit signed the same way.
  const signer = { keyPem: ada.privateKeyPem, certificatePems: [ada.certificatePem] };
  const created = await signedWrite({
    server: service.restUrl,
    apiKey: CLINICIAN_KEY,
    method: 'POST',
    path: `${patient.base}/letters`,
    body: letter('Written with the helper.\n'),
    signer,
  });
  assert.equal(created.landed, true);
  const letterId = (
    await git(patient.clinicalDir, ['log', '-1', '--format=%(trailers:key=Letter-Id,valueonly)'])
  ).trim();
  const current = await service.inject({
    url: `${patient.base}/letters/${letterId}`,
    headers: auth(CLINICIAN_KEY),
  });
  const edited = await signedWrite({
    server: service.restUrl,
    apiKey: CLINICIAN_KEY,
    method: 'PUT',
    path: `${patient.base}/letters/${letterId}`,
    headers: { 'if-match': current.headers.etag as string },
    body: letter('Edited with the helper.\n'),
    signer,
  });
  assert.equal(edited.landed, true);
  const signatures = await service.inject({
    url: `${patient.base}/signatures`,
    headers: auth(CLINICIAN_KEY),
  });
  const clinical = (signatures.json() as Json).repositories[1];
  assert.deepEqual([clinical.valid, clinical.invalid, clinical.unsigned], [4, 0, 2]);
});

test('two-step signing over gRPC, and demographics under a policy', async (t) => {
  const { ada, anchorsFile } = await pki(t);
  const service: GrpcTestService = await startGrpcService(t, 'pglite', {
    VPR_TRUST_ANCHORS: anchorsFile,
    VPR_SIGNING_POLICY: 'clinical,demographics:update',
  });
  const patient = await newPatient(service);
  const clinician = service.client(CLINICIAN_KEY);
  const signer = { keyPem: ada.privateKeyPem, certificatePems: [ada.certificatePem] };
  await failsWith(
    clinician.call('CreateLetter', { patient_id: patient.id, letter: letter('Unsigned.\n') }),
    'FAILED_PRECONDITION',
    'SIGNATURE_REQUIRED',
  );
  const landed = await clinician.callSigned(
    'CreateLetter',
    { patient_id: patient.id, letter: letter('Signed over gRPC.\n') },
    signer,
  );
  assert.equal(landed.landed, true);
  assert.equal(await head(patient.clinicalDir), landed.commit);
  await assertCleanAndSound(patient.clinicalDir);

  // A record's first commits are made by the service: not preparable.
  await failsWith(
    clinician.call('PrepareSignedCall', { method: 'CreatePatient', request: Buffer.alloc(0) }),
    'INVALID_ARGUMENT',
    'INVALID_INPUT',
  );
  // The wrapped call's own checks run first: an empty letter request prepares nothing.
  await failsWith(
    clinician.call('PrepareSignedCall', { method: 'CreateLetter', request: Buffer.alloc(0) }),
    'INVALID_ARGUMENT',
  );
  // A signature by another key than the certificate's is refused with its reason.
  const bob = await createProfessionalCertificate(BOB);
  const refused = await failsWith(
    clinician.callSigned(
      'CreateLetter',
      { patient_id: patient.id, letter: letter('Wrong key.\n') },
      {
        keyPem: bob.privateKeyPem,
        certificatePems: [ada.certificatePem],
      },
    ),
    'INVALID_ARGUMENT',
    'SIGNATURE_INVALID',
  );
  assert.equal(refused.metadata.reason, 'bad-signature');
  assert.equal(await head(patient.clinicalDir), landed.commit);

  // Demographics updates under the policy: refused unsigned, landed signed (REST helper).
  const current = await service.inject({ url: patient.base, headers: auth(WRITER_KEY) });
  const replace = patientBody({ preferred_language: 'en-gb' });
  const unsigned = await service.inject({
    method: 'PUT',
    url: patient.base,
    headers: {
      ...auth(WRITER_KEY),
      'content-type': 'application/json',
      'if-match': current.headers.etag as string,
    },
    payload: JSON.stringify(replace),
  });
  assert.equal(unsigned.statusCode, 403, unsigned.body);
  const signed = await signedWrite({
    server: service.restUrl,
    apiKey: WRITER_KEY,
    method: 'PUT',
    path: patient.base,
    headers: { 'if-match': current.headers.etag as string },
    body: replace,
    signer,
  });
  assert.equal(signed.landed, true);
  const after = await service.inject({ url: patient.base, headers: auth(WRITER_KEY) });
  assert.equal((after.json() as Json).preferred_language, 'en-GB');
  assert.equal(signed.landed && signed.commit, (after.json() as Json).version);
});

test('verification on read: warn flags, enforce refuses, a sound signed history is verified', async (t) => {
  const { ada, anchorsFile } = await pki(t);
  // Written without a policy: an unsigned letter, then a signed commit on top.
  const writing = await startGrpcService(t, 'pglite');
  const patient = await newPatient(writing);
  const created = await writing.inject({
    method: 'POST',
    url: `${patient.base}/letters`,
    headers: { ...auth(CLINICIAN_KEY), 'content-type': 'application/json' },
    payload: JSON.stringify(letter('Written before the policy.\n')),
  });
  assert.equal(created.statusCode, 201, created.body);
  const letterUrl = `${patient.base}/letters/${(created.json() as Json).letter_id}`;
  const unsignedCommit = await head(patient.clinicalDir);
  await writing.runtime.close();

  const reopen = async (mode: string) => {
    const { startRuntime } = await import('../src/runtime.js');
    const { loadConfig } = await import('../src/config/config.js');
    const runtime = await startRuntime(
      loadConfig({
        VPR_DATA_DIR: writing.dataDir,
        VPR_KEYS_FILE: join(writing.dataDir, 'keys.yaml'),
        VPR_HTTP_PORT: '0',
        VPR_GRPC_PORT: '0',
        VPR_LOG_LEVEL: 'silent',
        VPR_TRUST_ANCHORS: anchorsFile,
        VPR_SIGNING_POLICY: 'clinical',
        VPR_VERIFY_ON_READ: mode,
      }),
    );
    t.after(() => runtime.close());
    return runtime;
  };
  const read = async (runtime: Awaited<ReturnType<typeof reopen>>, url: string) =>
    runtime.http.inject({ url, headers: auth(CLINICIAN_KEY) });

  const warn = await reopen('warn');
  const flagged = await read(warn, letterUrl);
  assert.equal(flagged.statusCode, 200, flagged.body);
  assert.equal(
    flagged.headers['vpr-verification'],
    `failed; commit=${unsignedCommit}; reason=unsigned-where-required`,
  );
  // Demographics are outside this policy and only hold their first commit: verified.
  const demographics = await read(warn, patient.base);
  assert.equal(demographics.headers['vpr-verification'], 'verified');
  await warn.close();

  const enforce = await reopen('enforce');
  const refused = await read(enforce, letterUrl);
  assert.equal(refused.statusCode, 500, refused.body);
  assert.equal(refused.json().code, 'SIGNATURE_UNVERIFIED');
  assert.equal(refused.json().details.commit, unsignedCommit);
  assert.equal((await read(enforce, patient.base)).statusCode, 200);

  // A sound history: a letter signed in two steps by a certified clinician on a new patient
  // reads as verified; a forged copy of its commit (message changed, signature kept) is refused.
  const created2 = await enforce.http.inject({
    method: 'POST',
    url: '/api/v1/patients',
    headers: { ...auth(WRITER_KEY), 'content-type': 'application/json' },
    payload: patientBody({ email: 'second.fixture@example.invalid' }),
  });
  assert.equal(created2.statusCode, 201, created2.body);
  const second = created2.json() as Json;
  const secondDir = repositoryDir(writing.dataDir, 'clinical', second.clinical_id);
  const [restUrl] = await enforce.listen();
  const signed = await signedWrite({
    server: restUrl!,
    apiKey: CLINICIAN_KEY,
    method: 'POST',
    path: `/api/v1/patients/${second.patient_id}/letters`,
    body: letter('Signed under the policy.\n'),
    signer: { keyPem: ada.privateKeyPem, certificatePems: [ada.certificatePem] },
  });
  assert.equal(signed.landed, true);
  const letterId = (
    await git(secondDir, ['log', '-1', '--format=%(trailers:key=Letter-Id,valueonly)'])
  ).trim();
  const secondLetter = `/api/v1/patients/${second.patient_id}/letters/${letterId}`;
  const verified = await read(enforce, secondLetter);
  assert.equal(verified.statusCode, 200, verified.body);
  assert.equal(verified.headers['vpr-verification'], 'verified');
  const bytes = Buffer.from(await git(secondDir, ['cat-file', 'commit', signed.landed ? signed.commit : '']));
  const forged = await forgeOnTop(secondDir, bytes, 'Created letter', 'Created lettre');
  const caught = await read(enforce, secondLetter);
  assert.equal(caught.statusCode, 500, caught.body);
  assert.deepEqual(
    [caught.json().code, caught.json().details.commit, caught.json().details.reason],
    ['SIGNATURE_UNVERIFIED', forged, 'bad-signature'],
  );
});
