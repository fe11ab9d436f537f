// The load generator of `bench:load`, run as its own process so that it never shares an event
// loop with the server it measures: it finds its targets through the API (patients, a letter and
// a thread of each), then offers the clinic mix at fixed rates, one autocannon instance per
// operation paced at its share of the rate, stepping up until the p95 of the whole mix breaks
// the limit. Each step is printed as one JSON line on standard output. Only 127.0.0.1 is a
// target; every step is bounded in time.
//
// It drives VPR and the baseline (baseline-crud-server.ts) alike: they share the API's shape.
import autocannon from 'autocannon';
import { asRequests, type Call } from './http-load.js';
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

export interface OperationResult {
  readonly operation: string;
  readonly write: boolean;
  readonly offered: number;
  readonly achieved: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly failures: number;
  /** Non-2xx answers by status, and connection errors as `error`. */
  readonly statuses: Readonly<Record<string, number>>;
}

export interface StepResult {
  readonly offered: number;
  readonly achieved: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly failures: number;
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

async function runOperation(
  config: DriverConfig,
  operation: (typeof CLINIC_MIX)[number],
  call: Call,
  rate: number,
  seconds: number,
): Promise<{ result: OperationResult; times: number[] }> {
  const opRate = Math.max(1, (rate * operation.weight) / 100);
  const times: number[] = [];
  const statuses: Record<string, number> = {};
  // Enough connections that 250 ms of latency still leaves the rate unthrottled (open model).
  const connections = Math.min(128, Math.max(2, Math.ceil(opRate / 4)));
  const instance = autocannon({
    url: config.base,
    connections,
    overallRate: opRate,
    duration: seconds,
    timeout: 10,
    requests: asRequests(call),
  }) as unknown as NodeJS.EventEmitter & Promise<autocannon.Result>;
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    times.push(ms);
    if (status >= 300) statuses[status] = (statuses[status] ?? 0) + 1;
  });
  const outcome = await instance;
  if (outcome.errors > 0) statuses.error = outcome.errors;
  const sorted = [...times].sort((a, b) => a - b);
  return {
    times,
    result: {
      operation: operation.operation,
      write: operation.write,
      offered: opRate,
      achieved: times.length / seconds,
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      failures: outcome.non2xx + outcome.errors,
      statuses,
    },
  };
}

export async function runStep(
  config: DriverConfig,
  calls: Record<Operation, Call>,
  rate: number,
  seconds: number,
): Promise<StepResult> {
  const runs = await Promise.all(
    CLINIC_MIX.map((op) => runOperation(config, op, calls[op.operation], rate, seconds)),
  );
  const all = runs.flatMap((r) => r.times).sort((a, b) => a - b);
  return {
    offered: rate,
    achieved: all.length / seconds,
    p50: percentile(all, 0.5),
    p95: percentile(all, 0.95),
    p99: percentile(all, 0.99),
    failures: runs.reduce((n, r) => n + r.result.failures, 0),
    operations: runs.map((r) => r.result),
  };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as DriverConfig;
  if (!/^https?:\/\/127\.0\.0\.1:\d+$/.test(config.base))
    throw new Error('the load driver only targets 127.0.0.1');
  const targets = await findTargets(config);
  const calls = callsOf(config, targets);
  process.stdout.write(
    `${JSON.stringify({ targets: { patients: targets.patients.length, letters: targets.letters.length, threads: targets.threads.length } })}\n`,
  );
  await runStep(config, calls, 50, 3); // warm-up, not reported
  for (const rate of config.rates) {
    const step = await runStep(config, calls, rate, config.seconds);
    process.stdout.write(`${JSON.stringify({ step })}\n`);
    if (step.p95 > config.p95LimitMs) break;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`load driver: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
