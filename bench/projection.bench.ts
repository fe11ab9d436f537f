// `npm run bench:projection`: the read model at scale. With VPR_BENCH_PATIENTS synthetic patients
// (default 100,000) it prints reindex throughput (patients/s) and p50/p95 of a filtered,
// paginated patient list and of a single patient read, on PGlite and on PostgreSQL, the latter
// with and without the Redis cache.
//
// Generating the patients (three Git repositories each) takes minutes on this machine, so the
// data set is kept in VPR_BENCH_DIR (default ./.bench-projection, ignored by Git) and reused by
// the next run when it holds the same number of patients. It is generated with durability off:
// it is benchmark fixture data, and reading it is what is measured here.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MemoryReadCache, RedisReadCache, type ReadCache } from '../src/cache/read-cache.js';
import { RecordStore } from '../src/core/record/record-store.js';
import { Projection } from '../src/projection/projection.js';
import { percentile } from './measure.js';
import { lettersOf } from './synthetic-names.js';

const PATIENTS = Number(process.env.VPR_BENCH_PATIENTS ?? 100_000);
const DATA_DIR = resolve(process.env.VPR_BENCH_DIR ?? './.bench-projection');
const DATABASE_URL = process.env.VPR_BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.VPR_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SAMPLES = Number(process.env.VPR_BENCH_SAMPLES ?? 2_000);
const FAMILIES = 1_009;

const author = { name: 'Bench Clinician', email: 'bench.clinician@example.invalid', role: 'Clinician' };
const familyName = (i: number) => `Family${lettersOf(i % FAMILIES, 4)}`;
/** Bumped whenever the generated patients change shape, so an old data set is not reused. */
const DATA_FORMAT = 2;

async function ensurePatients(): Promise<void> {
  const marker = resolve(DATA_DIR, 'bench-patients.json');
  const existing = await readFile(marker, 'utf8').then(
    (text) => JSON.parse(text) as { patients: number; format?: number },
    (): { patients: number; format?: number } => ({ patients: 0 }),
  );
  if (existing.patients === PATIENTS && existing.format === DATA_FORMAT) {
    console.log(`Reusing ${PATIENTS} synthetic patients in ${DATA_DIR}`);
    return;
  }
  await rm(DATA_DIR, { recursive: true, force: true });
  await mkdir(DATA_DIR, { recursive: true });
  const store = new RecordStore({
    dataDir: DATA_DIR,
    repository: { durability: 'none', spareFiles: 0 } as never,
  });
  await store.open();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < PATIENTS) {
        const i = next++;
        await store.createFullRecord({
          demographics: {
            given_name: `Given${lettersOf(i % 997, 3)}`,
            family_name: familyName(i),
            date_of_birth: `${1930 + (i % 90)}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
            sex_at_birth: (['female', 'male', 'unknown'] as const)[i % 3],
            gender_identity: (['woman', 'man', 'undisclosed'] as const)[i % 3],
          },
          author,
          careLocation: 'Bench Site',
        });
        if ((i + 1) % 5_000 === 0) {
          const rate = (i + 1) / ((performance.now() - started) / 1000);
          console.log(`  generated ${i + 1} patients (${rate.toFixed(0)}/s)`);
        }
      }
    }),
  );
  await store.close();
  await writeFile(marker, JSON.stringify({ patients: PATIENTS, format: DATA_FORMAT }));
  console.log(`Generated ${PATIENTS} patients in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

interface Row {
  readonly backend: string;
  readonly reindexPatientsPerSecond: number;
  readonly list: [number, number];
  readonly read: [number, number];
}

async function latency(samples: number, op: (i: number) => Promise<unknown>): Promise<[number, number]> {
  for (let i = 0; i < 50; i++) await op(i);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await op(i);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return [percentile(times, 0.5), percentile(times, 0.95)];
}

async function measure(
  backend: string,
  databaseUrl: string | undefined,
  cache: ReadCache | undefined,
): Promise<Row> {
  const store = new RecordStore({ dataDir: DATA_DIR });
  await store.open();
  const projection = await Projection.open(
    {
      dataDir: DATA_DIR,
      ...(databaseUrl === undefined ? {} : { databaseUrl, schema: 'vpr_bench' }),
      ...(cache === undefined ? {} : { cache }),
    },
    store,
  );
  try {
    let rate = Number.NaN;
    const [row] = await projection.client.query<{ n: number }>('SELECT count(*)::int AS n FROM patients');
    if (row?.n !== PATIENTS || process.env.VPR_BENCH_REINDEX === '1' || cache === undefined) {
      console.log(`  ${backend}: reindexing ${PATIENTS} patients…`);
      const result = await projection.reindex();
      rate = result.patients / result.seconds;
      console.log(
        `  ${backend}: reindexed ${result.repositories} repositories in ${result.seconds.toFixed(1)} s`,
      );
    }
    const ids = (
      await projection.client.query<{ patient_id: string }>('SELECT patient_id FROM patients LIMIT 5000')
    ).map((r) => r.patient_id);
    // A list as a clinic would page it: a family-name prefix, 20 a page, the second page via the cursor.
    const list = await latency(SAMPLES, async (i) => {
      const first = await projection.listPatients({ familyName: familyName(i * 7).slice(0, 9), limit: 20 });
      if (first.nextCursor !== null && i % 2 === 0) {
        await projection.listPatients({
          familyName: familyName(i * 7).slice(0, 9),
          limit: 20,
          cursor: first.nextCursor,
        });
      }
    });
    const read = await latency(SAMPLES, (i) => projection.getPatient(ids[i % ids.length]!));
    return { backend, reindexPatientsPerSecond: rate, list, read };
  } finally {
    await projection.close();
    await store.close();
  }
}

await ensurePatients();
console.log(
  `Node ${process.version} · ${PATIENTS} patients · ${SAMPLES} samples per latency · ${new Date().toISOString()}`,
);
const rows: Row[] = [];
rows.push(await measure('PGlite (embedded)', undefined, undefined));
rows.push(await measure('PostgreSQL', DATABASE_URL, undefined));
const redis = await RedisReadCache.connect(REDIS_URL, 'vpr-bench:');
rows.push(await measure('PostgreSQL + Redis cache', DATABASE_URL, redis));
await redis.close();
rows.push(await measure('PostgreSQL + in-process cache', DATABASE_URL, new MemoryReadCache()));
{
  // The benchmark's schema is not left behind in the shared database.
  const store = new RecordStore({ dataDir: DATA_DIR });
  const projection = await Projection.open(
    { dataDir: DATA_DIR, databaseUrl: DATABASE_URL, schema: 'vpr_bench' },
    store,
  );
  await projection.client.query('DROP SCHEMA vpr_bench CASCADE');
  await projection.close();
}

const ms = (v: number) => (Number.isNaN(v) ? '—' : v.toFixed(2));
console.log('\n| Backend | Reindex patients/s | List p50 ms | List p95 ms | Read p50 ms | Read p95 ms |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const rate = Number.isNaN(r.reindexPatientsPerSecond) ? '—' : r.reindexPatientsPerSecond.toFixed(0);
  console.log(
    `| ${r.backend} | ${rate} | ${ms(r.list[0])} | ${ms(r.list[1])} | ${ms(r.read[0])} | ${ms(r.read[1])} |`,
  );
}
console.log(
  '\nTargets (issue 3): reindex ≥ 1,000 patients/s; list and read p95 ≤ 5 ms on PostgreSQL. ' +
    'List = a family-name prefix filter, 20 a page, half the time followed by the second page via its cursor.',
);
