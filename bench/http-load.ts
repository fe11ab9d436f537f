// The HTTP side of the benchmarks that drive a running server (`bench:api`, `bench:clinical`):
// the server started as its own process on a fresh data directory, an open-model driver that
// paces requests itself (latency counted from when each request was due, so queueing shows),
// autocannon for the closed-model maximum, and the PostgreSQL schema and Redis prefix a run uses
// and removes. Only 127.0.0.1 is ever a target; every run is bounded in time.
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

const MAIN = new URL('../src/main.js', import.meta.url).pathname;
export const DATABASE_URL = process.env.VPR_BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.VPR_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Row {
  readonly backend: string;
  readonly operation: string;
  readonly offered: string;
  readonly perSecond: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly failures: number;
}

export function printRow(row: Row): void {
  console.log(
    `  ${row.operation} ${row.offered}: ${row.perSecond.toFixed(0)}/s, p50 ${row.p50.toFixed(2)} ms, p95 ${row.p95.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, failures ${row.failures}`,
  );
}

export function printTable(rows: readonly Row[]): void {
  console.log('\n| Backend | Operation | Offered | Achieved /s | p50 ms | p95 ms | p99 ms | Failures |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.backend} | ${r.operation} | ${r.offered} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.failures} |`,
    );
  }
}

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

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly base: string;
  /** host:port of the gRPC door. */
  readonly grpcAddress: string;
  readonly dataDir: string;
  /** performance.now() when the server first answered (before it was ready, while catching up). */
  readonly answeredAt: number;
  /** SIGTERM, and wait for the process to end (the data directory stays; see `removeLater`). */
  stop(): Promise<void>;
}

/** `node dist/src/main.js` on a data directory and a free port, once it answers /readyz. */
export async function startServer(
  key: string,
  env: Record<string, string> = {},
  /** An existing data directory to serve (default: a fresh one). */
  existing?: string,
): Promise<ServerProcess> {
  const dataDir = existing ?? (await mkdtemp(join(tmpdir(), 'vpr-bench-')));
  const port = await freePort();
  const grpcPort = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      VPR_DATA_DIR: dataDir,
      VPR_HTTP_PORT: String(port),
      VPR_GRPC_PORT: String(grpcPort),
      VPR_API_KEY: key,
      ...env,
    },
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  };
  let answeredAt: number | undefined;
  for (let i = 0; ; i++) {
    try {
      const ready = (await fetch(`${base}/readyz`)).ok;
      answeredAt ??= performance.now();
      if (ready) return { child, base, grpcAddress: `127.0.0.1:${grpcPort}`, dataDir, answeredAt, stop };
    } catch {
      // not listening yet
    }
    if (i > 6000 || child.exitCode !== null) throw new Error('the server did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Data directories are removed only when every run is over. Seen here: a run started right after
 * deleting the previous run's hundreds of thousands of files was several times slower, one
 * started a minute later was not (the disk is mounted with `discard`, so freed blocks are
 * trimmed as the journal commits, behind which the next run's fsyncs wait).
 */
const dataDirs: string[] = [];

export function removeLater(dir: string): void {
  dataDirs.push(dir);
}

export async function removeDataDirs(): Promise<void> {
  for (const dir of dataDirs.splice(0)) await rm(dir, { recursive: true, force: true });
}

/** One request a service answers: what to send, and what to learn from the answer. */
export type Call = () => {
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  onDone?: (r: Response) => void;
};

/** One operation of any door: resolves true when it succeeded. */
export type Send = () => Promise<boolean>;

function rowOf(
  backend: string,
  operation: string,
  offered: string,
  times: number[],
  seconds: number,
  failures: number,
): Row {
  times.sort((a, b) => a - b);
  return {
    backend,
    operation,
    offered,
    perSecond: times.length / seconds,
    p50: percentile(times, 0.5),
    p95: percentile(times, 0.95),
    p99: percentile(times, 0.99),
    failures,
  };
}

/** Open model: one operation every 1000/rate ms for `seconds`, latency from when each was due. */
export async function pace(
  backend: string,
  operation: string,
  send: Send,
  rate: number,
  seconds: number,
): Promise<Row> {
  const times: number[] = [];
  let failures = 0;
  const started = performance.now();
  const total = rate * seconds;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      send().then(
        (ok) => {
          times.push(performance.now() - due);
          if (!ok) failures++;
        },
        () => {
          failures++;
        },
      ),
    );
  }
  await Promise.all(pending);
  return rowOf(backend, operation, `${rate}/s`, times, (performance.now() - started) / 1000, failures);
}

/** Closed model from this process: `concurrency` operations in flight, each followed at once by the next. */
export async function closedLoop(
  backend: string,
  operation: string,
  send: Send,
  concurrency: number,
  seconds: number,
): Promise<Row> {
  const times: number[] = [];
  let failures = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const at = performance.now();
        const ok = await send().catch(() => false);
        times.push(performance.now() - at);
        if (!ok) failures++;
      }
    }),
  );
  return rowOf(
    backend,
    operation,
    `${concurrency} in flight`,
    times,
    (performance.now() - started) / 1000,
    failures,
  );
}

