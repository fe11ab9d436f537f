// The load generator of `bench:load`, run as its own process so that it never shares an event
// loop with the server it measures: it finds its targets through the API (patients, a letter and
// a thread of each), then offers the clinic mix as one open-model arrival stream at fixed rates
// (requests evenly spaced, each operation drawn from a shuffled deck in the mix's proportions),
// sent over undici's connection pool, stepping up until the p95 of the whole mix breaks the
// limit. autocannon's rate limit is a per-second allowance per connection, so its requests leave
// in bursts at each second boundary — measured to triple even the baseline's median — hence the
// pacing here (docs/adr/0013-load-benchmark.md). Each step is one JSON line on standard output,
// announced by a line of its own as it starts.
// Only 127.0.0.1 is a target; every step is bounded in time (and in requests in flight).
//
// It drives VPR and the baseline (baseline-crud-server.ts) alike: they share the API's shape.
import { Pool, type Dispatcher } from 'undici';
import type { Call } from './http-load.js';
import { percentile } from './measure.js';

export interface DriverConfig {
  readonly base: string;
  readonly key: string;
  /** Offered rates of the whole mix, requests per second, in the order they are tried. */
  readonly rates: readonly number[];
  readonly seconds: number;
  /** How many patients to spread the load over. */
  readonly patients: number;
  /** The step whose p95 (all operations) goes over this ends the ladder. */
  readonly p95LimitMs: number;
}

/** Requests per second offered and answered, latency percentiles (ms), failures. */
interface Figures {
  readonly offered: number;
  readonly achieved: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly failures: number;
}

export interface OperationResult extends Figures {
  readonly operation: string;
  readonly write: boolean;
  /** Non-2xx answers by status, and connection errors as `error`. */
  readonly statuses: Readonly<Record<string, number>>;
}

export interface StepResult extends Figures {
  readonly operations: readonly OperationResult[];
}

/** The clinic mix: weights out of 100 (80 reads, 20 writes). */
export const CLINIC_MIX = [
  { operation: 'GET patient', weight: 25, write: false },
  { operation: 'GET letter list', weight: 15, write: false },
  { operation: 'GET letter', weight: 20, write: false },
  { operation: 'GET thread', weight: 15, write: false },
  { operation: 'GET sign-off queue', weight: 5, write: false },
  { operation: 'POST letter', weight: 5, write: true },
  { operation: 'POST message', weight: 6, write: true },
  { operation: 'PUT demographics', weight: 4, write: true },
  { operation: 'POST observation', weight: 5, write: true },
] as const;

type Operation = (typeof CLINIC_MIX)[number]['operation'];

/** Requests in flight at most; one due beyond it counts as failed (`overload`). */
const MAX_IN_FLIGHT = 512;

interface Targets {
  readonly patients: { id: string; body: Record<string, unknown>; etag: string }[];
  readonly letters: { patient: string; letter: string }[];
  readonly threads: { patient: string; thread: string }[];
}

async function getJson(
  config: DriverConfig,
  path: string,
): Promise<{ body: Record<string, unknown>; etag: string }> {
  const response = await fetch(`${config.base}${path}`, { headers: { 'x-api-key': config.key } });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return {
    body: (await response.json()) as Record<string, unknown>,
    etag: response.headers.get('etag') ?? '',
  };
}

