// `vpr generate`: a synthetic population written through the service (local data directory or
// a server), deterministic for a seed, with a progress bar. The content is in
// src/generate/population.ts, the writing in src/generate/generator.ts.
//
// Locally the work is split across worker processes (`--processes`, one per core by default),
// each writing a contiguous range of patient numbers through its own copy of the service. With
// PostgreSQL they all project into it as they write; with the embedded PGlite, which one process
// owns, each worker keeps a scratch projection in memory and this process rebuilds the real one
// from Git once they finish (`vpr reindex`, in worker threads), so Git stays the truth.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { VprError, invalidInput } from '../../core/errors.js';
import { loadConfig } from '../../config/config.js';
import {
  GenerateFailure,
  MAX_GENERATE_CONCURRENCY,
  checkGenerateOptions,
  generatePopulation,
  staffKeys,
  type GenerateOptions,
  type GenerateSummary,
} from '../../generate/generator.js';
import type { CliContext } from '../context.js';
import { reindexWithProgress } from './records.js';
import { count } from './shared.js';

/** The instant generated histories lead up to unless --as-of says otherwise (fixed, so a seed fixes the content). */
export const DEFAULT_AS_OF = '2026-11-01T00:00:00Z';
export const MAX_GENERATE_PROCESSES = 16;

interface GenerateFlags {
  patients: number;
  seed: number;
  first: number;
  concurrency: number;
  processes?: number;
  asOf: string;
  /** Set on the worker processes this command starts: report progress as JSON lines. */
  worker?: boolean;
}

interface Outcome extends GenerateSummary {
  readonly seed: number;
  readonly first: number;
  readonly processes: number;
  /** Seconds spent rebuilding the embedded projection from Git afterwards (0 if none). */
  readonly projectionSeconds: number;
}

function optionsOf(flags: GenerateFlags): Omit<GenerateOptions, 'onPatient' | 'keyOf'> {
  if (!/^\d{4}-\d\d-\d\d(T.*)?$/.test(flags.asOf))
    throw invalidInput('--as-of', 'must be a date or date-time');
  const options = {
    patients: flags.patients,
    seed: flags.seed,
    first: flags.first,
    concurrency: flags.concurrency,
    asOf: new Date(flags.asOf),
  };
  checkGenerateOptions(options);
  return options;
}

/** This process writes the patients itself (a server, one process, or a worker). */
async function writeHere(
  ctx: CliContext,
  options: ReturnType<typeof optionsOf>,
  scratch: boolean,
  onPatient: (written: number) => void,
): Promise<GenerateSummary> {
  // Locally each staff member writes with a key of their own, held in this process only;
  // against a server every write is made with the profile's key.
  const local = ctx.profile.server === undefined;
  const staff = staffKeys(options.seed);
  const api = await ctx.api(local ? { alsoAccept: staff.keys, scratchProjection: scratch } : {});
  return generatePopulation(api, { ...options, ...(local ? { keyOf: staff.keyOf } : {}), onPatient });
}

/** Splits the range across worker processes and waits for them all; the first failure stops the rest. */
async function writeInWorkers(
  options: ReturnType<typeof optionsOf>,
  processes: number,
  onProgress: (written: number) => void,
): Promise<GenerateSummary> {
  const started = performance.now();
  const written = new Array<number>(processes).fill(0);
  const summaries: GenerateSummary[] = [];
  const children = Array.from({ length: processes }, (_, i) => {
    const from = options.first + Math.floor((options.patients * i) / processes);
    const to = options.first + Math.floor((options.patients * (i + 1)) / processes);
    return { from, to };
  }).filter((range) => range.to > range.from);
  const running = children.map(({ from, to }, i) => {
    const child = spawn(
      process.execPath,
      [
        process.argv[1]!,
        'generate',
        '--worker',
        `--patients=${to - from}`,
        `--first=${from}`,
        `--seed=${options.seed}`,
        `--concurrency=${options.concurrency}`,
        `--as-of=${options.asOf.toISOString()}`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: process.env },
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      const report = JSON.parse(line) as { written?: number; summary?: GenerateSummary };
      if (report.written !== undefined) {
        written[i] = report.written;
        onProgress(written.reduce((a, b) => a + b, 0));
      }
      if (report.summary !== undefined) summaries.push(report.summary);
    });
    const exited = new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) =>
        code === 0
          ? resolve()
          : reject(
              new VprError(
                'INTERNAL',
                `generate worker for patients ${from}–${to - 1} failed (${signal ?? code})`,
                {
                  details: { exitCode: code },
                },
              ),
            ),
      );
    });
    return { child, exited };
  });
  try {
    await Promise.all(running.map((r) => r.exited));
  } catch (error) {
    for (const { child } of running) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.allSettled(running.map((r) => r.exited));
    throw error;
  }
  return {
    patients: summaries.reduce((a, s) => a + s.patients, 0),
    writes: summaries.reduce((a, s) => a + s.writes, 0),
    seconds: (performance.now() - started) / 1000,
  };
}

