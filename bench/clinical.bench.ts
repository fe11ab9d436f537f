// `npm run bench:clinical`: the clinical record under load, in two parts.
//
// 1. Through the running server (its own process, fsync on, info logs on; embedded PGlite, then
//    PostgreSQL + Redis): letters created per second (POST with a Markdown body and clinical
//    lists, 8 writers on 8 patients' records, closed model) and letter reads — content served
//    from Git through the cache — at a paced 50/s and at the maximum (autocannon), p50/p95/p99.
//
// 2. The sign-off queue over VPR_BENCH_LETTERS letters (default 100,000) on PGlite and on
//    PostgreSQL: the letters are real files in real Git repositories (2,000 patients' clinical
//    records, written with durability off and ten letters per commit: fixture data, built once
//    into VPR_BENCH_DIR and reused), projected by the real reindex, then queried as a clinician
//    would: the queue's first page, one author's, one care location's, and a page far down.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MemoryReadCache } from '../src/cache/read-cache.js';
import {
  letterBodyPath,
  letterCompositionPath,
  renderLetterComposition,
} from '../src/core/clinical/letter.js';
import { TimestampIdGenerator } from '../src/core/ids/timestamp-id.js';
import { RecordStore } from '../src/core/record/record-store.js';
import { signOffQueue } from '../src/projection/clinical-queries.js';
import { Projection } from '../src/projection/projection.js';
import {
  DATABASE_URL,
  drivePaced,
  driveMax,
  printRow,
  removeLater,
  seedPatients,
  startServer,
  onEachBackend,
  type Row,
} from './http-load.js';
import { percentile } from './measure.js';
import { benchPatient, lettersOf } from './synthetic-names.js';

const SECONDS = Number(process.env.VPR_BENCH_CLINICAL_SECONDS ?? 15);
const LETTERS = Number(process.env.VPR_BENCH_LETTERS ?? 100_000);
const PATIENTS = Number(process.env.VPR_BENCH_LETTER_PATIENTS ?? 2_000);
const DATA_DIR = resolve(process.env.VPR_BENCH_DIR ?? './.bench-clinical');
const SAMPLES = Number(process.env.VPR_BENCH_SAMPLES ?? 500);
const BACKENDS = (process.env.VPR_BENCH_CLINICAL_BACKENDS ?? 'pglite,postgres').split(',');
const KEY = `bench-${randomBytes(16).toString('hex')}`;
/** Bumped whenever the generated letters change shape, so an old data set is not reused. */
const DATA_FORMAT = 1;
const AUTHORS = 40;
const LOCATIONS = 8;
const DRAFT_SHARE = 0.3;

const headers = () => ({ 'x-api-key': KEY, 'content-type': 'application/json' });
const markdown = (i: number) =>
  `# Clinic letter ${lettersOf(i, 4)}\n\nDear colleague,\n\n${'This synthetic review letter describes a stable course. '.repeat(20)}\n\n- Continue current treatment\n- Review in six months\n\nKind regards,\n`;
const letterBody = (i: number) =>
  JSON.stringify({
    title: `Review letter ${lettersOf(i, 4)}`,
    body: markdown(i),
    clinical_lists: [
      {
        kind: 'diagnoses',
        items: [{ text: 'Hypertension', code: { terminology: 'SNOMED-CT', value: '38341003' } }],
      },
      { kind: 'medications', items: [{ text: 'Amlodipine 10 mg once daily' }] },
    ],
  });

