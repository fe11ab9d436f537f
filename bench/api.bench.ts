// `npm run bench:api`: the server as a separate process (`node dist/src/main.js`, fsync on,
// info logs on), driven over loopback from this process. For each backend (the embedded PGlite
// default, then PostgreSQL + Redis): seed patients, then GET, POST and PUT at a fixed 50
// requests/s — an open model, one request every 20 ms whatever the answers do, latency counted
// from when each request was due — then each as fast as the server answers, with autocannon
// (closed model, 16 connections). Prints throughput, p50/p95/p99 and every non-2xx answer or
// error. autocannon's own fixed-rate mode sends each second's requests in a burst at the start
// of the second, which measures queueing behind the burst rather than the service, hence the
// paced driver (bench/http-load.ts). Bounded: a few tens of seconds per run.
import { randomBytes } from 'node:crypto';
import {
  drivePaced,
  driveMax,
  printRow,
  removeLater,
  seedPatients,
  startServer,
  onEachBackend,
  type Call,
  type Row,
} from './http-load.js';
import { lettersOf } from './synthetic-names.js';

const SEED = Number(process.env.VPR_BENCH_API_PATIENTS ?? 1_000);
const SECONDS = Number(process.env.VPR_BENCH_API_SECONDS ?? 20);
/** Which backends and operations to run (all by default), for looking at one of them alone. */
const BACKENDS = (process.env.VPR_BENCH_API_BACKENDS ?? 'pglite,postgres').split(',');
const OPERATIONS = (process.env.VPR_BENCH_API_OPERATIONS ?? 'GET,POST,PUT').split(',') as (
  'GET' | 'POST' | 'PUT'
)[];
const KEY = `bench-${randomBytes(16).toString('hex')}`;

/** A fresh object every time: autocannon writes its content-length into the headers it is given. */
const headers = () => ({ 'x-api-key': KEY, 'content-type': 'application/json' });
let sequence = 0;
const body = (family: string) =>
  JSON.stringify({
    given_name: `Given${lettersOf(sequence++ % 1000, 3)}`,
    family_name: family,
    date_of_birth: '1970-01-01',
    sex_at_birth: 'unknown',
    gender_identity: 'undisclosed',
  });

async function measure(backend: string, env: Record<string, string>): Promise<Row[]> {
  const server = await startServer(KEY, env);
  try {
    console.log(`${backend}: seeding ${SEED} patients…`);
    const versions = await seedPatients(server.base, KEY, SEED, (i) => body(`Seed${lettersOf(i, 5)}`));
    const ids = [...versions.keys()];
    // Round robin over many patients: no two requests in flight ever edit the same one.
    let g = 0;
    let u = 0;
    const calls: Record<'GET' | 'POST' | 'PUT', Call> = {
      GET: () => ({ method: 'GET', headers: headers(), path: `/api/v1/patients/${ids[g++ % ids.length]}` }),
      POST: () => ({
        method: 'POST',
        headers: headers(),
        path: '/api/v1/patients',
        body: body(`Load${lettersOf(sequence, 7)}`),
      }),
      PUT: () => {
        const id = ids[u++ % ids.length]!;
        return {
          method: 'PUT',
          path: `/api/v1/patients/${id}`,
          headers: { ...headers(), 'if-match': versions.get(id)! },
          body: body(`Edit${lettersOf(u, 7)}`),
          onDone: (response) => {
            const etag = response.headers.get('etag');
            if (etag !== null) versions.set(id, etag);
          },
        };
      },
    };
    const rows: Row[] = [];
    for (const operation of OPERATIONS) {
      rows.push(await drivePaced(backend, operation, server.base, calls[operation], 50, SECONDS));
      printRow(rows.at(-1)!);
    }
    for (const operation of OPERATIONS) {
      rows.push(await driveMax(backend, operation, server.base, calls[operation], SECONDS));
      printRow(rows.at(-1)!);
    }
    return rows;
  } finally {
    await server.stop();
    removeLater(server.dataDir);
  }
}

console.log(
  `Node ${process.version} · ${SEED} seeded patients · ${SECONDS} s per run · ${new Date().toISOString()}`,
);
await onEachBackend(BACKENDS, measure);
console.log(
  '\nTargets (issue 4): at 50 rps p95 GET ≤ 5 ms and POST/PUT ≤ 30 ms; sustained ≥ 3,000 GET/s and ≥ 150 PUT/s.',
);
