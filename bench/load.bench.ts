// `npm run bench:load`: the whole system under a clinic's mix of requests, beside the baseline a
// team would otherwise build. A synthetic population is generated once with `vpr generate`
// (kept between runs under VPR_BENCH_LOAD_DIR, keyed by size and seed), then:
//   1. VPR on the embedded default (PGlite), serving that data directory;
//   2. VPR on PostgreSQL + Redis: the same Git data, its projection rebuilt by `vpr reindex`;
//   3. the baseline (baseline-crud-server.ts), loaded with the same population by `vpr generate`
//      against its API;
// each driven by load-driver.ts in a process of its own, at fixed offered rates stepping up until
// the p95 of the mix breaks 50 ms. Prints per-step and per-operation figures and the ratios,
// writes the plot to docs/benchmarks-load-<patients>.svg (and every figure to
// results-<patients>.json), and reports the server's CPU per request of each step, its peak RSS,
// and the population's size on disk per patient before and after a maintenance repack (on a
// sample).
//
// Settings: VPR_BENCH_PATIENTS (10000), VPR_BENCH_SEED (1), VPR_BENCH_STEP_SECONDS (15),
// VPR_BENCH_RATES (50,100,150,200,300,400,600,800,1000,1200,1500,2000,2500,3000), VPR_BENCH_ONLY
// (pglite|postgres|baseline, comma-separated), VPR_BENCH_LOAD_DIR (the system temp dir),
// VPR_BENCH_STOP_P95_MS (50: the ladder ends after the first step past it; set it high to run
// every rate, as comparisons of two codes at the same rates need).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { RecordStore } from '../src/core/record/record-store.js';
import { REPOSITORY_KINDS, repositoryDir } from '../src/core/record/record-layout.js';
import type { RecordId } from '../src/core/ids/record-id.js';
import { DATABASE_URL, startServer, withPostgresAndRedis, type ServerProcess } from './http-load.js';
import { latencyPlot, type PlotSeries } from './latency-plot.js';
import { CLINIC_MIX, type DriverConfig, type StepResult } from './load-driver.js';

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;
const DRIVER = new URL('./load-driver.js', import.meta.url).pathname;
const BASELINE = new URL('./baseline-crud-server.js', import.meta.url).pathname;

const PATIENTS = Number(process.env.VPR_BENCH_PATIENTS ?? 10_000);
const SEED = Number(process.env.VPR_BENCH_SEED ?? 1);
const STEP_SECONDS = Number(process.env.VPR_BENCH_STEP_SECONDS ?? 15);
const RATES = (process.env.VPR_BENCH_RATES ?? '50,100,150,200,300,400,600,800,1000,1200,1500,2000,2500,3000')
  .split(',')
  .map(Number);
const ONLY = new Set((process.env.VPR_BENCH_ONLY ?? 'pglite,postgres,baseline').split(','));
const LOAD_DIR = process.env.VPR_BENCH_LOAD_DIR ?? join(tmpdir(), 'vpr-load');
const P95_LIMIT_MS = 50;
/** The ladder stops after a step whose p95 passes this (default: the limit itself). */
const STOP_P95_MS = Number(process.env.VPR_BENCH_STOP_P95_MS ?? P95_LIMIT_MS);
const PLOT = new URL(`../../docs/benchmarks-load-${PATIENTS}.svg`, import.meta.url).pathname;
/** Every step's figures, for the record and to redraw the plot. */
const RESULTS = join(LOAD_DIR, `results-${PATIENTS}.json`);
const KEY = `bench-${randomBytes(16).toString('hex')}`;

/** A step as the driver measured it, with the CPU the server process spent on it. */
interface MeasuredStep extends StepResult {
  /**
   * The server process's CPU time (user + system, all its threads) from the step's start to its
   * last answer, per request answered: steadier from run to run than the latencies, which move
   * with the shared VM's neighbours. 0 when the process cannot be read.
   */
  readonly cpuMsPerRequest: number;
}

interface Run {
  readonly system: string;
  readonly steps: MeasuredStep[];
  readonly peakRssMb: number;
  readonly idleRssMb: number;
}

