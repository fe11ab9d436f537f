// The Git engine against real repositories, checked by the stock git CLI.
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { isVprError } from '../src/core/errors.js';
import type { ObjectId } from '../src/core/git/git-object.js';
import { parseRepoPath } from '../src/core/git/repo-path.js';
import { GitRepository, DEFAULT_REPOSITORY_OPTIONS } from '../src/core/git/repository.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import { tempDir } from './support/temp-dir.js';

const identity = { name: 'Test Author', email: 'author@example.invalid' };
const p = parseRepoPath;

async function newRepository(t: TestContext, maintenancePackLimit = 0): Promise<GitRepository> {
  const dir = await tempDir(t);
  const repository = await GitRepository.layOut(join(dir, 'repo'), {
    ...DEFAULT_REPOSITORY_OPTIONS,
    maintenancePackLimit,
  });
  await repository.syncLayout();
  t.after(() => repository.close());
  return repository;
}

function change(path: string, text: string) {
  return { path: p(path), content: Buffer.from(text) };
}

test('commits build trees that git reads back, with a clean working tree after each', async (t) => {
  const repository = await newRepository(t);
  const first = await repository.commit({
    parent: 'unborn',
    changes: [change('.gitignore', 'files/\n'), change('a/b/c.yaml', 'x: 1\n'), change('top.md', '# Top\n')],
    identity,
    message: 'clinical:create: First\n',
  });
  assert.equal(first.parent, undefined);
  await assertCleanAndSound(repository.dir);
  assert.equal(await git(repository.dir, ['show', 'HEAD:a/b/c.yaml']), 'x: 1\n');
  assert.equal(await readFile(join(repository.dir, 'a/b/c.yaml'), 'utf8'), 'x: 1\n');

  const second = await repository.commit({
    parent: first.id,
    changes: [change('a/b/c.yaml', 'x: 2\n'), change('a/d.md', 'new\n'), { path: p('top.md'), remove: true }],
    identity,
    message: 'clinical:update: Second\n\nCare-Location: Somewhere\n',
    extraHeaders: [{ key: 'x-vpr-test', value: 'line one\nline two' }],
  });
  assert.equal(second.parent, first.id);
  await assertCleanAndSound(repository.dir);
  assert.equal(await git(repository.dir, ['rev-parse', 'HEAD']), `${second.id}\n`);
  assert.deepEqual((await git(repository.dir, ['ls-files'])).trim().split('\n'), [
    '.gitignore',
    'a/b/c.yaml',
    'a/d.md',
  ]);
  assert.equal(
    await git(repository.dir, ['log', '-1', '--format=%an <%ae>|%s']),
    'Test Author <author@example.invalid>|clinical:update: Second\n',
  );
  assert.match(
    await git(repository.dir, ['cat-file', 'commit', 'HEAD']),
    /^x-vpr-test line one\n line two$/m,
  );
  await assert.rejects(readFile(join(repository.dir, 'top.md')), { code: 'ENOENT' });

  assert.equal((await repository.readFile(p('a/b/c.yaml'))).toString(), 'x: 2\n');
  assert.equal((await repository.readFile(p('a/b/c.yaml'), first.id)).toString(), 'x: 1\n');
  assert.equal((await repository.readFile(p('top.md'), first.id)).toString(), '# Top\n');
  await assert.rejects(repository.readFile(p('top.md')), (e: unknown) => isVprError(e, 'NOT_FOUND'));
  await assert.rejects(repository.readFile(p('a/b')), (e: unknown) => isVprError(e, 'NOT_FOUND'));
  await assert.rejects(
    repository.readFile(p('a/b/c.yaml'), '0123456789012345678901234567890123456789' as ObjectId),
    (e: unknown) => isVprError(e, 'NOT_FOUND'),
  );

  const diff = await repository.diffFile(p('a/b/c.yaml'), first.id, second.id);
  assert.match(diff, /^-x: 1$/m);
  assert.match(diff, /^\+x: 2$/m);
  assert.match(await repository.diffFile(p('a/d.md'), first.id, second.id), /^\+new$/m);
});

test('a commit on a stale parent is refused and changes nothing', async (t) => {
  const repository = await newRepository(t);
  const first = await repository.commit({
    parent: 'unborn',
    changes: [change('f.md', '1\n')],
    identity,
    message: 'x\n',
  });
  await repository.commit({ parent: first.id, changes: [change('f.md', '2\n')], identity, message: 'y\n' });
  const before = await repository.head();
  await assert.rejects(
    repository.commit({ parent: first.id, changes: [change('f.md', 'lost\n')], identity, message: 'z\n' }),
    (e: unknown) => isVprError(e, 'VERSION_CONFLICT'),
  );
  await assert.rejects(
    repository.commit({ parent: 'unborn', changes: [change('g.md', 'g\n')], identity, message: 'z\n' }),
    (e: unknown) => isVprError(e, 'VERSION_CONFLICT'),
  );
  assert.equal(await repository.head(), before);
  assert.equal((await repository.readFile(p('f.md'))).toString(), '2\n');
  await assertCleanAndSound(repository.dir);
});

test('the ref CAS refuses when another writer moved the branch under a held lock file', async (t) => {
  const { updateRef } = await import('../src/core/git/refs.js');
  const repository = await newRepository(t);
  const first = await repository.commit({
    parent: 'unborn',
    changes: [change('f.md', '1\n')],
    identity,
    message: 'x\n',
  });
  const second = await repository.commit({
    parent: first.id,
    changes: [change('f.md', '2\n')],
    identity,
    message: 'y\n',
  });
  await assert.rejects(updateRef(repository.gitDir, first.id, first.id, 'fsync'), (e: unknown) =>
    isVprError(e, 'VERSION_CONFLICT'),
  );
  await writeFile(join(repository.gitDir, 'refs/heads/main.lock'), 'held by someone else\n');
  await assert.rejects(updateRef(repository.gitDir, first.id, second.id, 'fsync'), (e: unknown) =>
    isVprError(e, 'REPOSITORY_BUSY'),
  );
  assert.equal(await repository.head(), second.id);
});

