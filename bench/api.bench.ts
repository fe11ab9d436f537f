// `npm run bench:api`: the server as a separate process (`node dist/src/main.js`, fsync on,
// info logs on), driven over loopback from this process. For each backend (the embedded PGlite
// default, then PostgreSQL + Redis): seed patients, then GET, POST and PUT at a fixed 50
// requests/s — an open model, one request every 20 ms whatever the answers do, latency counted
// from when each request was due — then each as fast as the server answers, with autocannon
// (closed model, 16 connections). Prints throughput, p50/p95/p99 and every non-2xx answer or
// error. autocannon's own fixed-rate mode sends each second's requests in a burst at the start
// of the second, which measures queueing behind the burst rather than the service, hence the
// paced driver. Bounded: a few tens of seconds per run.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { percentile } from './measure.js';
import { lettersOf } from './synthetic-names.js';

const SEED = Number(process.env.VPR_BENCH_API_PATIENTS ?? 1_000);
const SECONDS = Number(process.env.VPR_BENCH_API_SECONDS ?? 20);
const DATABASE_URL = process.env.VPR_BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.VPR_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Which backends and operations to run (all by default), for looking at one of them alone. */
const BACKENDS = (process.env.VPR_BENCH_API_BACKENDS ?? 'pglite,postgres').split(',');
const OPERATIONS = (process.env.VPR_BENCH_API_OPERATIONS ?? 'GET,POST,PUT').split(',') as (
  'GET' | 'POST' | 'PUT'
)[];
const KEY = `bench-${randomBytes(16).toString('hex')}`;
const MAIN = new URL('../src/main.js', import.meta.url).pathname;

const baseHeaders = { 'x-api-key': KEY, 'content-type': 'application/json' };
/** A fresh object every time: autocannon writes its content-length into the headers it is given. */
const headers = () => ({ ...baseHeaders });
let sequence = 0;
const body = (family: string) =>
  JSON.stringify({
    given_name: `Given${lettersOf(sequence++ % 1000, 3)}`,
    family_name: family,
    date_of_birth: '1970-01-01',
    sex_at_birth: 'unknown',
    gender_identity: 'undisclosed',
  });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function startServer(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; base: string; dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vpr-bench-api-'));
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      VPR_DATA_DIR: dataDir,
      VPR_HTTP_PORT: String(port),
      VPR_API_KEY: KEY,
      ...env,
    },
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return { child, base, dataDir };
    } catch {
      // not listening yet
    }
    if (i > 600 || child.exitCode !== null) throw new Error('the server did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Row {
  readonly backend: string;
  readonly operation: string;
  readonly offered: string;
  readonly perSecond: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly failures: number;
}

type Requests = NonNullable<autocannon.Options['requests']>;

