// The built `vpr` CLI run as a subprocess on a local data directory.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { careLocation, clinician, demographics } from './support/fixtures.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import { startGrpcService } from './support/grpc.js';
import { CLINICIAN_KEY, WRITER_KEY, auth, patientBody } from './support/service.js';
import { forgeOnTop, signOnTop } from './support/signing.js';
import { tempDir } from './support/temp-dir.js';
import { repositoryDir } from '../src/core/record/record-layout.js';
import { parseRecordId } from '../src/core/ids/record-id.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function vpr(
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      CLI,
      args,
      { env: { ...process.env, VPR_DATA_DIR: dataDir, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
  });
}

test('vpr creates a record, shows its files and history, and reports errors with codes', async (t) => {
  const dataDir = await tempDir(t);
  const input = join(dataDir, 'input.json');
  await writeFile(input, JSON.stringify({ demographics, author: clinician, careLocation }));
  const created = await vpr(dataDir, ['record', 'create', '--input', input, '--json']);
  assert.equal(created.code, 0, created.stderr);
  const record = JSON.parse(created.stdout) as { clinicalId: string; demographicsId: string };
  await assertCleanAndSound(repositoryDir(dataDir, 'clinical', parseRecordId(record.clinicalId)));

  const shown = await vpr(dataDir, ['show', 'demographics', record.demographicsId, 'patient.yaml']);
  assert.equal(shown.code, 0);
  assert.match(shown.stdout, /resourceType: Patient/);

  const history = await vpr(dataDir, ['history', 'clinical', record.clinicalId, '--json']);
  const commits = (
    JSON.parse(history.stdout) as { commits: { subject: string; trailers: { key: string }[] }[] }
  ).commits;
  assert.equal(commits.length, 1);
  assert.equal(commits[0]!.subject, 'clinical:create: Created clinical record');
  assert.ok(commits[0]!.trailers.some((tr) => tr.key === 'Care-Location'));

  assert.equal((await vpr(dataDir, ['recover', 'clinical', record.clinicalId])).code, 0);
  assert.equal((await vpr(dataDir, ['maintain', 'clinical', record.clinicalId])).code, 0);
  await assertCleanAndSound(repositoryDir(dataDir, 'clinical', parseRecordId(record.clinicalId)));

  const missing = await vpr(dataDir, ['show', 'clinical', 'ab'.repeat(16), 'x.md']);
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /^vpr: NOT_FOUND: /);
  const badId = await vpr(dataDir, ['history', 'clinical', record.clinicalId.toUpperCase()]);
  assert.equal(badId.code, 3);
  assert.match(badId.stderr, /INVALID_ID/);
  const unknown = await vpr(dataDir, ['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /usage: vpr/);
  const badInput = await vpr(dataDir, ['record', 'create', '--input', join(dataDir, 'absent.json')]);
  assert.equal(badInput.code, 2);

  // The projection (embedded PGlite under the data directory) rebuilt from Git, then caught up.
  const reindexed = await vpr(dataDir, ['reindex', '--json']);
  assert.equal(reindexed.code, 0, reindexed.stderr);
  const result = JSON.parse(reindexed.stdout) as { repositories: number; patients: number };
  assert.deepEqual([result.repositories, result.patients], [3, 1]);
  assert.doesNotMatch(reindexed.stderr, /█/, 'no progress bar when stderr is not a terminal');
  const caughtUp = await vpr(dataDir, ['catch-up', '--json']);
  assert.equal(caughtUp.code, 0, caughtUp.stderr);
  assert.deepEqual(
    (({ checked, projected }) => ({ checked, projected }))(
      JSON.parse(caughtUp.stdout) as { checked: number; projected: number },
    ),
    { checked: 3, projected: 0 },
  );
  const human = await vpr(dataDir, ['reindex', '--threads', '0']);
  assert.match(human.stdout, /^reindexed 3 repositories \(1 patients\) in [\d.]+ s: \d+ patients\/s/m);
  for (const threads of ['-1', 'two', '65', '1.5']) {
    const refused = await vpr(dataDir, ['reindex', `--threads=${threads}`]);
    assert.equal(refused.code, 3, `--threads ${threads}`);
    assert.match(refused.stderr, /^vpr: INVALID_INPUT: --threads: must be a whole number from 0 to 64/);
  }
});

test('vpr cert makes a CA and a clinician certificate; vpr verify reports each commit', async (t) => {
  const dataDir = await tempDir(t);
  const ca = join(dataDir, 'test-ca');
  const ada = join(dataDir, 'ada');
  assert.equal(
    (await vpr(dataDir, ['cert', 'ca', 'create', '--name', 'Synthetic Test CA', '--out', ca])).code,
    0,
  );
  const made = await vpr(dataDir, [
    'cert',
    'create',
    '--name',
    'Dr Ada Synthetic',
    '--authority',
    'GMC',
    '--number',
    '7000001',
    '--ca',
    ca,
    '--out',
    ada,
    '--json',
  ]);
  assert.equal(made.code, 0, made.stderr);
  assert.deepEqual(JSON.parse(made.stdout), { key: `${ada}.key.pem`, certificate: `${ada}.cert.pem` });
  assert.equal((await stat(`${ada}.key.pem`)).mode & 0o777, 0o600, 'the private key is private');
  const again = await vpr(dataDir, [
    'cert',
    'create',
    '--name',
    'X',
    '--authority',
    'GMC',
    '--number',
    '1',
    '--out',
    ada,
  ]);
  assert.equal(again.code, 5, 'an existing key is never overwritten');
  assert.match(again.stderr, /ALREADY_EXISTS/);
  const certificate = new X509Certificate(await readFile(`${ada}.cert.pem`));
  assert.match(certificate.subjectAltName ?? '', /URI:vpr:\/\/GMC\/7000001/);

  const input = join(dataDir, 'input.json');
  await writeFile(input, JSON.stringify({ demographics, author: clinician, careLocation }));
  const record = JSON.parse(
    (await vpr(dataDir, ['record', 'create', '--input', input, '--json'])).stdout,
  ) as {
    clinicalId: string;
  };
  const anchors = { VPR_TRUST_ANCHORS: `${ca}.cert.pem` };
  const unsigned = await vpr(dataDir, ['verify', 'clinical', record.clinicalId, '--json'], anchors);
  assert.equal(unsigned.code, 0, unsigned.stderr);
  assert.deepEqual(
    (JSON.parse(unsigned.stdout) as { verdict: { status: string } }[]).map((c) => c.verdict.status),
    ['unsigned'],
  );

  // A signed commit on top (made with the library and git plumbing), then a forged copy of it.
  const dir = repositoryDir(dataDir, 'clinical', parseRecordId(record.clinicalId));
  const { signed, id: good } = await signOnTop(dir, await readFile(`${ada}.key.pem`, 'utf8'), [
    await readFile(`${ada}.cert.pem`, 'utf8'),
  ]);
  const verified = await vpr(dataDir, ['verify', 'clinical', record.clinicalId], anchors);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(
    verified.stdout,
    new RegExp(`^${good}  signed, valid: .*CN=Dr Ada Synthetic.* vpr://GMC/7000001$`, 'm'),
  );
  const untrusted = await vpr(dataDir, ['verify', 'clinical', record.clinicalId, '--commit', good]);
  assert.equal(untrusted.code, 1, 'without the CA as a trust anchor the chain is untrusted');
  assert.match(untrusted.stdout, /INVALID \(untrusted-chain\)/);
  const forged = await forgeOnTop(dir, signed, 'Created clinical record', 'Created something else');
  const caught = await vpr(dataDir, ['verify', 'clinical', record.clinicalId], anchors);
  assert.equal(caught.code, 1);
  assert.match(caught.stdout, new RegExp(`^${forged}  INVALID \\(bad-signature\\)`, 'm'));
});

test('vpr signed-write signs a letter to a running server in two steps; the key stays here', async (t) => {
  const dir = await tempDir(t);
  const ca = join(dir, 'test-ca');
  const ada = join(dir, 'ada');
  assert.equal(
    (await vpr(dir, ['cert', 'ca', 'create', '--name', 'Synthetic Test CA', '--out', ca])).code,
    0,
  );
  const made = await vpr(dir, [
    ...['cert', 'create', '--name', 'Dr Ada Synthetic', '--authority', 'GMC', '--number', '7000001'],
    ...['--ca', ca, '--out', ada],
  ]);
  assert.equal(made.code, 0, made.stderr);
  const service = await startGrpcService(t, 'pglite', {
    VPR_TRUST_ANCHORS: `${ca}.cert.pem`,
    VPR_SIGNING_POLICY: 'clinical',
  });
  const created = await service.inject({
    method: 'POST',
    url: '/api/v1/patients',
    headers: { ...auth(WRITER_KEY), 'content-type': 'application/json' },
    payload: patientBody(),
  });
  const patient = created.json() as { patient_id: string; clinical_id: string };
  const path = `/api/v1/patients/${patient.patient_id}/letters`;
  const letter = JSON.stringify({ title: 'Clinic letter', body: 'Signed from the command line.\n' });

  // From stdin, as JSON for a script.
  const signed = await vprWithInput(
    dir,
    ['signed-write', 'POST', path, '--server', service.restUrl, '--signer', ada, '--input', '-', '--json'],
    letter,
    { VPR_API_KEY: CLINICIAN_KEY },
  );
  assert.equal(signed.code, 0, signed.stderr);
  const outcome = JSON.parse(signed.stdout) as { landed: boolean; commit: string; repository: string };
  assert.deepEqual([outcome.landed, outcome.repository], [true, 'clinical']);
  const clinicalDir = repositoryDir(service.dataDir, 'clinical', parseRecordId(patient.clinical_id));
  assert.equal((await git(clinicalDir, ['rev-parse', 'HEAD'])).trim(), outcome.commit);
  await assertCleanAndSound(clinicalDir);
  const verified = await vpr(service.dataDir, ['verify', 'clinical', patient.clinical_id, '--json'], {
    VPR_TRUST_ANCHORS: `${ca}.cert.pem`,
  });
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /vpr:\/\/GMC\/7000001/);

  // The server's refusal comes back with its code and exit code: a bad API key is 7.
  const refused = await vprWithInput(
    dir,
    ['signed-write', 'POST', path, '--server', service.restUrl, '--signer', ada, '--input', '-'],
    letter,
    { VPR_API_KEY: 'not-a-key-of-this-server-000' },
  );
  assert.equal(refused.code, 7, refused.stderr);
  assert.match(refused.stderr, /UNAUTHENTICATED/);
  const noMethod = await vpr(dir, ['signed-write', 'GET', path], { VPR_API_KEY: CLINICIAN_KEY });
  assert.equal(noMethod.code, 2);
});

function vprWithInput(
  dataDir: string,
  args: string[],
  input: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      CLI,
      args,
      { env: { ...process.env, VPR_DATA_DIR: dataDir, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}