test('bad changes leave no commit and no file', async (t) => {
  const repository = await newRepository(t);
  const first = await repository.commit({
    parent: 'unborn',
    changes: [change('a/f.md', '1\n')],
    identity,
    message: 'x\n',
  });
  const attempts = [
    [change('a', 'file where a directory is')],
    [change('a/f.md/g', 'directory where a file is')],
    [change('n.md', '1'), change('n.md', '2')],
    [{ path: p('missing.md'), remove: true as const }],
    [],
  ];
  for (const changes of attempts) {
    await assert.rejects(
      repository.commit({ parent: first.id, changes, identity, message: 'bad\n' }),
      (e: unknown) => isVprError(e),
    );
  }
  assert.equal(await repository.head(), first.id);
  await assertCleanAndSound(repository.dir);
  assert.deepEqual(await readdir(join(repository.dir, 'a')), ['f.md']);
});

test('a symlink planted in the working tree is never followed', async (t) => {
  const repository = await newRepository(t);
  const outside = join(repository.dir, '..', 'outside');
  await mkdir(outside);
  const first = await repository.commit({
    parent: 'unborn',
    changes: [change('keep.md', 'k\n')],
    identity,
    message: 'x\n',
  });
  await symlink(outside, join(repository.dir, 'letters'));
  await assert.rejects(
    repository.commit({
      parent: 'current',
      changes: [change('letters/new.md', 'secret\n')],
      identity,
      message: 'y\n',
    }),
    (e: unknown) => isVprError(e, 'UNSAFE_PATH'),
  );
  assert.deepEqual(await readdir(outside), []);
  assert.equal(await repository.head(), first.id, 'nothing was committed');
});

test('history lists commits newest first, pages with a cursor, and filters by path', async (t) => {
  const repository = await newRepository(t);
  const ids: ObjectId[] = [];
  for (let i = 0; i < 7; i++) {
    const changes = [change(i % 2 === 0 ? 'even.md' : 'odd.md', `${i}\n`)];
    ids.push(
      (await repository.commit({ parent: 'current', changes, identity, message: `clinical:update: n${i}\n` }))
        .id,
    );
  }
  const page1 = await repository.history({ limit: 3 });
  assert.deepEqual(
    page1.commits.map((c) => c.id),
    [ids[6], ids[5], ids[4]],
  );
  assert.ok(page1.next !== undefined);
  const page2 = await repository.history({ limit: 3, after: page1.next });
  assert.deepEqual(
    page2.commits.map((c) => c.id),
    [ids[3], ids[2], ids[1]],
  );
  const page3 = await repository.history({ limit: 3, after: page2.next! });
  assert.deepEqual(
    page3.commits.map((c) => c.id),
    [ids[0]],
  );
  assert.equal(page3.next, undefined);
  const odd = await repository.history({ path: p('odd.md') });
  assert.deepEqual(
    odd.commits.map((c) => c.id),
    [ids[5], ids[3], ids[1]],
  );
  assert.equal(odd.commits[0]!.message, 'clinical:update: n5\n');
  assert.equal(odd.commits[0]!.author.name, 'Test Author');
  const gitLog = (await git(repository.dir, ['log', '--format=%H', '--', 'odd.md'])).trim().split('\n');
  assert.deepEqual(
    gitLog,
    odd.commits.map((c) => c.id),
  );
});

test('reads work when git has packed the objects and refs, and commits continue on top', async (t) => {
  const repository = await newRepository(t, 3);
  for (let i = 0; i < 8; i++) {
    await repository.commit({
      parent: 'current',
      changes: [change('f.md', `version ${i}\n`.repeat(50))],
      identity,
      message: `m${i}\n`,
    });
  }
  // The pack limit of 3 made the engine repack on its own; pack the refs and add a loose object too.
  await repository.maintain();
  const packs = (await readdir(join(repository.gitDir, 'objects/pack'))).filter((n) => n.endsWith('.pack'));
  assert.equal(packs.length, 1);
  assert.match(await readFile(join(repository.gitDir, 'packed-refs'), 'utf8'), /refs\/heads\/main/);
  await assert.rejects(readFile(join(repository.gitDir, 'refs/heads/main')), { code: 'ENOENT' });
  await writeFile(join(repository.dir, 'human.md'), 'added by a person with git\n');
  await git(repository.dir, ['add', 'human.md']);
  await git(repository.dir, [
    '-c',
    'user.name=Human',
    '-c',
    'user.email=h@example.invalid',
    'commit',
    '-q',
    '-m',
    'by hand',
  ]);
  const fresh = new GitRepository(repository.dir);
  t.after(() => fresh.close());
  assert.equal((await fresh.readFile(p('f.md'))).toString(), 'version 7\n'.repeat(50));
  assert.equal((await fresh.readFile(p('human.md'))).toString(), 'added by a person with git\n');
  const history = await fresh.history({ path: p('f.md') });
  assert.equal(history.commits.length, 8);
  assert.equal(
    (await fresh.readFile(p('f.md'), history.commits[7]!.id)).toString(),
    'version 0\n'.repeat(50),
  );
  await fresh.commit({
    parent: 'current',
    changes: [change('after.md', 'after\n')],
    identity,
    message: 'after\n',
  });
  await assertCleanAndSound(fresh.dir);
  assert.equal((await git(fresh.dir, ['rev-list', '--count', 'HEAD'])).trim(), '10');
});