async function throughTheServer(backend: string, env: Record<string, string>): Promise<Row[]> {
  const server = await startServer(KEY, env);
  try {
    const patients = [
      ...(await seedPatients(server.base, KEY, 64, (i) => JSON.stringify(benchPatient(i, 'Letters')))).keys(),
    ];
    const rows: Row[] = [];
    const letters: string[] = [];
    let n = 0;
    // Writers on different patients; each patient's writes are serialised by its repository anyway.
    rows.push(
      await driveMax(
        backend,
        'POST letter',
        server.base,
        () => {
          const i = n++;
          const patient = patients[i % patients.length]!;
          return {
            method: 'POST',
            path: `/api/v1/patients/${patient}/letters`,
            headers: headers(),
            body: letterBody(i),
            onDone: () => undefined,
          };
        },
        SECONDS,
        8,
      ),
    );
    printRow(rows.at(-1)!);
    for (const patient of patients) {
      const page = (await (
        await fetch(`${server.base}/api/v1/patients/${patient}/letters?limit=100`, { headers: headers() })
      ).json()) as { letters: { letter_id: string }[] };
      for (const l of page.letters) letters.push(`/api/v1/patients/${patient}/letters/${l.letter_id}`);
    }
    let r = 0;
    const read = () => ({ method: 'GET', headers: headers(), path: letters[r++ % letters.length]! });
    rows.push(await drivePaced(backend, 'GET letter', server.base, read, 50, SECONDS));
    printRow(rows.at(-1)!);
    rows.push(await driveMax(backend, 'GET letter', server.base, read, SECONDS));
    printRow(rows.at(-1)!);
    let q = 0;
    const queue = () => ({
      method: 'GET',
      headers: headers(),
      path:
        q++ % 2 === 0
          ? '/api/v1/letters/sign-off-queue'
          : `/api/v1/patients/${patients[q % patients.length]}/letters`,
    });
    rows.push(await drivePaced(backend, 'GET queue / letter list', server.base, queue, 50, SECONDS));
    printRow(rows.at(-1)!);
    return rows;
  } finally {
    await server.stop();
    removeLater(server.dataDir);
  }
}

const authorOf = (i: number) => ({
  name: `Dr Bench ${lettersOf(i % AUTHORS, 3)}`,
  email: `bench.author.${i % AUTHORS}@example.invalid`,
  role: 'Consultant Physician',
  registrations: [{ authority: 'GMC', number: String(7_100_000 + (i % AUTHORS)) }],
});
const locationOf = (i: number) => `Bench Clinic ${lettersOf(i % LOCATIONS, 2)}`;

