// `npm run bench:coordination`: messaging through the running server (its own process, fsync
// on, info logs on; embedded PGlite, then PostgreSQL + Redis):
//
// - messages added per second to ONE thread (8 writers, closed model): every message is a commit
//   of the same repository, so they take turns — the cost of an append that rewrites a growing
//   thread.md and its ledger;
// - messages added per second ACROSS threads (8 writers, each on its own patient's thread);
// - a thread of 1,000 messages read back whole: paced at 50/s and at the maximum (autocannon,
//   16 connections), p50/p95/p99 — a read of HEAD served through the view cache after the first.
import { randomBytes } from 'node:crypto';
import {
  drivePaced,
  driveMax,
  printRow,
  removeLater,
  seedPatients,
  startServer,
  onEachBackend,
  type Row,
} from './http-load.js';
import { benchPatient, lettersOf } from './synthetic-names.js';

const SECONDS = Number(process.env.VPR_BENCH_COORDINATION_SECONDS ?? 15);
const LONG_THREAD = Number(process.env.VPR_BENCH_THREAD_MESSAGES ?? 1_000);
const BACKENDS = (process.env.VPR_BENCH_COORDINATION_BACKENDS ?? 'pglite,postgres').split(',');
const KEY = `bench-${randomBytes(16).toString('hex')}`;

const headers = () => ({ 'x-api-key': KEY, 'content-type': 'application/json' });
const messageBody = (i: number) =>
  JSON.stringify({
    body: `Synthetic message ${lettersOf(i, 4)}.\n\nThe patient reports feeling better; ${'review planned. '.repeat(8)}\n---\nSent from the bench.`,
  });

async function newThread(base: string, patientId: string): Promise<string> {
  const response = await fetch(`${base}/api/v1/patients/${patientId}/threads`, {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify({
      ledger: {
        participants: [
          { participant_id: 'bench-clinician', role: 'clinician', display_name: 'Dr Bench Synthetic' },
          { participant_id: 'bench-patient', role: 'patient', display_name: 'Bench Patient' },
        ],
      },
    }),
  });
  if (response.status !== 201) throw new Error(`thread creation answered ${response.status}`);
  return ((await response.json()) as { communication_id: string }).communication_id;
}

async function measure(backend: string, env: Record<string, string>): Promise<Row[]> {
  const server = await startServer(KEY, env);
  try {
    const patients = [
      ...(await seedPatients(server.base, KEY, 9, (i) => JSON.stringify(benchPatient(i, 'Threads')))).keys(),
    ];
    const threads = await Promise.all(patients.map((p) => newThread(server.base, p)));
    const path = (i: number) => `/api/v1/patients/${patients[i]}/threads/${threads[i]}`;
    const rows: Row[] = [];
    let n = 0;
    rows.push(
      await driveMax(
        backend,
        'POST message, one thread',
        server.base,
        () => ({ method: 'POST', path: `${path(0)}/messages`, headers: headers(), body: messageBody(n++) }),
        SECONDS,
        8,
      ),
    );
    printRow(rows.at(-1)!);
    let m = 0;
    rows.push(
      await driveMax(
        backend,
        'POST message, across threads',
        server.base,
        () => {
          const i = 1 + (m % 8);
          return { method: 'POST', path: `${path(i)}/messages`, headers: headers(), body: messageBody(m++) };
        },
        SECONDS,
        8,
      ),
    );
    printRow(rows.at(-1)!);
    // Thread 1 grows to LONG_THREAD messages, then is read whole.
    const long = path(1);
    const have = (
      (await (await fetch(`${server.base}${long}`, { headers: headers() })).json()) as { messages: unknown[] }
    ).messages.length;
    for (let i = have; i < LONG_THREAD; i++) {
      const r = await fetch(`${server.base}${long}/messages`, {
        method: 'POST',
        headers: headers(),
        body: messageBody(i),
      });
      if (r.status !== 201) throw new Error(`posting answered ${r.status}`);
      await r.arrayBuffer();
    }
    const read = () => ({ method: 'GET', headers: headers(), path: long });
    const whole = (await (await fetch(`${server.base}${long}`, { headers: headers() })).json()) as {
      messages: unknown[];
    };
    console.log(`  the long thread holds ${whole.messages.length} messages`);
    rows.push(await drivePaced(backend, `GET thread of ${LONG_THREAD}`, server.base, read, 50, SECONDS));
    printRow(rows.at(-1)!);
    rows.push(await driveMax(backend, `GET thread of ${LONG_THREAD}`, server.base, read, SECONDS));
    printRow(rows.at(-1)!);
    return rows;
  } finally {
    await server.stop();
    removeLater(server.dataDir);
  }
}

console.log(`Node ${process.version} · ${SECONDS} s per run · ${new Date().toISOString()}`);
await onEachBackend(BACKENDS, measure);
