// Write-path benchmark of the record store against the stock git CLI and against the floor
// every durable write pays (temp file + fsync + rename + fsync of the directory). fsync is on
// everywhere. Each writer works on its own patient, as a clinical service does, at 1 and at 8
// concurrent writers. Prints a header line and Markdown tables for docs/benchmarks.md on
// stdout; progress goes to stderr. Synthetic data only.
//
// Environment:
//   VPR_BENCH_DIR          parent directory of the temp directory (default: the current
//                          directory); keep it on the filesystem the data directory would use.
//   VPR_BENCH_MAX_SECONDS  time budget of each (operation, strategy, writers) measurement,
//                          split over its rounds (default 8); the whole run takes about 10×.
//   UV_THREADPOOL_SIZE     libuv's thread pool (default 4), which every fsync occupies. It is
//                          read once, when the pool starts, so setting it from inside this file
//                          has no effect: whoever starts node (e.g. the npm script) must set it.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { formatCommitMessage } from '../src/core/commit/commit-message.js';
import { newRecordId, type RecordId } from '../src/core/ids/record-id.js';
import {
  COORDINATION_STATUS_FILE,
  renderInitialCoordinationStatus,
} from '../src/core/record/coordination-status.js';
import { EHR_STATUS_FILE, renderEhrStatus } from '../src/core/record/ehr-status.js';
import { PATIENT_FILE, renderPatient } from '../src/core/patient/fhir-patient.js';
import type { Demographics } from '../src/core/patient/demographics.js';
import { lettersOf } from './synthetic-names.js';
import { REPOSITORY_KINDS, repositoryDir, type RepositoryKind } from '../src/core/record/record-layout.js';
import { GITIGNORE, RecordStore } from '../src/core/record/record-store.js';
import { Workload, type Measurement } from './measure.js';

const execFileAsync = promisify(execFile);

const CONCURRENCIES = [1, 8] as const;
/** Time budget of one (operation, strategy, writers) measurement, split over the rounds. */
const MAX_MS = (() => {
  const seconds = Number(process.env.VPR_BENCH_MAX_SECONDS ?? '8');
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new Error('VPR_BENCH_MAX_SECONDS must be a positive number');
  return seconds * 1000;
})();
/** Strategies compared with each other are measured in interleaved rounds, not one after another. */
const ROUNDS = 3;
const TARGET_FULL_RECORD_OPS = 40;
const TARGET_VS_GIT = 4;
const TARGET_VS_FLOOR = 0.4;

/** Per-measurement bounds (over all rounds): the git CLI is slow, so it gets fewer operations. */
const BOUNDS = {
  vprFull: { warmUpOps: 20, maxOps: 450 },
  gitFull: { warmUpOps: 8, maxOps: 150 },
  vprAppend: { warmUpOps: 20, maxOps: 1_500 },
  gitAppend: { warmUpOps: 8, maxOps: 300 },
  floorAppend: { warmUpOps: 20, maxOps: 30_000 },
} as const;

type Bounds = (typeof BOUNDS)[keyof typeof BOUNDS];

const AUTHOR = {
  name: 'Dr Bench Clinician',
  email: 'bench.clinician@example.org',
  role: 'Clinician',
  registrations: [{ authority: 'GMC', number: '0000000' }],
};
const CARE_LOCATION = 'Bench Ward, Synthetic Hospital';
const NAMESPACE = 'vpr';
/** The two files an append changes, one of them in a subdirectory (as clinical notes are). */
const APPEND_PATHS = ['notes/progress.md', 'vitals.yaml'] as const;

// Git's own fsync settings (git >= 2.36). Git does not fsync directories at all.
const GIT_FSYNC = ['-c', 'core.fsync=all', '-c', 'core.fsyncMethod=fsync'];
const GIT_ENV: NodeJS.ProcessEnv = (() => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: AUTHOR.name,
    GIT_AUTHOR_EMAIL: AUTHOR.email,
    GIT_COMMITTER_NAME: AUTHOR.name,
    GIT_COMMITTER_EMAIL: AUTHOR.email,
  };
  for (const inherited of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY']) {
    delete env[inherited];
  }
  return env;
})();

async function git(cwd: string, args: readonly string[]): Promise<string> {
  const { stdout } = await execFileAsync('git', [...GIT_FSYNC, ...args], { cwd, env: GIT_ENV });
  return stdout;
}

let patientSeq = 0;
function syntheticDemographics(): Demographics {
  patientSeq++;
  return {
    given_name: 'Bench',
    family_name: `Patient${lettersOf(patientSeq, 4)}`,
    date_of_birth: '1970-01-01',
    sex_at_birth: 'unknown',
    gender_identity: 'undisclosed',
    consent_to_contact: false,
  };
}

