// Several OS processes committing to the same patient repository at once, and a writer killed
// with SIGKILL in the middle of a stream of commits. Every acknowledged commit must be in the
// history and the repository must be sound for the stock git CLI.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { test } from 'node:test';
import { repositoryDir } from '../src/core/record/record-layout.js';
import { RecordStore } from '../src/core/record/record-store.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import { careLocation, clinician, demographics } from './support/fixtures.js';
import { tempDir } from './support/temp-dir.js';

const WORKER = fileURLToPath(new URL('./support/commit-worker.js', import.meta.url));

interface Worker {
  readonly acks: string[];
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  kill(): void;
}

function startWorker(
  dataDir: string,
  id: string,
  name: string,
  count: number,
  onAck?: (n: number) => void,
): Worker {
  const child = spawn(process.execPath, [WORKER, dataDir, id, name, String(count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acks: string[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const [word, sha] = line.split(' ');
      if (word === 'ack' && sha !== undefined) {
        acks.push(sha);
        onAck?.(acks.length);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code, signal]) => {
    if (code !== 0 && signal !== 'SIGKILL') throw new Error(`worker ${name} failed (${code}): ${stderr}`);
    return [code, signal] as [number | null, NodeJS.Signals | null];
  });
  return { acks, exited, kill: () => child.kill('SIGKILL') };
}

async function newPatient(dataDir: string) {
  const store = new RecordStore({ dataDir });
  await store.open();
  const record = await store.createFullRecord({ demographics, author: clinician, careLocation });
  await store.close();
  return { record, dir: repositoryDir(dataDir, 'clinical', record.clinicalId) };
}

test('four processes committing to one patient at once lose nothing', async (t) => {
  const dataDir = await tempDir(t);
  const { record, dir } = await newPatient(dataDir);
  const perWorker = 25;
  const workers = ['w0', 'w1', 'w2', 'w3'].map((name) =>
    startWorker(dataDir, record.clinicalId, name, perWorker),
  );
  await Promise.all(workers.map((w) => w.exited));
  const history = new Set((await git(dir, ['rev-list', 'HEAD'])).trim().split('\n'));
  assert.equal(history.size, 1 + 4 * perWorker);
  for (const worker of workers) {
    assert.equal(worker.acks.length, perWorker);
    for (const sha of worker.acks) assert.ok(history.has(sha), `acknowledged commit ${sha} is in history`);
  }
  // History is linear: every commit has at most one parent.
  assert.equal((await git(dir, ['rev-list', '--min-parents=2', 'HEAD'])).trim(), '');
  await assertCleanAndSound(dir);
  for (const name of ['w0', 'w1', 'w2', 'w3']) {
    assert.equal(await readFile(join(dir, 'latest', `${name}.md`), 'utf8'), `${perWorker - 1}\n`);
    assert.equal((await git(dir, ['ls-files', `entries/${name}`])).trim().split('\n').length, perWorker);
  }
});

test('a writer killed with SIGKILL mid-stream keeps every acknowledged commit', async (t) => {
  const dataDir = await tempDir(t);
  const { record, dir } = await newPatient(dataDir);
  const acknowledged: string[] = [];
  for (const [round, killAfter] of [3, 11, 24].entries()) {
    const worker = startWorker(dataDir, record.clinicalId, `crash${round}`, 10_000, (n) => {
      // Kill at a slightly varying moment after the n-th acknowledgement, mid-commit.
      if (n === killAfter) setTimeout(() => worker.kill(), round);
    });
    const [, signal] = await worker.exited;
    assert.equal(signal, 'SIGKILL');
    acknowledged.push(...worker.acks);
    const history = new Set((await git(dir, ['rev-list', 'HEAD'])).trim().split('\n'));
    for (const sha of acknowledged)
      assert.ok(history.has(sha), `acknowledged commit ${sha} survived the crash`);
    // The object database is sound even before any recovery ran.
    const fsck = await git(dir, ['fsck', '--strict', '--no-dangling']);
    assert.doesNotMatch(fsck, /error|missing|broken/i);
  }
  // The next process to open the repository breaks the dead writer's lock and repairs the working tree.
  const store = new RecordStore({ dataDir });
  await store.recover('clinical', record.clinicalId);
  await assertCleanAndSound(dir);
  const after = await store.commitChange({
    kind: 'clinical',
    id: record.clinicalId,
    changes: [{ path: 'after-crash.md', content: 'still writable\n' }],
    author: clinician,
    action: 'create',
    summary: 'Written after the crashes',
    careLocation,
  });
  await store.close();
  assert.equal((await git(dir, ['rev-parse', 'HEAD'])).trim(), after.id);
  await assertCleanAndSound(dir);
});