/** Closed model: as many requests as 16 connections get answered. */
async function driveMax(backend: string, operation: string, base: string, requests: Requests): Promise<Row> {
  const times: number[] = [];
  // Without a callback autocannon returns its tracker, which is both an event emitter and thenable.
  const instance = autocannon({
    url: base,
    connections: 16,
    duration: SECONDS,
    requests,
  }) as unknown as NodeJS.EventEmitter & Promise<autocannon.Result>;
  const statuses = new Map<number, number>();
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    times.push(ms);
    if (status >= 300) statuses.set(status, (statuses.get(status) ?? 0) + 1);
  });
  const result = await instance;
  if (statuses.size > 0)
    console.log(
      `  ${operation} max: non-2xx answers by status: ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
  times.sort((a, b) => a - b);
  return {
    backend,
    operation,
    offered: 'max',
    perSecond: result.requests.total / (result.duration || SECONDS),
    p50: percentile(times, 0.5),
    p95: percentile(times, 0.95),
    p99: percentile(times, 0.99),
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

/** One request a service answers: what to send, and what to learn from the answer. */
type Call = () => {
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  onDone?: (r: Response) => void;
};

/** Open model: one request every 1000/rate ms for SECONDS, latency from when each was due. */
async function drivePaced(
  backend: string,
  operation: string,
  base: string,
  call: Call,
  rate: number,
): Promise<Row> {
  const times: number[] = [];
  let failures = 0;
  const started = performance.now();
  const total = rate * SECONDS;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const request = call();
    pending.push(
      fetch(`${base}${request.path}`, {
        method: request.method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
      }).then(
        async (response) => {
          await response.arrayBuffer();
          times.push(performance.now() - due);
          if (response.status >= 300) failures++;
          request.onDone?.(response);
        },
        () => {
          failures++;
        },
      ),
    );
  }
  await Promise.all(pending);
  times.sort((a, b) => a - b);
  return {
    backend,
    operation,
    offered: `${rate}/s`,
    perSecond: times.length / ((performance.now() - started) / 1000),
    p50: percentile(times, 0.5),
    p95: percentile(times, 0.95),
    p99: percentile(times, 0.99),
    failures,
  };
}

/**
 * Data directories are removed only when every run is over. Seen here: a run started right after
 * deleting the previous run's hundreds of thousands of files was several times slower, one
 * started a minute later was not (the disk is mounted with `discard`, so freed blocks are
 * trimmed as the journal commits, behind which the next run's fsyncs wait).
 */
const dataDirs: string[] = [];

async function measure(backend: string, env: Record<string, string>): Promise<Row[]> {
  const { child, base, dataDir } = await startServer(env);
  try {
    console.log(`${backend}: seeding ${SEED} patients…`);
    const versions = new Map<string, string>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < SEED) {
          const i = next++;
          const response = await fetch(`${base}/api/v1/patients`, {
            method: 'POST',
            headers: headers(),
            body: body(`Seed${lettersOf(i, 5)}`),
          });
          if (response.status !== 201) throw new Error(`seeding answered ${response.status}`);
          const patient = (await response.json()) as { patient_id: string };
          versions.set(patient.patient_id, response.headers.get('etag')!);
        }
      }),
    );
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
    const asRequests = (call: Call): Requests => [
      {
        setupRequest: (req, context: { done?: (r: { etag?: string }) => void }) => {
          const c = call();
          context.done = (r) => c.onDone?.({ headers: { get: () => r.etag ?? null } } as unknown as Response);
          return {
            ...req,
            method: c.method as 'GET',
            path: c.path,
            headers: c.headers,
            ...(c.body === undefined ? {} : { body: c.body }),
          };
        },
        onResponse: (_status, _body, context: { done?: (r: { etag?: string }) => void }, responseHeaders) => {
          const etag = responseHeaders?.etag;
          context.done?.({ ...(typeof etag === 'string' ? { etag } : {}) });
        },
      },
    ];
    const rows: Row[] = [];
    const report = (row: Row) => {
      console.log(
        `  ${row.operation} ${row.offered}: ${row.perSecond.toFixed(0)}/s, p50 ${row.p50.toFixed(2)} ms, p95 ${row.p95.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, failures ${row.failures}`,
      );
      rows.push(row);
    };
    for (const operation of OPERATIONS) {
      report(await drivePaced(backend, operation, base, calls[operation], 50));
    }
    for (const operation of OPERATIONS) {
      report(await driveMax(backend, operation, base, asRequests(calls[operation])));
    }
    return rows;
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    dataDirs.push(dataDir);
  }
}

console.log(
  `Node ${process.version} · ${SEED} seeded patients · ${SECONDS} s per run · ${new Date().toISOString()}`,
);
const rows = BACKENDS.includes('pglite') ? await measure('PGlite (embedded)', {}) : [];
const schema = `vpr_bench_api_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: DATABASE_URL });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
try {
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  if (BACKENDS.includes('postgres'))
    rows.push(
      ...(await measure('PostgreSQL + Redis', {
        DATABASE_URL: url.toString(),
        REDIS_URL,
        VPR_REDIS_PREFIX: `${schema}:`,
      })),
    );
} finally {
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${schema}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
}

console.log('\n| Backend | Operation | Offered | Achieved /s | p50 ms | p95 ms | p99 ms | Failures |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(
    `| ${r.backend} | ${r.operation} | ${r.offered} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.failures} |`,
  );
}
console.log(
  '\nTargets (issue 4): at 50 rps p95 GET ≤ 5 ms and POST/PUT ≤ 30 ms; sustained ≥ 3,000 GET/s and ≥ 150 PUT/s.',
);