/** The fixture: LETTERS letters across PATIENTS clinical records, in Git. */
async function ensureLetters(): Promise<void> {
  const marker = resolve(DATA_DIR, 'bench-letters.json');
  const existing = await readFile(marker, 'utf8').then(
    (text) => JSON.parse(text) as { letters: number; patients: number; format: number },
    () => undefined,
  );
  if (existing?.letters === LETTERS && existing.patients === PATIENTS && existing.format === DATA_FORMAT) {
    console.log(`Reusing ${LETTERS} letters in ${DATA_DIR}`);
    return;
  }
  await rm(DATA_DIR, { recursive: true, force: true });
  await mkdir(DATA_DIR, { recursive: true });
  const store = new RecordStore({ dataDir: DATA_DIR, repository: { durability: 'none' } });
  await store.open();
  const started = performance.now();
  const ids = new TimestampIdGenerator();
  const perPatient = Math.ceil(LETTERS / PATIENTS);
  let next = 0;
  let written = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < PATIENTS) {
        const p = next++;
        const record = await store.createFullRecord({
          demographics: benchPatient(p, 'Queue', '1960-02-03'),
          author: authorOf(p),
          careLocation: locationOf(p),
        });
        for (let start = 0; start < perPatient && written < LETTERS; start += 10) {
          const changes = [];
          for (let k = start; k < Math.min(start + 10, perPatient) && written < LETTERS; k++, written++) {
            const i = p * perPatient + k;
            const letterId = ids.next();
            const draft = (i * 7919) % 1000 < DRAFT_SHARE * 1000;
            const author = authorOf(i);
            changes.push(
              {
                path: letterCompositionPath(letterId),
                content: renderLetterComposition({
                  letterId,
                  title: `Review letter ${lettersOf(i, 4)}`,
                  composer: author,
                  careLocation: locationOf(i),
                  startTime: new Date(Date.parse('2026-01-01T00:00:00Z') + i * 60_000).toISOString(),
                  hasBody: true,
                  clinicalLists: [],
                  attachments: [],
                  status: draft ? 'draft' : 'signed',
                  ...(draft
                    ? {}
                    : {
                        signedOff: {
                          name: author.name,
                          role: author.role,
                          registrations: author.registrations,
                          at: '2026-02-01T00:00:00.000Z',
                        },
                      }),
                }),
              },
              { path: letterBodyPath(letterId), content: markdown(i) },
            );
          }
          await store.commitChange({
            kind: 'clinical',
            id: record.clinicalId,
            changes,
            author: authorOf(p),
            action: 'create',
            summary: `Created ${changes.length / 2} letters`,
            careLocation: locationOf(p),
          });
        }
        if ((p + 1) % 200 === 0) {
          const rate = written / ((performance.now() - started) / 1000);
          console.log(`  ${p + 1} patients, ${written} letters (${rate.toFixed(0)} letters/s)`);
        }
      }
    }),
  );
  await store.close();
  await writeFile(marker, JSON.stringify({ letters: LETTERS, patients: PATIENTS, format: DATA_FORMAT }));
  console.log(`Generated ${written} letters in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

interface QueueRow {
  readonly backend: string;
  readonly query: string;
  readonly p50: number;
  readonly p95: number;
  readonly rows: number;
}

async function queueAtScale(backend: string, databaseUrl?: string): Promise<QueueRow[]> {
  const store = new RecordStore({ dataDir: DATA_DIR, repository: { durability: 'none' } });
  await store.open();
  const schema = `vpr_bench_queue_${randomBytes(4).toString('hex')}`;
  const projection = await Projection.open(
    {
      dataDir: DATA_DIR,
      cache: new MemoryReadCache(),
      ...(databaseUrl === undefined ? {} : { databaseUrl, schema }),
    },
    store,
  );
  try {
    const started = performance.now();
    const result = await projection.reindex();
    const seconds = (performance.now() - started) / 1000;
    const [count] = await projection.client.query<{ n: number; drafts: number }>(
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'draft')::int AS drafts FROM letters",
    );
    console.log(
      `${backend}: reindexed ${result.repositories} repositories in ${seconds.toFixed(1)} s; ${count?.n} letters, ${count?.drafts} needing sign-off`,
    );
    const deepCursor = async () => {
      let cursor: string | undefined;
      for (let i = 0; i < 50; i++)
        cursor =
          (await signOffQueue(projection.client, { limit: 50, ...(cursor ? { cursor } : {}) })).nextCursor ??
          undefined;
      return cursor;
    };
    const deep = await deepCursor();
    const queries: [string, () => Promise<{ items: unknown[] }>][] = [
      ['first page (50)', () => signOffQueue(projection.client, { limit: 50 })],
      [
        'one author (50)',
        () =>
          signOffQueue(projection.client, {
            author: `bench.author.${Math.floor(Math.random() * AUTHORS)}@example.invalid`,
            limit: 50,
          }),
      ],
      [
        'one care location (50)',
        () =>
          signOffQueue(projection.client, {
            careLocation: locationOf(Math.floor(Math.random() * LOCATIONS)),
            limit: 50,
          }),
      ],
      [
        'page 51 by cursor (50)',
        () => signOffQueue(projection.client, { limit: 50, ...(deep ? { cursor: deep } : {}) }),
      ],
    ];
    const rows: QueueRow[] = [];
    for (const [query, run] of queries) {
      for (let i = 0; i < 20; i++) await run();
      const times: number[] = [];
      let found = 0;
      for (let i = 0; i < SAMPLES; i++) {
        const t0 = performance.now();
        found = (await run()).items.length;
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      rows.push({ backend, query, p50: percentile(times, 0.5), p95: percentile(times, 0.95), rows: found });
      console.log(
        `  sign-off queue, ${query}: p50 ${rows.at(-1)!.p50.toFixed(2)} ms, p95 ${rows.at(-1)!.p95.toFixed(2)} ms`,
      );
    }
    return rows;
  } finally {
    if (databaseUrl !== undefined)
      await projection.client.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await projection.close();
    await store.close();
    if (databaseUrl === undefined)
      await rm(resolve(DATA_DIR, '.projection'), { recursive: true, force: true });
  }
}

console.log(
  `Node ${process.version} · ${SECONDS} s per run · ${LETTERS} letters for the queue · ${new Date().toISOString()}`,
);
await onEachBackend(BACKENDS, throughTheServer);

await ensureLetters();
const queue: QueueRow[] = [];
if (BACKENDS.includes('pglite')) queue.push(...(await queueAtScale('PGlite (embedded)')));
if (BACKENDS.includes('postgres')) queue.push(...(await queueAtScale('PostgreSQL', DATABASE_URL)));
console.log(`\n| Backend | Sign-off queue over ${LETTERS} letters | rows | p50 ms | p95 ms |`);
console.log('| --- | --- | ---: | ---: | ---: |');
for (const r of queue)
  console.log(`| ${r.backend} | ${r.query} | ${r.rows} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} |`);