export function registerGenerateCommand(program: Command, context: () => CliContext): void {
  program
    .command('generate')
    .description('write a synthetic population (no real people) through the service, every change a commit')
    .requiredOption('--patients <n>', 'how many patients', count)
    .option('--seed <s>', 'the seed: the same seed gives the same people and records', count, 1)
    .option('--first <k>', 'the number of the first patient (to add to a population of k)', count, 0)
    .option(
      '--concurrency <c>',
      `patients written at once per process (1–${MAX_GENERATE_CONCURRENCY})`,
      count,
      8,
    )
    .option(
      '--processes <p>',
      `local worker processes (1–${MAX_GENERATE_PROCESSES}; default one per core)`,
      count,
    )
    .option('--as-of <instant>', 'the histories lead up to this instant', DEFAULT_AS_OF)
    .addOption(new Option('--worker').hideHelp())
    .action(async (flags: GenerateFlags) => {
      const ctx = context();
      const options = optionsOf(flags);
      const local = ctx.profile.server === undefined;
      // With the embedded PGlite, which one process owns, workers keep a scratch projection and
      // the real one is rebuilt from Git at the end; PostgreSQL they all share.
      const embedded = local && loadConfig().databaseUrl === undefined;
      if (flags.worker === true) {
        const report = (value: object) => process.stdout.write(`${JSON.stringify(value)}\n`);
        let last = 0;
        const summary = await writeHere(ctx, options, embedded, (written) => {
          if (written - last >= 10 || written === options.patients) {
            last = written;
            report({ written });
          }
        });
        report({ summary });
        return;
      }
      const processes = local
        ? (flags.processes ?? Math.min(availableParallelism(), MAX_GENERATE_PROCESSES))
        : 1;
      if (processes < 1 || processes > MAX_GENERATE_PROCESSES)
        throw invalidInput('--processes', `must be a whole number from 1 to ${MAX_GENERATE_PROCESSES}`);
      const bar = ctx.out.progress(options.patients, 'patients');
      try {
        const summary =
          processes === 1
            ? await writeHere(ctx, options, false, (written) => bar?.update(written))
            : await writeInWorkers(options, processes, (written) => bar?.update(written));
        bar?.stop();
        let projectionSeconds = 0;
        if (embedded && processes > 1) {
          const started = performance.now();
          await reindexWithProgress(ctx);
          projectionSeconds = (performance.now() - started) / 1000;
        }
        const outcome: Outcome = {
          ...summary,
          seed: options.seed,
          first: options.first,
          processes,
          projectionSeconds,
        };
        ctx.out.answer(outcome, {
          kind: 'text',
          text: (s) =>
            `generated ${s.patients} patients (numbers ${s.first}–${s.first + s.patients - 1}, seed ${s.seed}) ` +
            `in ${s.processes} process${s.processes === 1 ? '' : 'es'}: ${s.writes} writes in ${s.seconds.toFixed(1)} s, ` +
            `${(s.patients / s.seconds).toFixed(1)} patients/s, ${(s.writes / s.seconds).toFixed(0)} writes/s` +
            (s.projectionSeconds > 0
              ? `; projection rebuilt from Git in ${s.projectionSeconds.toFixed(1)} s`
              : ''),
        });
      } catch (error) {
        bar?.stop();
        if (error instanceof GenerateFailure) {
          ctx.out.note(
            `vpr generate: stopped at patient number ${error.index}, which is partly written; every other patient written is whole`,
          );
          throw error.cause;
        }
        throw error;
      }
    });
}