/** Fresh content for every call (a global sequence), so no commit is ever empty. */
let appendSeq = 0;
function appendContent(writer: number, n: number): [string, string] {
  appendSeq++;
  const stamp = `writer ${writer}, entry ${n}, sequence ${appendSeq}`;
  return [
    `# Progress note\n\nSynthetic bench entry (${stamp}). Patient seen on the ward; observations stable.\n`,
    `writer: ${writer}\nentry: ${n}\nsequence: ${appendSeq}\npulse: ${60 + (n % 40)}\nsystolic: ${110 + (n % 30)}\n` +
      `diastolic: ${70 + (n % 20)}\ntemperature: 36.${n % 10}\n`,
  ];
}

// ---- VPR ---------------------------------------------------------------------------------

async function vprCreate(store: RecordStore): Promise<RecordId> {
  const record = await store.createFullRecord({
    demographics: syntheticDemographics(),
    author: AUTHOR,
    careLocation: CARE_LOCATION,
  });
  return record.clinicalId;
}

async function vprAppend(store: RecordStore, clinicalId: RecordId, writer: number, n: number) {
  const [note, vitals] = appendContent(writer, n);
  await store.commitChange({
    kind: 'clinical',
    id: clinicalId,
    changes: [
      { path: APPEND_PATHS[0], content: note },
      { path: APPEND_PATHS[1], content: vitals },
    ],
    author: AUTHOR,
    action: 'update',
    summary: `Progress note ${n}`,
    careLocation: CARE_LOCATION,
  });
}

// ---- git CLI -----------------------------------------------------------------------------

function commitMessage(kind: RepositoryKind, action: 'create' | 'update', summary: string): string {
  return formatCommitMessage({
    domain: kind,
    action,
    summary,
    author: AUTHOR,
    careLocation: CARE_LOCATION,
    trailers: [],
  });
}

/** The same three repositories and files as createFullRecord, made with init + add + commit. */
async function gitCreate(dataDir: string, template: string): Promise<string> {
  const ids = { demographics: newRecordId(), clinical: newRecordId(), coordination: newRecordId() };
  const now = new Date();
  const plan: Record<RepositoryKind, { file: string; text: string; summary: string }> = {
    demographics: {
      file: PATIENT_FILE,
      text: renderPatient(ids.demographics, syntheticDemographics(), now),
      summary: 'Created patient demographics',
    },
    clinical: {
      file: EHR_STATUS_FILE,
      text: renderEhrStatus(ids.clinical, ids.demographics, NAMESPACE),
      summary: 'Created clinical record',
    },
    coordination: {
      file: COORDINATION_STATUS_FILE,
      text: renderInitialCoordinationStatus(ids.coordination, ids.clinical),
      summary: 'Created coordination record',
    },
  };
  // The three repositories in parallel, as createFullRecord does.
  await Promise.all(
    REPOSITORY_KINDS.map(async (kind) => {
      const dir = repositoryDir(dataDir, kind, ids[kind]);
      await mkdir(dirname(dir), { recursive: true });
      await git(dataDir, ['init', '-q', '-b', 'main', `--template=${template}`, dir]);
      await writeFile(join(dir, '.gitignore'), GITIGNORE);
      await writeFile(join(dir, plan[kind].file), plan[kind].text);
      await git(dir, ['add', '-A']);
      await git(dir, ['commit', '-q', '-m', commitMessage(kind, 'create', plan[kind].summary)]);
    }),
  );
  return repositoryDir(dataDir, 'clinical', ids.clinical);
}

async function gitAppend(repo: string, writer: number, n: number): Promise<void> {
  const contents = appendContent(writer, n);
  await mkdir(join(repo, 'notes'), { recursive: true });
  await Promise.all(APPEND_PATHS.map((path, i) => writeFile(join(repo, path), contents[i]!)));
  await git(repo, ['add', '--', ...APPEND_PATHS]);
  await git(repo, ['commit', '-q', '-m', commitMessage('clinical', 'update', `Progress note ${n}`)]);
}

// ---- floor -------------------------------------------------------------------------------

/**
 * The least a durable replacement of one file can cost: temp file, fsync, rename, fsync of the
 * directory. Written here with plain node:fs calls so that it does not move with VPR's code.
 */