/** Runs a command to its end, its output shown; rejects on a non-zero exit. */
function run(args: readonly string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited with ${code}`)),
    );
  });
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** A figure read from the process's /proc/<pid>/<file>; 0 when the process or figure is gone. */
function procFigure(pid: number, file: 'stat' | 'status', figure: (text: string) => number): number {
  try {
    return figure(readFileSync(`/proc/${pid}/${file}`, 'utf8')) || 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) the process has used so far, in ms. */
function cpuMs(pid: number): number {
  return procFigure(pid, 'stat', (text) => {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = text.split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  });
}

function rssMb(pid: number): number {
  return procFigure(pid, 'status', (text) => Number(/VmRSS:\s+(\d+) kB/.exec(text)?.[1]) / 1024);
}

/** The population's data directory, generated (through the service, on PGlite) unless it exists. */
async function population(): Promise<string> {
  const dir = join(LOAD_DIR, `pop-${PATIENTS}-s${SEED}`);
  const marker = join(dir, '.generated.json');
  if (existsSync(marker)) {
    console.log(`population: ${dir} (generated before: ${readFileSync(marker, 'utf8').trim()})`);
    return dir;
  }
  console.log(`population: generating ${PATIENTS} patients (seed ${SEED}) into ${dir}`);
  const started = performance.now();
  await run([CLI, 'generate', `--patients=${PATIENTS}`, `--seed=${SEED}`], { VPR_DATA_DIR: dir });
  const seconds = (performance.now() - started) / 1000;
  writeFileSync(
    marker,
    `${JSON.stringify({ patients: PATIENTS, seed: SEED, seconds: Math.round(seconds), at: new Date().toISOString() })}\n`,
  );
  return dir;
}

/** Drives `base` with the ladder of rates, sampling `pid`'s RSS; answers every step. */
async function drive(system: string, base: string, pid: number | undefined): Promise<Run> {
  const config: DriverConfig = {
    base,
    key: KEY,
    rates: RATES,
    seconds: STEP_SECONDS,
    patients: Math.min(PATIENTS, 5000),
    p95LimitMs: STOP_P95_MS,
  };
  const idleRssMb = pid === undefined ? 0 : rssMb(pid);
  let peakRssMb = idleRssMb;
  const sampler = setInterval(() => {
    if (pid !== undefined) peakRssMb = Math.max(peakRssMb, rssMb(pid));
  }, 500);
  const steps: MeasuredStep[] = [];
  let stepStartCpu = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [DRIVER, JSON.stringify(config)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        const report = JSON.parse(line) as { targets?: object; starting?: number; step?: StepResult };
        if (report.targets !== undefined)
          console.log(`  ${system}: targets ${JSON.stringify(report.targets)}`);
        if (report.starting !== undefined && pid !== undefined) stepStartCpu = cpuMs(pid);
        if (report.step !== undefined) {
          const answered = report.step.achieved * STEP_SECONDS;
          const spent = pid === undefined ? 0 : cpuMs(pid) - stepStartCpu;
          const s = { ...report.step, cpuMsPerRequest: answered > 0 && spent > 0 ? spent / answered : 0 };
          steps.push(s);
          console.log(
            `  ${system} ${s.offered}/s offered: ${s.achieved.toFixed(0)}/s, p50 ${s.p50.toFixed(2)} p95 ${s.p95.toFixed(2)} p99 ${s.p99.toFixed(2)} ms, failures ${s.failures}, server CPU ${s.cpuMsPerRequest.toFixed(2)} ms/request`,
          );
        }
      });
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`the load driver exited with ${code}`)),
      );
    });
  } finally {
    clearInterval(sampler);
  }
  return { system, steps, peakRssMb, idleRssMb };
}

async function withServer<T>(server: ServerProcess, work: (server: ServerProcess) => Promise<T>): Promise<T> {
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

/** The baseline on a schema of its own, loaded with the population through its API. */
async function baselineRun(): Promise<Run> {
  const schema = `vpr_baseline_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [BASELINE], {
    env: { ...process.env, DATABASE_URL: url.toString(), BASELINE_PORT: String(port), BASELINE_API_KEY: KEY },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const base = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.startsWith('listening ')) resolve(line.slice('listening '.length));
      });
      child.on('exit', (code) => reject(new Error(`the baseline exited with ${code}`)));
    });
    console.log(`baseline: loading ${PATIENTS} patients through its API`);
    const started = performance.now();
    await run([CLI, 'generate', `--patients=${PATIENTS}`, `--seed=${SEED}`, '--concurrency=32'], {
      VPR_SERVER: base,
      VPR_API_KEY: KEY,
    });
    console.log(`baseline: loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return await drive('Baseline (PostgreSQL CRUD)', base, child.pid);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

/**
 * Bytes on disk (allocated blocks) of `dir`: its files and its directories, each of which takes a
 * block of its own (as `du` counts; a repository holds about six).
 */
async function diskBytes(dir: string): Promise<number> {
  let total = (await stat(dir)).blocks * 512;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await diskBytes(path);
    else if (entry.isFile()) total += (await stat(path)).blocks * 512;
  }
  return total;
}

/**
 * Size on disk per patient of a sample of patients, before and after the store's maintenance
 * repack — on a copy of their repositories, so the population itself stays as generated.
 */
async function repackSample(
  dir: string,
  sample: number,
): Promise<{ before: number; after: number; patients: number }> {
  const copy = await mkdtemp(join(tmpdir(), 'vpr-repack-'));
  try {
    const source = new RecordStore({ dataDir: dir });
    await source.open();
    const ids: Record<string, RecordId[]> = {};
    try {
      for (const kind of REPOSITORY_KINDS) {
        ids[kind] = [];
        for await (const id of source.listRecordIds(kind)) {
          ids[kind].push(id);
          await cp(repositoryDir(dir, kind, id), repositoryDir(copy, kind, id), { recursive: true });
          if (ids[kind].length === sample) break;
        }
      }
    } finally {
      await source.close();
    }
    const measure = async () => {
      let bytes = 0;
      for (const kind of REPOSITORY_KINDS)
        for (const id of ids[kind]!) bytes += await diskBytes(repositoryDir(copy, kind, id));
      return bytes;
    };
    const before = await measure();
    const store = new RecordStore({ dataDir: copy });
    await store.open();
    try {
      for (const kind of REPOSITORY_KINDS) for (const id of ids[kind]!) await store.maintain(kind, id);
    } finally {
      await store.close();
    }
    const after = await measure();
    return { before: before / sample, after: after / sample, patients: sample };
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

function best(runResult: Run): MeasuredStep | undefined {
  const good = runResult.steps.filter(
    (s) => s.p95 <= P95_LIMIT_MS && s.failures === 0 && s.achieved >= s.offered * 0.95,
  );
  return good.at(-1);
}

/** The highest p95 among a step's reads (or writes). */
function worstP95(step: StepResult, write: boolean): number {
  return Math.max(...step.operations.filter((o) => o.write === write).map((o) => o.p95));
}

function printRuns(runs: readonly Run[]): void {
  console.log(
    '\n| System | Offered /s | Achieved /s | p50 ms | p95 ms | p99 ms | Failures | Reads p95 | Writes p95 | Server CPU ms/request |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of runs) {
    for (const s of r.steps) {
      console.log(
        `| ${r.system} | ${s.offered} | ${s.achieved.toFixed(0)} | ${s.p50.toFixed(2)} | ${s.p95.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.failures} | ${worstP95(s, false).toFixed(2)} | ${worstP95(s, true).toFixed(2)} | ${s.cpuMsPerRequest.toFixed(2)} |`,
      );
    }
  }
  console.log(
    '\nPer operation at the highest rate each system sustained (p95 ≤ 50 ms, no failures, ≥ 95 % of the offered rate):',
  );
  console.log('| System | Offered /s | Operation | /s | p50 ms | p95 ms | p99 ms | Failures |');
  console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of runs) {
    const s = best(r);
    if (s === undefined) {
      console.log(`| ${r.system} | none | | | | | | |`);
      continue;
    }
    for (const o of s.operations) {
      console.log(
        `| ${r.system} | ${s.offered} | ${o.operation} | ${o.achieved.toFixed(0)} | ${o.p50.toFixed(2)} | ${o.p95.toFixed(2)} | ${o.p99.toFixed(2)} | ${o.failures}${Object.keys(o.statuses).length > 0 ? ` ${JSON.stringify(o.statuses)}` : ''} |`,
      );
    }
  }
  console.log('\n| System | Sustained /s | Server RSS idle MB | Server RSS peak MB |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const r of runs)
    console.log(
      `| ${r.system} | ${best(r)?.offered ?? 0} | ${r.idleRssMb.toFixed(0)} | ${r.peakRssMb.toFixed(0)} |`,
    );
}

/** VPR against the baseline, per operation, at every rate both ran: p95 ours / p95 baseline. */
function printRatios(ours: Run, baseline: Run): void {
  console.log(`\nRatios, ${ours.system} / baseline (p95; below 1 is faster than the baseline):`);
  console.log(
    `| Offered /s | ${CLINIC_MIX.map((m) => m.operation).join(' | ')} | reads (worst) | writes (worst) |`,
  );
  console.log(`| ---: | ${CLINIC_MIX.map(() => '---:').join(' | ')} | ---: | ---: |`);
  for (const s of ours.steps) {
    const b = baseline.steps.find((x) => x.offered === s.offered);
    if (b === undefined) continue;
    const ratio = (name: string) =>
      s.operations.find((o) => o.operation === name)!.p95 /
      b.operations.find((o) => o.operation === name)!.p95;
    console.log(
      `| ${s.offered} | ${CLINIC_MIX.map((m) => ratio(m.operation).toFixed(2)).join(' | ')} | ${(worstP95(s, false) / worstP95(b, false)).toFixed(2)} | ${(worstP95(s, true) / worstP95(b, true)).toFixed(2)} |`,
    );
  }
}

async function main(): Promise<void> {
  console.log(
    `bench:load — ${PATIENTS} patients, seed ${SEED}, ${STEP_SECONDS} s per step, p95 limit ${P95_LIMIT_MS} ms, ${new Date().toISOString()}`,
  );
  const dir = await population();
  const runs: Run[] = [];
  if (ONLY.has('pglite')) {
    const started = performance.now();
    runs.push(
      await withServer(await startServer(KEY, {}, dir), async (server) => {
        const after = (at: number) => `${((at - started) / 1000).toFixed(1)} s`;
        console.log(
          `VPR on PGlite: answering in ${after(server.answeredAt)}, ready (caught up with Git) in ${after(performance.now())}`,
        );
        return drive('VPR, PGlite', server.base, server.child.pid);
      }),
    );
  }
  if (ONLY.has('postgres')) {
    runs.push(
      await withPostgresAndRedis(async (env) => {
        const started = performance.now();
        await run([CLI, 'reindex'], { ...env, VPR_DATA_DIR: dir });
        console.log(
          `VPR on PostgreSQL: projection rebuilt from Git in ${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
        return withServer(await startServer(KEY, env, dir), (server) =>
          drive('VPR, PostgreSQL + Redis', server.base, server.child.pid),
        );
      }),
    );
  }
  if (ONLY.has('baseline')) runs.push(await baselineRun());
  printRuns(runs);
  const baseline = runs.find((r) => r.system.startsWith('Baseline'));
  if (baseline !== undefined) for (const r of runs) if (r !== baseline) printRatios(r, baseline);
  const colours = ['#1f77b4', '#2ca02c', '#d62728'];
  const series: PlotSeries[] = runs.map((r, i) => ({
    name: r.system,
    colour: colours[i % colours.length]!,
    points: r.steps,
  }));
  writeFileSync(
    PLOT,
    latencyPlot(
      `Clinic mix, ${PATIENTS.toLocaleString('en-GB')} patients: latency against offered load`,
      series,
    ),
  );
  console.log(`\nplot written to ${PLOT}`);
  const sample = Math.min(300, PATIENTS);
  const size = await repackSample(dir, sample);
  console.log(
    `\nsize on disk per patient (three repositories, sample of ${size.patients}): ${(size.before / 1024).toFixed(0)} KiB before repack, ${(size.after / 1024).toFixed(0)} KiB after`,
  );
  const at = new Date().toISOString();
  writeFileSync(
    RESULTS,
    `${JSON.stringify({ patients: PATIENTS, seed: SEED, stepSeconds: STEP_SECONDS, at, runs, sizePerPatient: size }, null, 2)}\n`,
  );
  console.log(`figures written to ${RESULTS}`);
}

await main();