/** A Call sent with fetch: resolves true on a 2xx answer. */
export function fetchSend(base: string, call: Call): Send {
  return async () => {
    const request = call();
    const response = await fetch(`${base}${request.path}`, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
    });
    await response.arrayBuffer();
    request.onDone?.(response);
    return response.status < 300;
  };
}

/** Open model over HTTP (see `pace`). */
export function drivePaced(
  backend: string,
  operation: string,
  base: string,
  call: Call,
  rate: number,
  seconds: number,
): Promise<Row> {
  return pace(backend, operation, fetchSend(base, call), rate, seconds);
}

type Requests = NonNullable<autocannon.Options['requests']>;

/** A Call as autocannon's request list: each request built when it is sent, its answer seen. */
export function asRequests(call: Call): Requests {
  return [
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
}

/** Closed model: as many requests as `connections` connections get answered in `seconds`. */
export async function driveMax(
  backend: string,
  operation: string,
  base: string,
  call: Call,
  seconds: number,
  connections = 16,
): Promise<Row> {
  const times: number[] = [];
  // Without a callback autocannon returns its tracker, which is both an event emitter and thenable.
  const instance = autocannon({
    url: base,
    connections,
    duration: seconds,
    requests: asRequests(call),
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
    perSecond: result.requests.total / (result.duration || seconds),
    p50: percentile(times, 0.5),
    p95: percentile(times, 0.95),
    p99: percentile(times, 0.99),
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

/**
 * Runs `work` with the environment of a PostgreSQL + Redis server (a schema and a key prefix of
 * its own), and removes both afterwards.
 */
export async function withPostgresAndRedis<T>(work: (env: Record<string, string>) => Promise<T>): Promise<T> {
  const schema = `vpr_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  try {
    const url = new URL(DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return await work({ DATABASE_URL: url.toString(), REDIS_URL, VPR_REDIS_PREFIX: `${schema}:` });
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
  }
}

/**
 * Runs `measure` on each backend named in `backends` (`pglite`: the embedded default;
 * `postgres`: PostgreSQL + Redis, in a schema and prefix of its own), then removes the data
 * directories and prints every row as one table.
 */
export async function onEachBackend(
  backends: readonly string[],
  measure: (backend: string, env: Record<string, string>) => Promise<Row[]>,
): Promise<Row[]> {
  const rows: Row[] = [];
  if (backends.includes('pglite')) rows.push(...(await measure('PGlite (embedded)', {})));
  if (backends.includes('postgres')) {
    rows.push(...(await withPostgresAndRedis((env) => measure('PostgreSQL + Redis', env))));
  }
  await removeDataDirs();
  printTable(rows);
  return rows;
}

/** Creates `count` patients over HTTP, 8 at a time; returns each one's id and ETag. */
export async function seedPatients(
  base: string,
  key: string,
  count: number,
  body: (i: number) => string,
): Promise<Map<string, string>> {
  const versions = new Map<string, string>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const i = next++;
        const response = await fetch(`${base}/api/v1/patients`, {
          method: 'POST',
          headers: { 'x-api-key': key, 'content-type': 'application/json' },
          body: body(i),
        });
        if (response.status !== 201) throw new Error(`seeding answered ${response.status}`);
        const patient = (await response.json()) as { patient_id: string };
        versions.set(patient.patient_id, response.headers.get('etag')!);
      }
    }),
  );
  return versions;
}
