// `npm run bench:signing`: what signing costs where users feel it, on the embedded default and
// on PostgreSQL + Redis.
// 1. In the store (one process, one repository, fsync on): commits per second unsigned and signed
//    where they are made (the ECDSA signature over the unsigned bytes, key in this process),
//    in interleaved rounds so the drift of this shared VM hits both alike.
// 2. Through the running server (its own process, fsync on): letters created per second,
//    unsigned (no policy) and signed in two steps (VPR_SIGNING_POLICY=clinical: POST with
//    VPR-Signing: prepare, sign here, POST the signature), 8 clients in flight.
// 3. Read latency of GET letter on the same data with VPR_VERIFY_ON_READ=off and then =enforce
//    (a restart each): paced at 50/s and with 16 in flight. The verdicts are cached by commit, so
//    after a letter's first read enforce costs a map lookup; the first reads after the restart
//    (every letter once, each walking its history) are reported on their own.
// Bounded: SECONDS per run, COMMITS per store round.
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signedWrite } from '../src/client/signing-client.js';
import { RecordStore } from '../src/core/record/record-store.js';
import {
  createCertificateAuthority,
  createProfessionalCertificate,
} from '../src/core/signing/certificates.js';
import { commitSigner } from '../src/core/signing/commit-signature.js';
import { percentile } from './measure.js';
import {
  closedLoop,
  fetchSend,
  pace,
  printRow,
  printTable,
  removeDataDirs,
  removeLater,
  seedPatients,
  startServer,
  withPostgresAndRedis,
  type Row,
  type Send,
} from './http-load.js';
import { lettersOf } from './synthetic-names.js';

const SECONDS = Number(process.env.VPR_BENCH_SIGNING_SECONDS ?? 10);
const COMMITS = Number(process.env.VPR_BENCH_SIGNING_COMMITS ?? 300);
const PATIENTS = 200;
const KEY = `bench-${randomBytes(16).toString('hex')}`;
const BACKENDS = (process.env.VPR_BENCH_SIGNING_BACKENDS ?? 'pglite,postgres').split(',');

const ca = await createCertificateAuthority('Synthetic Bench CA');
const signer = await createProfessionalCertificate(
  { name: 'Dr Bench Synthetic', authority: 'GMC', number: '7000009' },
  { issuer: ca },
);
const pkiDir = await mkdtemp(join(tmpdir(), 'vpr-bench-pki-'));
removeLater(pkiDir);
const anchors = join(pkiDir, 'anchors.pem');
await writeFile(anchors, ca.certificatePem);
const signerFiles = { keyPem: signer.privateKeyPem, certificatePems: [signer.certificatePem] };

/** Store commits per second, unsigned and signed, in interleaved rounds. */
async function storeRates(): Promise<Row[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vpr-bench-'));
  removeLater(dataDir);
  const store = new RecordStore({ dataDir });
  await store.open();
  const record = await store.createFullRecord({
    demographics: {
      given_name: 'Given',
      family_name: 'Bench',
      date_of_birth: '1970-01-01',
      sex_at_birth: 'unknown',
      gender_identity: 'undisclosed',
    },
    author: { name: 'Dr Bench Synthetic', email: 'bench@example.invalid', role: 'Clinician' },
    careLocation: 'Synthetic Bench Clinic',
  });
  const times: Record<'unsigned' | 'signed', number[]> = { unsigned: [], signed: [] };
  // The signer as a local tool would hold it: key and certificate parsed once.
  const sign = commitSigner(signer.privateKeyPem, [signer.certificatePem]);
  let n = 0;
  const commit = async (signed: boolean) => {
    const at = performance.now();
    await store.commitChange({
      kind: 'clinical',
      id: record.clinicalId,
      changes: [{ path: `notes/${n++}.md`, content: `Synthetic note ${n}.\n` }],
      author: { name: 'Dr Bench Synthetic', email: 'bench@example.invalid', role: 'Clinician' },
      action: 'create',
      summary: 'Bench note',
      careLocation: 'Synthetic Bench Clinic',
      ...(signed ? { sign } : {}),
    });
    times[signed ? 'signed' : 'unsigned'].push(performance.now() - at);
  };
  for (let i = 0; i < 30; i++) await commit(i % 2 === 0);
  times.signed.length = 0;
  times.unsigned.length = 0;
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < COMMITS / 6; i++) await commit(round % 2 === 1);
  }
  await store.close();
  return (['unsigned', 'signed'] as const).map((kind) => {
    const sorted = [...times[kind]].sort((a, b) => a - b);
    const total = sorted.reduce((a, b) => a + b, 0) / 1000;
    return {
      backend: 'store (no server)',
      operation: `commit, ${kind}`,
      offered: '1 writer',
      perSecond: sorted.length / total,
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      failures: 0,
    };
  });
}

const letterBody = (i: number) =>
  JSON.stringify({ title: `Clinic letter ${lettersOf(i, 4)}`, body: `Seen in clinic.\n\nNote ${i}.\n` });

