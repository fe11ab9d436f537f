// Verifying a patient's signatures through both doors of the running server: a fresh record is
// all unsigned and intact; a commit signed by a CA-certified clinician (made with the library and
// git plumbing) counts as valid with its signer; a forged copy of it makes the record not intact,
// with the commit and the reason. REST and gRPC answer the same.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { repositoryDir } from '../src/core/record/record-layout.js';
import { startGrpcService } from './support/grpc.js';
import { READER_KEY, WRITER_KEY, auth, patientBody, type Json } from './support/service.js';
import { forgeOnTop, signOnTop, testPki } from './support/signing.js';

test('a patient’s signatures through REST and gRPC: unsigned, valid, forged', async (t) => {
  const { ada, anchorsFile: anchors } = await testPki(t);
  const service = await startGrpcService(t, 'pglite', { VPR_TRUST_ANCHORS: anchors });
  const created = await service.inject({
    method: 'POST',
    url: '/api/v1/patients',
    headers: { ...auth(WRITER_KEY), 'content-type': 'application/json' },
    payload: patientBody(),
  });
  const patient = created.json() as Json;
  const rest = async () => {
    const answer = await service.inject({
      url: `/api/v1/patients/${patient.patient_id}/signatures`,
      headers: auth(READER_KEY),
    });
    assert.equal(answer.statusCode, 200, answer.body);
    return answer.json() as Json;
  };
  const fresh = await rest();
  assert.equal(fresh.intact, true);
  assert.deepEqual(
    fresh.repositories.map((r: Json) => [r.kind, r.unsigned, r.valid, r.invalid]),
    [
      ['demographics', 1, 0, 0],
      ['clinical', 1, 0, 0],
      ['coordination', 1, 0, 0],
    ],
  );

  const dir = repositoryDir(service.dataDir, 'clinical', patient.clinical_id);
  const { signed } = await signOnTop(dir, ada.privateKeyPem, [ada.certificatePem]);
  const good = await rest();
  assert.equal(good.intact, true);
  assert.equal(good.repositories[1].valid, 1);
  assert.deepEqual(good.repositories[1].signers, [
    'CN=Dr Ada Synthetic, O=GMC, serialNumber=7000001 vpr://GMC/7000001',
  ]);

  const forged = await forgeOnTop(dir, signed, 'Created clinical record', 'Created another');
  const caught = await rest();
  assert.equal(caught.intact, false);
  assert.deepEqual(
    caught.repositories[1].failures.map((f: Json) => [f.commit, f.reason]),
    [[forged, 'bad-signature']],
  );

  const overGrpc = (
    await service.client(READER_KEY).call<Json>('VerifyPatientSignatures', { patient_id: patient.patient_id })
  ).response;
  assert.equal(overGrpc.intact ?? false, false);
  assert.deepEqual(overGrpc.repositories[1].failures, caught.repositories[1].failures);
  assert.equal(overGrpc.repositories[0].unsigned, 1);
  const limited = await service.inject({
    url: `/api/v1/patients/${patient.patient_id}/signatures?limit=0`,
    headers: auth(READER_KEY),
  });
  assert.equal(limited.statusCode, 400);
});