/** Patients from the list, then each one's demographics, newest letter and newest thread. */
async function findTargets(config: DriverConfig): Promise<Targets> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: Record<string, unknown> } = await getJson(
      config,
      `/api/v1/patients?limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
    );
    for (const p of page.body.patients as { patient_id: string }[]) ids.push(p.patient_id);
    cursor = page.body.next_cursor as string | null;
  } while (cursor !== null && ids.length < config.patients);
  const targets: Targets = { patients: [], letters: [], threads: [] };
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < Math.min(ids.length, config.patients)) {
        const id = ids[next++]!;
        const [patient, letters, threads] = await Promise.all([
          getJson(config, `/api/v1/patients/${id}`),
          getJson(config, `/api/v1/patients/${id}/letters?limit=1`),
          getJson(config, `/api/v1/patients/${id}/threads?limit=1`),
        ]);
        targets.patients.push({ id, body: patient.body, etag: patient.etag });
        const letter = (letters.body.letters as { letter_id: string }[])[0];
        if (letter !== undefined) targets.letters.push({ patient: id, letter: letter.letter_id });
        const thread = (threads.body.threads as { communication_id: string }[])[0];
        if (thread !== undefined) targets.threads.push({ patient: id, thread: thread.communication_id });
      }
    }),
  );
  if (targets.letters.length === 0 || targets.threads.length === 0)
    throw new Error('the population has no letters or threads');
  return targets;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** The request each operation sends, built afresh for every request. */
function callsOf(config: DriverConfig, targets: Targets): Record<Operation, Call> {
  const headers = { 'x-api-key': config.key };
  const json = { ...headers, 'content-type': 'application/json' };
  let nextUpdate = 0;
  return {
    'GET patient': () => ({ method: 'GET', path: `/api/v1/patients/${pick(targets.patients).id}`, headers }),
    'GET letter list': () => ({
      method: 'GET',
      path: `/api/v1/patients/${pick(targets.letters).patient}/letters?limit=20`,
      headers,
    }),
    'GET letter': () => {
      const t = pick(targets.letters);
      return { method: 'GET', path: `/api/v1/patients/${t.patient}/letters/${t.letter}`, headers };
    },
    'GET thread': () => {
      const t = pick(targets.threads);
      return { method: 'GET', path: `/api/v1/patients/${t.patient}/threads/${t.thread}`, headers };
    },
    'GET sign-off queue': () => ({ method: 'GET', path: '/api/v1/letters/sign-off-queue?limit=20', headers }),
    'POST letter': () => ({
      method: 'POST',
      path: `/api/v1/patients/${pick(targets.patients).id}/letters`,
      headers: json,
      body: JSON.stringify({
        title: 'Clinic letter',
        body: '# Review\n\nSeen in clinic today. Breathing is better.\n\n## Plan\n\n- Continue inhalers\n- Review in three months\n',
        clinical_lists: [
          {
            kind: 'diagnoses',
            items: [{ text: 'Asthma', code: { terminology: 'SNOMED-CT', value: '195967001' } }],
          },
        ],
      }),
    }),
    'POST message': () => {
      const t = pick(targets.threads);
      return {
        method: 'POST',
        path: `/api/v1/patients/${t.patient}/threads/${t.thread}/messages`,
        headers: json,
        body: JSON.stringify({
          body: 'The results are back and are in line with the plan discussed in clinic.',
        }),
      };
    },
    // Round robin, so no two updates of one patient are ever in flight together.
    'PUT demographics': () => {
      const patient = targets.patients[nextUpdate++ % targets.patients.length]!;
      const body = { ...patient.body, consent_to_contact: patient.body.consent_to_contact !== true };
      return {
        method: 'PUT',
        path: `/api/v1/patients/${patient.id}`,
        headers: { ...json, 'if-match': patient.etag },
        body: JSON.stringify(body),
        onDone: (r) => {
          const etag = r.headers.get('etag');
          if (etag !== null) {
            patient.etag = etag;
            patient.body = body;
          }
        },
      };
    },
    'POST observation': () => ({
      method: 'POST',
      path: `/api/v1/patients/${pick(targets.patients).id}/entries/blood_pressure`,
      headers: json,
      body: JSON.stringify({
        recorded_at: new Date(Date.now() - 60_000).toISOString(),
        systolic_mmhg: 110 + Math.floor(Math.random() * 40),
        diastolic_mmhg: 70 + Math.floor(Math.random() * 15),
        position: 'sitting',
      }),
    }),
  };
}

/** A deck of 100 operations in the mix's proportions, shuffled: one arrival stream, exactly the mix. */
function deckOf(): (typeof CLINIC_MIX)[number][] {
  const deck = CLINIC_MIX.flatMap((op) => Array.from({ length: op.weight }, () => op));
  for (let i = deck.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [deck[i], deck[j]] = [deck[j]!, deck[i]!];
  }
  return deck;
}

/**
 * One step of the open model: requests due every 1000/rate ms for `seconds`, each sent when it
 * is due whatever the state of earlier ones (up to `MAX_IN_FLIGHT`, past which a request counts
 * as failed rather than silently waiting), its latency counted from when it was due, so queueing
 * in the server shows in full.
 */
export async function runStep(
  pool: Pool,
  calls: Record<Operation, Call>,
  rate: number,
  seconds: number,
): Promise<StepResult> {
  const times = new Map<Operation, number[]>(CLINIC_MIX.map((op) => [op.operation, []]));
  const statuses = new Map<Operation, Record<string, number>>(CLINIC_MIX.map((op) => [op.operation, {}]));
  const count = (op: Operation, status: string) => {
    const s = statuses.get(op)!;
    s[status] = (s[status] ?? 0) + 1;
  };
  let deck = deckOf();
  let inFlight = 0;
  const pending: Promise<void>[] = [];
  const started = performance.now();
  const total = Math.round(rate * seconds);
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (i % deck.length === 0 && i > 0) deck = deckOf();
    const op = deck[i % deck.length]!.operation;
    if (inFlight >= MAX_IN_FLIGHT) {
      count(op, 'overload');
      continue;
    }
    const call = calls[op]();
    inFlight++;
    pending.push(
      pool
        .request({
          method: call.method as Dispatcher.HttpMethod,
          path: call.path,
          headers: call.headers,
          ...(call.body === undefined ? {} : { body: call.body }),
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        })
        .then(async (response) => {
          await response.body.arrayBuffer();
          times.get(op)!.push(performance.now() - due);
          if (response.statusCode >= 300) count(op, String(response.statusCode));
          const etag = response.headers.etag;
          call.onDone?.({
            headers: { get: () => (typeof etag === 'string' ? etag : null) },
          } as unknown as Response);
        })
        .catch(() => count(op, 'error'))
        .finally(() => {
          inFlight--;
        }),
    );
  }
  await Promise.all(pending);
  const operations = CLINIC_MIX.map((op): OperationResult => {
    const sorted = [...times.get(op.operation)!].sort((a, b) => a - b);
    const s = statuses.get(op.operation)!;
    return {
      operation: op.operation,
      write: op.write,
      offered: (rate * op.weight) / 100,
      achieved: sorted.length / seconds,
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      failures: Object.values(s).reduce((a, b) => a + b, 0),
      statuses: s,
    };
  });
  const all = [...times.values()].flat().sort((a, b) => a - b);
  return {
    offered: rate,
    achieved: all.length / seconds,
    p50: percentile(all, 0.5),
    p95: percentile(all, 0.95),
    p99: percentile(all, 0.99),
    failures: operations.reduce((n, o) => n + o.failures, 0),
    operations,
  };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as DriverConfig;
  if (!/^https?:\/\/127\.0\.0\.1:\d+$/.test(config.base))
    throw new Error('the load driver only targets 127.0.0.1');
  const targets = await findTargets(config);
  const calls = callsOf(config, targets);
  const pool = new Pool(config.base, { connections: MAX_IN_FLIGHT, pipelining: 1 });
  process.stdout.write(
    `${JSON.stringify({ targets: { patients: targets.patients.length, letters: targets.letters.length, threads: targets.threads.length } })}\n`,
  );
  await runStep(pool, calls, 50, 3); // warm-up, not reported
  for (const rate of config.rates) {
    // Said first, so that whoever watches the server can measure this step alone.
    process.stdout.write(`${JSON.stringify({ starting: rate })}\n`);
    const step = await runStep(pool, calls, rate, config.seconds);
    process.stdout.write(`${JSON.stringify({ step })}\n`);
    if (step.p95 > config.p95LimitMs) break;
  }
  await pool.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`load driver: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