/** Letters per second through the server, unsigned or signed in two steps. */
async function serverWrites(
  backend: string,
  env: Record<string, string>,
  signed: boolean,
): Promise<{ row: Row; dataDir: string; letters: string[] }> {
  const server = await startServer(KEY, {
    ...env,
    ...(signed ? { VPR_TRUST_ANCHORS: anchors, VPR_SIGNING_POLICY: 'clinical' } : {}),
  });
  try {
    const patients = [
      ...(
        await seedPatients(server.base, KEY, PATIENTS, (i) =>
          JSON.stringify({
            given_name: 'Given',
            family_name: `Seed${lettersOf(i, 5)}`,
            date_of_birth: '1970-01-01',
            sex_at_birth: 'unknown',
            gender_identity: 'undisclosed',
          }),
        )
      ).keys(),
    ];
    const letters: string[] = [];
    let i = 0;
    const send: Send = signed
      ? async () => {
          const patient = patients[i++ % patients.length]!;
          const outcome = await signedWrite({
            server: server.base,
            apiKey: KEY,
            method: 'POST',
            path: `/api/v1/patients/${patient}/letters`,
            body: JSON.parse(letterBody(i)) as unknown,
            signer: signerFiles,
          });
          return outcome.landed;
        }
      : fetchSend(server.base, () => ({
          method: 'POST',
          path: `/api/v1/patients/${patients[i++ % patients.length]}/letters`,
          headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
          body: letterBody(i),
        }));
    for (let w = 0; w < 20; w++) await send();
    const row = await closedLoop(
      backend,
      `POST letter, ${signed ? 'signed in two steps' : 'unsigned'}`,
      send,
      8,
      SECONDS,
    );
    printRow(row);
    for (const patient of patients) {
      const page = (await (
        await fetch(`${server.base}/api/v1/patients/${patient}/letters?limit=100`, {
          headers: { 'x-api-key': KEY },
        })
      ).json()) as { letters: { letter_id: string }[] };
      for (const l of page.letters) letters.push(`/api/v1/patients/${patient}/letters/${l.letter_id}`);
    }
    return { row, dataDir: server.dataDir, letters };
  } finally {
    await server.stop();
  }
}

/** GET letter on `dataDir` with verification on read set to `mode`. */
async function reads(
  backend: string,
  env: Record<string, string>,
  mode: 'off' | 'enforce',
  dataDir: string,
  letters: readonly string[],
): Promise<Row[]> {
  const server = await startServer(KEY, {
    ...env,
    VPR_DATA_DIR: dataDir,
    VPR_TRUST_ANCHORS: anchors,
    VPR_SIGNING_POLICY: 'clinical',
    VPR_VERIFY_ON_READ: mode,
  });
  removeLater(server.dataDir);
  try {
    let r = 0;
    const send = fetchSend(server.base, () => ({
      method: 'GET',
      path: letters[r++ % letters.length]!,
      headers: { 'x-api-key': KEY },
    }));
    // Every letter once, in turn, straight after the restart: the first verdicts are built here.
    const first: number[] = [];
    let failures = 0;
    for (let i = 0; i < letters.length; i++) {
      const at = performance.now();
      if (!(await send())) failures++;
      first.push(performance.now() - at);
    }
    first.sort((a, b) => a - b);
    const rows: Row[] = [
      {
        backend,
        operation: `GET letter, first read after start, verify ${mode}`,
        offered: '1 in flight',
        perSecond: first.length / (first.reduce((a, b) => a + b, 0) / 1000),
        p50: percentile(first, 0.5),
        p95: percentile(first, 0.95),
        p99: percentile(first, 0.99),
        failures,
      },
    ];
    printRow(rows[0]!);
    rows.push(await pace(backend, `GET letter, verify ${mode}`, send, 50, SECONDS));
    printRow(rows.at(-1)!);
    rows.push(await closedLoop(backend, `GET letter, verify ${mode}`, send, 16, SECONDS));
    printRow(rows.at(-1)!);
    return rows;
  } finally {
    await server.stop();
  }
}

console.log(
  `Node ${process.version} · ${SECONDS} s per run · ${COMMITS} store commits · ${new Date().toISOString()}`,
);
const rows: Row[] = [];
console.log('store: commits, unsigned and signed…');
rows.push(...(await storeRates()));
for (const row of rows) printRow(row);
/** Runs `work` on a backend: the embedded default, or PostgreSQL + Redis in a schema of its own. */
const on = <T>(backend: string, work: (env: Record<string, string>) => Promise<T>): Promise<T> =>
  backend === 'pglite' ? work({}) : withPostgresAndRedis(work);
const NAMES: Record<string, string> = { pglite: 'PGlite (embedded)', postgres: 'PostgreSQL + Redis' };

for (const backend of BACKENDS) {
  const name = NAMES[backend] ?? backend;
  console.log(`${name}: letters, unsigned…`);
  const unsignedRun = await on(backend, (env) => serverWrites(name, env, false));
  rows.push(unsignedRun.row);
  removeLater(unsignedRun.dataDir);
  // The signed data set is read back with the same projection database (one schema for all three).
  await on(backend, async (env) => {
    console.log(`${name}: letters, signed in two steps…`);
    const signedRun = await serverWrites(name, env, true);
    rows.push(signedRun.row);
    console.log(
      `${name}: reads of ${signedRun.letters.length} signed letters, verification off then enforce…`,
    );
    rows.push(...(await reads(name, env, 'off', signedRun.dataDir, signedRun.letters)));
    rows.push(...(await reads(name, env, 'enforce', signedRun.dataDir, signedRun.letters)));
    removeLater(signedRun.dataDir);
  });
}
await removeDataDirs();
printTable(rows);