async function floorWrite(dir: string, writer: number, n: number): Promise<void> {
  const target = join(dir, 'vitals.yaml');
  const tmp = join(dir, `.tmp-${n}`);
  const file = await open(tmp, 'wx', 0o644);
  try {
    await file.writeFile(appendContent(writer, n)[1]);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, target);
  const directory = await open(dir, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

// ---- reporting ---------------------------------------------------------------------------

type Operation = 'full record' | 'append';
type Strategy = 'VPR' | 'git CLI' | 'floor';

interface Row extends Measurement {
  readonly operation: Operation;
  readonly strategy: Strategy;
}

const rows: Row[] = [];

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

interface Contender {
  readonly strategy: Strategy;
  readonly bounds: Bounds;
  readonly op: (writer: number, n: number) => Promise<void>;
}

/**
 * Measures the contenders for one operation at one concurrency: each is warmed up, then they
 * take turns for ROUNDS slices (the order reversed every other round), each slice getting its
 * share of the operation count and the time budget.
 */
async function compare(operation: Operation, concurrency: number, contenders: readonly Contender[]) {
  const workloads = contenders.map((c) => ({ ...c, workload: new Workload(concurrency, c.op) }));
  for (const { strategy, bounds, workload } of workloads) {
    progress(`  ${operation}, ${concurrency} writer(s), ${strategy}: warm-up (${bounds.warmUpOps} ops)`);
    await workload.warmUp(bounds.warmUpOps);
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? workloads : [...workloads].reverse();
    for (const { strategy, bounds, workload } of order) {
      const rate = await workload.slice(Math.ceil(bounds.maxOps / ROUNDS), MAX_MS / ROUNDS);
      progress(
        `  ${operation}, ${concurrency} writer(s), ${strategy}: round ${round + 1}: ${rate.toFixed(1)} ops/s`,
      );
    }
  }
  for (const { strategy, workload } of workloads) {
    const result = workload.result();
    rows.push({ operation, strategy, ...result });
    progress(
      `  ${operation}, ${concurrency} writer(s), ${strategy}: ${result.ops} ops in ${result.seconds.toFixed(1)} s, ` +
        `${result.opsPerSecond.toFixed(1)} ops/s, p50 ${result.p50Ms.toFixed(1)} ms, p95 ${result.p95Ms.toFixed(1)} ms`,
    );
  }
}

function find(operation: Operation, strategy: Strategy, concurrency: number): Row {
  const row = rows.find(
    (r) => r.operation === operation && r.strategy === strategy && r.concurrency === concurrency,
  );
  if (row === undefined) throw new Error(`no measurement for ${operation}/${strategy}/${concurrency}`);
  return row;
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const verdict = (met: boolean) => (met ? 'met' : 'NOT met');

function table(
  header: readonly string[],
  body: readonly (readonly string[])[],
  firstNumeric: number,
): string {
  const align = header.map((_, i) => (i < firstNumeric ? '---' : '---:'));
  return [header, align, ...body].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function report(header: string, gitVersion: string): void {
  const lines: string[] = [header, ''];
  lines.push(
    table(
      ['Operation', 'Strategy', 'Writers', 'Ops', 'ops/s', 'Rounds ops/s', 'p50 ms', 'p95 ms'],
      rows.map((r) => [
        r.operation,
        r.strategy,
        String(r.concurrency),
        String(r.ops),
        fixed(r.opsPerSecond),
        `${fixed(r.sliceOpsPerSecond.min, 0)}–${fixed(r.sliceOpsPerSecond.max, 0)}`,
        fixed(r.p50Ms),
        fixed(r.p95Ms),
      ]),
      2,
    ),
    '',
  );

  const ratioRows = CONCURRENCIES.map((c) => {
    const vpr = find('append', 'VPR', c).opsPerSecond;
    const vsGit = vpr / find('append', 'git CLI', c).opsPerSecond;
    const vsFloor = vpr / find('append', 'floor', c).opsPerSecond;
    const fullVsGit =
      find('full record', 'VPR', c).opsPerSecond / find('full record', 'git CLI', c).opsPerSecond;
    return [
      String(c),
      `${fixed(vsGit, 2)}× (${verdict(vsGit >= TARGET_VS_GIT)})`,
      `${fixed(vsFloor, 2)}× (${verdict(vsFloor >= TARGET_VS_FLOOR)})`,
      `${fixed(fullVsGit, 2)}×`,
    ];
  });
  lines.push(
    table(
      [
        'Writers',
        `Append: VPR / git CLI (target ≥ ${TARGET_VS_GIT}×)`,
        `Append: VPR / floor (target ≥ ${TARGET_VS_FLOOR}×)`,
        'Full record: VPR / git CLI',
      ],
      ratioRows,
      0,
    ),
    '',
  );

  const full = find('full record', 'VPR', 1).opsPerSecond;
  lines.push(
    `Full record, 1 writer: ${fixed(full)} ops/s against a target of ${TARGET_FULL_RECORD_OPS}/s ` +
      `(${verdict(full >= TARGET_FULL_RECORD_OPS)}).`,
    '',
    'Notes:',
    '',
    '- fsync is on everywhere: VPR with `durability: fsync`; git with `-c core.fsync=all ' +
      '-c core.fsyncMethod=fsync`; the floor fsyncs its file and its directory.',
    `- ${gitVersion} never fsyncs directories: neither those \`git init\` creates nor those it ` +
      'renames objects, the index and refs into. Its figures therefore pay fewer fsyncs than VPR ' +
      'and the floor, and after a power cut it can lose a commit it reported as done.',
    '- Full record: three repositories per patient, made in parallel. VPR assembles them in a ' +
      'staging area and renames them into place; the git CLI runs `git init` (empty template), ' +
      '`git add -A` and `git commit` in place in each (9 processes per patient).',
    '- Append: one commit changing two files (one in a subdirectory) of an existing clinical ' +
      'repository; git CLI is `git add` + `git commit`; the floor replaces one file durably.',
    '- Each writer has its own patient. VPR repacks a repository once it holds more than 50 ' +
      'packs (`git repack -d --geometric=2`, in the background under the write lock); that cost is in its append figures.',
    `- Strategies compared with each other ran in ${ROUNDS} interleaved rounds; "Rounds ops/s" is ` +
      'the slowest and fastest round, a guide to how much the disk drifted during the run.',
    `- libuv thread pool: UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}; ` +
      'every fsync holds one of its threads.',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ---- main --------------------------------------------------------------------------------

async function main(): Promise<void> {
  const parent = process.env.VPR_BENCH_DIR ?? process.cwd();
  const root = await mkdtemp(join(parent, '.bench-'));
  const onSignal = (signal: NodeJS.Signals) => {
    rmSync(root, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const gitVersion = (await git(root, ['--version'])).trim().replace(/^git version /, 'git ');
    const [major = 0, minor = 0] = (/(\d+)\.(\d+)/.exec(gitVersion) ?? []).slice(1).map(Number);
    if (major < 2 || (major === 2 && minor < 36)) {
      throw new Error(`${gitVersion} is too old: core.fsync needs git 2.36 or later`);
    }
    const cpuList = cpus();
    const header =
      `Node ${process.version} · ${gitVersion} · ${cpuList.length} CPUs (${cpuList[0]?.model.trim() ?? 'unknown'}) · ` +
      `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    progress(header);
    progress(`Working in ${root}`);

    const template = join(root, 'empty-template');
    const vprDir = join(root, 'vpr');
    const gitDir = join(root, 'git');
    const floorDir = join(root, 'floor');
    await Promise.all([template, vprDir, gitDir, floorDir].map((dir) => mkdir(dir)));

    const store = new RecordStore({
      dataDir: vprDir,
      namespace: NAMESPACE,
      repository: { durability: 'fsync' },
    });
    await store.open();
    try {
      // Full records. The first clinical repository each writer makes at the highest
      // concurrency becomes its patient for the append measurements.
      const most = Math.max(...CONCURRENCIES);
      const vprPatients: RecordId[] = [];
      const gitPatients: string[] = [];
      for (const c of CONCURRENCIES) {
        await compare('full record', c, [
          {
            strategy: 'VPR',
            bounds: BOUNDS.vprFull,
            op: async (writer) => {
              const id = await vprCreate(store);
              if (c === most) vprPatients[writer] ??= id;
            },
          },
          {
            strategy: 'git CLI',
            bounds: BOUNDS.gitFull,
            op: async (writer) => {
              const repo = await gitCreate(gitDir, template);
              if (c === most) gitPatients[writer] ??= repo;
            },
          },
        ]);
      }

      const floorDirs = await Promise.all(
        vprPatients.map(async (_, writer) => {
          const dir = join(floorDir, `writer-${writer}`);
          await mkdir(dir);
          return dir;
        }),
      );
      for (const c of CONCURRENCIES) {
        await compare('append', c, [
          {
            strategy: 'VPR',
            bounds: BOUNDS.vprAppend,
            op: (writer, n) => vprAppend(store, vprPatients[writer]!, writer, n),
          },
          {
            strategy: 'git CLI',
            bounds: BOUNDS.gitAppend,
            op: (writer, n) => gitAppend(gitPatients[writer]!, writer, n),
          },
          {
            strategy: 'floor',
            bounds: BOUNDS.floorAppend,
            op: (writer, n) => floorWrite(floorDirs[writer]!, writer, n),
          },
        ]);
      }
    } finally {
      await store.close();
    }
    report(header, gitVersion);
  } finally {
    await rm(root, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

await main();
