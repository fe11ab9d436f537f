// The write lock across processes and recovery of a working tree left behind by a crash.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { isVprError } from '../src/core/errors.js';
import { parseRepoPath } from '../src/core/git/repo-path.js';
import { DEFAULT_REPOSITORY_OPTIONS, GitRepository } from '../src/core/git/repository.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import { tempDir } from './support/temp-dir.js';

const identity = { name: 'Lock Tester', email: 'locks@example.invalid' };

async function repositoryWithCommit(t: TestContext, timeoutMs = 300) {
  const dir = join(await tempDir(t), 'repo');
  const options = { ...DEFAULT_REPOSITORY_OPTIONS, writeLock: { timeoutMs, staleAfterMs: 60_000 } };
  const repository = await GitRepository.layOut(dir, options);
  await repository.syncLayout();
  t.after(() => repository.close());
  await repository.commit({
    parent: 'unborn',
    changes: [{ path: parseRepoPath('a.md'), content: Buffer.from('a\n') }],
    identity,
    message: 'clinical:create: a\n',
  });
  return repository;
}

function change(text: string) {
  return { path: parseRepoPath('a.md'), content: Buffer.from(text) };
}

test('a lock held by a live process makes a writer wait, boundedly, then REPOSITORY_BUSY', async (t) => {
  const repository = await repositoryWithCommit(t);
  // A live process on this host holds the lock for longer than the 300 ms bound.
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
  t.after(() => holder.kill());
  await writeFile(
    join(repository.gitDir, 'vpr-write.lock'),
    JSON.stringify({ host: (await import('node:os')).hostname(), pid: holder.pid }),
  );
  const started = Date.now();
  await assert.rejects(
    repository.commit({ parent: 'current', changes: [change('b\n')], identity, message: 'x\n' }),
    (e: unknown) => isVprError(e, 'REPOSITORY_BUSY'),
  );
  assert.ok(Date.now() - started < 5_000, 'the wait is bounded');
  holder.kill();
  await once(holder, 'exit');
  // Its owner is now dead: the next writer breaks the lock, recovers and commits.
  const result = await repository.commit({
    parent: 'current',
    changes: [change('c\n')],
    identity,
    message: 'y\n',
  });
  assert.equal((await git(repository.dir, ['rev-parse', 'HEAD'])).trim(), result.id);
  await assertCleanAndSound(repository.dir);
});

test('recovery rebuilds a working tree and index left behind HEAD, and removes abandoned lock files', async (t) => {
  const repository = await repositoryWithCommit(t);
  const second = await repository.commit({
    parent: 'current',
    changes: [change('second\n'), { path: parseRepoPath('dir/new.md'), content: Buffer.from('new\n') }],
    identity,
    message: 'z\n',
  });
  // What a crash between the ref update and the working-tree update looks like.
  await writeFile(join(repository.dir, 'a.md'), 'a\n');
  await rm(join(repository.dir, 'dir'), { recursive: true });
  await rm(join(repository.gitDir, 'index'));
  await writeFile(join(repository.gitDir, 'index.lock'), '');
  await writeFile(join(repository.gitDir, 'refs/heads/main.lock'), '');
  await writeFile(join(repository.gitDir, 'objects/pack/tmp_pack_abandoned'), 'partial');
  assert.notEqual(await git(repository.dir, ['status', '--porcelain']), '');
  await repository.recover();
  await assertCleanAndSound(repository.dir);
  assert.equal((await git(repository.dir, ['rev-parse', 'HEAD'])).trim(), second.id);
  assert.equal(await readFile(join(repository.dir, 'a.md'), 'utf8'), 'second\n');
  assert.equal(await readFile(join(repository.dir, 'dir/new.md'), 'utf8'), 'new\n');
  await assert.rejects(readFile(join(repository.gitDir, 'objects/pack/tmp_pack_abandoned')), {
    code: 'ENOENT',
  });
});
