// Tests for the Git index codec, checked against the stock git CLI in throwaway repositories:
// git must read what we write as a clean index, and we must read what git writes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { ObjectId } from './git-object.js';
import { ZERO_STAT, decodeIndex, encodeIndex, indexStatFrom } from './index-file.js';
import type { IndexEntry, IndexStat } from './index-file.js';

const execFileAsync = promisify(execFile);

// Git run in isolation: no system or global configuration, and no GIT_* variables inherited from
// whatever is running the tests (a hook, say).
const GIT_ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GIT_'))),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: os.devNull,
  LC_ALL: 'C',
};
const IDENTITY = ['-c', 'user.name=VPR Test', '-c', 'user.email=vpr-test@example.invalid'];

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('git', [...IDENTITY, ...args], {
    cwd,
    env: GIT_ENV,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/** The exit status of a git command that signals its answer that way (diff --quiet, merge). */
async function gitExitCode(cwd: string, ...args: string[]): Promise<number> {
  try {
    await git(cwd, ...args);
    return 0;
  } catch (error) {
    if (error instanceof Error && 'code' in error && typeof error.code === 'number') return error.code;
    throw error;
  }
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vpr-index-test-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writeFiles(dir: string, files: Readonly<Record<string, string>>): Promise<void> {
  for (const [relative, content] of Object.entries(files)) {
    const full = path.join(dir, relative);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, content);
  }
}

const FILES: Readonly<Record<string, string>> = {
  'README.md': '# Patient record\n',
  'empty.txt': '',
  'notes/2024/visit-01.md': 'Seen in clinic.\n',
  'notes/2024/visit-02.md': 'Seen again.\n',
  'notes/a-b.txt': 'hyphen\n',
  'notes/a.b': 'dot\n',
  'notes/a/b.txt': 'nested\n',
  'notes/a0': 'zero\n',
  'données/résumé.txt': 'non-ASCII path\n',
};

/** A committed repository holding nested files, an executable, a symlink and a non-ASCII path. */
async function makeRepo(dir: string): Promise<void> {
  await git(dir, 'init', '-q', '--initial-branch=main');
  await writeFiles(dir, FILES);
  await writeFiles(dir, { 'bin/run.sh': '#!/bin/sh\necho hello\n' });
  await chmod(path.join(dir, 'bin/run.sh'), 0o755);
  await symlink('notes/2024/visit-02.md', path.join(dir, 'latest'));
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', 'initial');
}

interface StagedEntry {
  readonly path: string;
  readonly id: string;
  readonly mode: number;
}

/** `git ls-files --stage`, in git's order. */
async function lsFilesStage(dir: string): Promise<StagedEntry[]> {
  const output = await git(dir, 'ls-files', '--stage', '-z');
  return output
    .split('\0')
    .filter((record) => record !== '')
    .map((record) => {
      const match = /^([0-7]+) ([0-9a-f]{40}) 0\t(.+)$/s.exec(record);
      assert.ok(match, `unexpected ls-files record ${JSON.stringify(record)}`);
      const [, mode = '', id = '', file = ''] = match;
      return { path: file, id, mode: Number.parseInt(mode, 8) };
    });
}

function staged(entries: readonly IndexEntry[]): StagedEntry[] {
  return entries.map(({ path: file, id, mode }) => ({ path: file, id, mode }));
}

function indexPath(dir: string): string {
  return path.join(dir, '.git', 'index');
}

async function readIndex(dir: string): Promise<Buffer> {
  return readFile(indexPath(dir));
}

/** The header and entries of an index file: everything before its extensions and checksum. */
function entriesRegion(ourIndex: Buffer): Buffer {
  return ourIndex.subarray(0, ourIndex.length - 20);
}

async function assertGitSeesCleanTree(dir: string): Promise<void> {
  assert.equal(await git(dir, 'status', '--porcelain'), '');
  assert.equal(await gitExitCode(dir, 'diff', '--cached', '--quiet'), 0);
}

describe('decodeIndex reads what git writes', () => {
  test('a version-2 index matches git ls-files --stage, byte for byte in its entries', async () => {
    await withTempDir(async (dir) => {
      await makeRepo(dir);
      const raw = await readIndex(dir);
      assert.equal(raw.readUInt32BE(4), 2);
      const entries = decodeIndex(raw);
      assert.deepEqual(staged(entries), await lsFilesStage(dir));
      assert.deepEqual(
        entries.filter((entry) => entry.mode !== 0o100644).map(({ path: file, mode }) => [file, mode]),
        [
          ['bin/run.sh', 0o100755],
          ['latest', 0o120000],
        ],
      );

      const readme = entries.find((entry) => entry.path === 'README.md');
      assert.ok(readme);
      assert.deepEqual(
        readme.stat,
        indexStatFrom(await lstat(path.join(dir, 'README.md'), { bigint: true })),
      );

      // Re-encoding what git wrote reproduces git's header and entries exactly.
      const ours = encodeIndex(entries);
      assert.deepEqual(entriesRegion(ours), raw.subarray(0, ours.length - 20));
    });
  });

  test('extensions added by git status are skipped', async () => {
    await withTempDir(async (dir) => {
      await makeRepo(dir);
      await writeFiles(dir, { 'untracked.txt': 'not added\n' });
      await git(
        dir,
        '-c',
        'core.untrackedCache=true',
        '-c',
        'index.recordEndOfIndexEntries=true',
        'status',
        '--porcelain',
      );
      const raw = await readIndex(dir);
      const afterEntries = raw.subarray(entriesRegion(encodeIndex(decodeIndex(raw))).length);
      for (const signature of ['TREE', 'UNTR', 'EOIE']) {
        assert.ok(afterEntries.includes(signature), `git should have written a ${signature} extension`);
      }
      assert.deepEqual(staged(decodeIndex(raw)), await lsFilesStage(dir));
    });
  });

  test('a version-4 (prefix-compressed) index matches git ls-files --stage', async () => {
    await withTempDir(async (dir) => {
      await makeRepo(dir);
      await git(dir, 'update-index', '--index-version', '4');
      const raw = await readIndex(dir);
      assert.equal(raw.readUInt32BE(4), 4);
      assert.deepEqual(staged(decodeIndex(raw)), await lsFilesStage(dir));
    });
  });

  test('a version-3 index with extended flags matches git ls-files --stage', async () => {
    await withTempDir(async (dir) => {
      await makeRepo(dir);
      // Git writes version 3 only while some entry needs extended flags, such as skip-worktree.
      await git(dir, 'update-index', '--skip-worktree', 'notes/a.b');
      const raw = await readIndex(dir);
      assert.equal(raw.readUInt32BE(4), 3);
      assert.throws(() => decodeIndex(raw), /entry \d+ of \d+ is marked skip-worktree/);

      // Clear the skip-worktree bit but keep the extended layout git wrote, then reseal.
      const skip = raw.indexOf('notes/a.b\0', 12, 'latin1');
      assert.equal(raw.readUInt16BE(skip - 4) & 0x4000, 0x4000, 'the entry should carry extended flags');
      assert.equal(raw.readUInt16BE(skip - 2), 0x4000, 'the extended flags should be skip-worktree alone');
      const cleared = Buffer.from(raw);
      cleared.writeUInt16BE(0, skip - 2);
      createHash('sha1')
        .update(cleared.subarray(0, cleared.length - 20))
        .digest()
        .copy(cleared, cleared.length - 20);
      assert.deepEqual(staged(decodeIndex(cleared)), await lsFilesStage(dir));
    });
  });

  test('merge conflict stages are refused', async () => {
    await withTempDir(async (dir) => {
      await git(dir, 'init', '-q', '--initial-branch=main');
      await writeFiles(dir, { 'plan.md': 'base\n' });
      await git(dir, 'add', '-A');
      await git(dir, 'commit', '-q', '-m', 'base');
      await git(dir, 'checkout', '-q', '-b', 'other');
      await writeFiles(dir, { 'plan.md': 'other\n' });
      await git(dir, 'commit', '-q', '-am', 'other');
      await git(dir, 'checkout', '-q', 'main');
      await writeFiles(dir, { 'plan.md': 'main\n' });
      await git(dir, 'commit', '-q', '-am', 'main');
      assert.notEqual(await gitExitCode(dir, 'merge', '-q', 'other'), 0);
      const raw = await readIndex(dir);
      assert.throws(() => decodeIndex(raw), /conflict stage/);
    });
  });

  test('intent-to-add entries are refused', async () => {
    await withTempDir(async (dir) => {
      await makeRepo(dir);
      await writeFiles(dir, { 'new.txt': 'new\n' });
      await git(dir, 'add', '--intent-to-add', 'new.txt');
      const withIntentToAdd = await readIndex(dir);
      assert.throws(() => decodeIndex(withIntentToAdd), /intent-to-add/);
    });
  });

  test('a split index is refused rather than read in part', async () => {
    await withTempDir(async (dir) => {
      await makeRepo(dir);
      await git(dir, 'update-index', '--split-index');
      await writeFiles(dir, { 'README.md': '# Changed\n' });
      await git(dir, 'add', 'README.md');
      const raw = await readIndex(dir);
      assert.throws(() => decodeIndex(raw), /split index/);
    });
  });
});

describe('encodeIndex writes what git reads', () => {
  async function rewriteIndex(dir: string, stat: (file: string) => Promise<IndexStat>): Promise<void> {
    const expected = await lsFilesStage(dir);
    await unlink(indexPath(dir));
    const entries: IndexEntry[] = [];
    for (const { path: file, id, mode } of [...expected].reverse()) {
      entries.push({ path: file, id: id as ObjectId, mode, stat: await stat(file) });
    }
    await writeFile(indexPath(dir), encodeIndex(entries));
    assert.deepEqual(await lsFilesStage(dir), expected);
  }

  test('with real stat data git trusts the index without re-reading files', async () => {
    await withTempDir(async (dir) => {
      await makeRepo(dir);
      await rewriteIndex(dir, async (file) =>
        indexStatFrom(await lstat(path.join(dir, file), { bigint: true })),
      );
      // diff-files does not refresh the index: it exits 0 only if every cached stat matches.
      assert.equal(await gitExitCode(dir, 'diff-files', '--quiet'), 0);
      await assertGitSeesCleanTree(dir);
    });
  });

  test('with ZERO_STAT git re-hashes the files and still finds the tree clean', async () => {
    await withTempDir(async (dir) => {
      await makeRepo(dir);
      await rewriteIndex(dir, async () => ZERO_STAT);
      await assertGitSeesCleanTree(dir);
    });
  });

  test("entries are sorted into git's order (a-b, a.b, a/b, a0)", async () => {
    await withTempDir(async (dir) => {
      await git(dir, 'init', '-q', '--initial-branch=main');
      await writeFiles(dir, {
        a0: '0\n',
        'a/b': 'slash\n',
        'a.b': 'dot\n',
        'a-b': 'hyphen\n',
        'a~': 'tilde\n',
        'a b': 'space\n',
        A: 'upper\n',
        é: 'non-ASCII\n',
      });
      await git(dir, 'add', '-A');
      await git(dir, 'commit', '-q', '-m', 'order');
      const raw = await readIndex(dir);
      const gitOrder = (await lsFilesStage(dir)).map((entry) => entry.path);
      assert.deepEqual(gitOrder, ['A', 'a b', 'a-b', 'a.b', 'a/b', 'a0', 'a~', 'é']);

      const shuffled = [...decodeIndex(raw)].sort((a, b) => (a.id < b.id ? -1 : 1));
      const ours = encodeIndex(shuffled);
      assert.deepEqual(
        decodeIndex(ours).map((entry) => entry.path),
        gitOrder,
      );
      assert.deepEqual(entriesRegion(ours), raw.subarray(0, ours.length - 20));

      await writeFile(indexPath(dir), ours);
      assert.deepEqual(
        (await lsFilesStage(dir)).map((entry) => entry.path),
        gitOrder,
      );
      await assertGitSeesCleanTree(dir);
    });
  });
});

describe('encodeIndex and decodeIndex', () => {
  const stat = (n: number): IndexStat => ({
    ctimeSec: 1_700_000_000 + n,
    ctimeNsec: 123_456_789,
    mtimeSec: 1_700_000_100 + n,
    mtimeNsec: 987_654_321,
    dev: 0xffff_ffff,
    ino: 4242 + n,
    uid: 1000,
    gid: 0,
    size: n * 10,
  });
  const id = (n: number): ObjectId => n.toString(16).padStart(40, '0') as ObjectId;
  const longPath = `${Array.from({ length: 25 }, (_, i) => `dir-${i}-${'x'.repeat(200)}`).join('/')}/file.md`;
  const sample: IndexEntry[] = [
    { path: 'notes/visit.md', id: id(1), mode: 0o100644, stat: stat(1) },
    { path: 'bin/run', id: id(2), mode: 0o100755, stat: stat(2) },
    { path: 'latest', id: id(3), mode: 0o120000, stat: ZERO_STAT },
    { path: 'vendor/module', id: id(4), mode: 0o160000, stat: stat(4) },
    { path: 'données/résumé.txt', id: id(5), mode: 0o100644, stat: stat(5) },
    { path: longPath, id: id(6), mode: 0o100644, stat: stat(6) },
  ];
  const sorted = [...sample].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));

  test('round trip, including a path longer than the 12-bit name length', () => {
    assert.ok(Buffer.byteLength(longPath) > 0xfff);
    const encoded = encodeIndex(sample);
    assert.equal(encoded.toString('latin1', 0, 4), 'DIRC');
    assert.equal(encoded.readUInt32BE(4), 2);
    assert.equal(encoded.readUInt32BE(8), sample.length);
    assert.deepEqual(decodeIndex(encoded), sorted);
    assert.deepEqual(encodeIndex(decodeIndex(encoded)), encoded);
    assert.deepEqual(decodeIndex(encodeIndex([])), []);
  });

  test('a damaged file is refused', () => {
    const encoded = encodeIndex(sample);
    const damaged = (change: (copy: Buffer) => void): Buffer => {
      const copy = Buffer.from(encoded);
      change(copy);
      return copy;
    };
    const flip = (b: Buffer, at: number): void => void b.writeUInt8(b.readUInt8(at) ^ 0x01, at);
    assert.throws(() => decodeIndex(damaged((b) => flip(b, b.length - 1))), /checksum/);
    assert.throws(() => decodeIndex(damaged((b) => flip(b, 100))), /checksum/);
    assert.throws(() => decodeIndex(encoded.subarray(0, encoded.length - 1)), /checksum/);
    assert.throws(() => decodeIndex(encoded.subarray(0, 20)), /too short/);
    assert.throws(() => decodeIndex(damaged((b) => b.write('DIRT', 0, 'latin1'))), /DIRC/);
    assert.throws(() => decodeIndex(damaged((b) => b.writeUInt32BE(5, 4))), /version 5/);
  });

  test('structural damage behind a valid checksum is refused', () => {
    const twoEntries = encodeIndex([
      { path: 'a.md', id: id(1), mode: 0o100644, stat: ZERO_STAT },
      { path: 'b.md', id: id(2), mode: 0o100644, stat: ZERO_STAT },
    ]);
    const first = 12; // the first entry follows the 12-byte header
    /** A copy of twoEntries, changed and then resealed with a fresh checksum. */
    const altered = (change: (body: Buffer) => Buffer | void): Buffer => {
      const copy = Buffer.from(twoEntries.subarray(0, twoEntries.length - 20));
      const body = change(copy) ?? copy;
      return Buffer.concat([body, createHash('sha1').update(body).digest()]);
    };
    const extension = (signature: string, size: number, content = Buffer.alloc(0)): Buffer => {
      const header = Buffer.alloc(8);
      header.write(signature, 0, 'latin1');
      header.writeUInt32BE(size, 4);
      return Buffer.concat([header, content]);
    };

    assert.equal(decodeIndex(altered(() => undefined)).length, 2);
    assert.throws(
      () => decodeIndex(altered((b) => void b.writeUInt16BE(0x1004, first + 60))),
      /conflict stage 1/,
    );
    assert.throws(
      () => decodeIndex(altered((b) => void b.writeUInt16BE(0x4004, first + 60))),
      /extended flags/,
    );
    assert.throws(
      () => decodeIndex(altered((b) => void b.writeUInt16BE(0x0003, first + 60))),
      /unterminated/,
    );
    assert.throws(
      () => decodeIndex(altered((b) => void b.writeUInt32BE(0o100664, first + 24))),
      /invalid mode/,
    );
    assert.throws(() => decodeIndex(altered((b) => void b.writeUInt32BE(0o040000, first + 24))), /sparse/);
    assert.throws(() => decodeIndex(altered((b) => void b.write('c', first + 62))), /out of order/);
    assert.throws(() => decodeIndex(altered((b) => void b.write('b', first + 62))), /several stages/);
    assert.throws(() => decodeIndex(altered((b) => void b.writeUInt32BE(3, 8))), /runs past/);
    assert.throws(() => decodeIndex(altered((b) => void b.writeUInt32BE(1, 8))), /extension/);

    const withExtension = (ext: Buffer): Buffer => altered((b) => Buffer.concat([b, ext]));
    assert.equal(decodeIndex(withExtension(extension('TREE', 3, Buffer.from('abc')))).length, 2);
    assert.throws(() => decodeIndex(withExtension(extension('TREE', 4, Buffer.from('abc')))), /runs past/);
    assert.throws(() => decodeIndex(withExtension(extension('abcd', 0))), /'abcd' extension/);
    assert.throws(() => decodeIndex(withExtension(extension('sdir', 0))), /sparse index/);
    assert.throws(() => decodeIndex(withExtension(Buffer.from('TRE'))), /truncated/);
  });

  test('an all-zero trailer (index.skipHash) is accepted', () => {
    const encoded = encodeIndex(sample);
    encoded.fill(0, encoded.length - 20);
    assert.deepEqual(decodeIndex(encoded), sorted);
  });

  test('invalid entries are refused', () => {
    const entry = (file: string): IndexEntry => ({ path: file, id: id(1), mode: 0o100644, stat: ZERO_STAT });
    const invalidPaths = [
      '',
      '/abs',
      'dir/',
      'a//b',
      '.',
      './a',
      'a/./b',
      '..',
      'a/../b',
      '.git',
      '.git/config',
      'x/.GIT/y',
      'a\0b',
      'bad\ud800',
    ];
    for (const file of invalidPaths) {
      assert.throws(() => encodeIndex([entry(file)]), /path/, JSON.stringify(file));
    }
    assert.throws(() => encodeIndex([entry('a'), entry('b'), entry('a')]), /more than once/);
    assert.throws(() => encodeIndex([entry('a'), entry('a/b')]), /inside another entry/);
    assert.throws(() => encodeIndex([{ ...entry('a'), id: 'ABC' as ObjectId }]), /object id/);
    assert.throws(() => encodeIndex([{ ...entry('a'), mode: 0o100664 }]), /mode/);
    assert.throws(() => encodeIndex([{ ...entry('a'), mode: 0o040000 }]), /mode/);
    assert.throws(
      () => encodeIndex([{ ...entry('a'), stat: { ...ZERO_STAT, size: 2 ** 32 } }]),
      /stat\.size/,
    );
    assert.throws(() => encodeIndex([{ ...entry('a'), stat: { ...ZERO_STAT, ino: -1 } }]), /stat\.ino/);
    assert.throws(
      () => encodeIndex([{ ...entry('a'), stat: { ...ZERO_STAT, mtimeNsec: 0.5 } }]),
      /stat\.mtimeNsec/,
    );
    // Sibling names that merely share a prefix are not a clash.
    assert.doesNotThrow(() => encodeIndex([entry('a'), entry('a-b/c'), entry('ab/c')]));
  });
});

describe('indexStatFrom', () => {
  test('truncates to 32 bits as git does', () => {
    const fake = {
      ctimeNs: 5_000_000_001n,
      mtimeNs: -1_500_000_000n,
      dev: 2n ** 40n + 5n,
      ino: 2n ** 33n + 7n,
      uid: 1000n,
      gid: 2n ** 32n,
      size: 2n ** 32n + 9n,
    } as unknown as BigIntStats;
    assert.deepEqual(indexStatFrom(fake), {
      ctimeSec: 5,
      ctimeNsec: 1,
      mtimeSec: 0xffff_fffe,
      mtimeNsec: 500_000_000,
      dev: 5,
      ino: 7,
      uid: 1000,
      gid: 0,
      size: 9,
    });
    const hugeMultiple = { ...fake, size: 2n ** 33n } as unknown as BigIntStats;
    assert.equal(indexStatFrom(hugeMultiple).size, 0x8000_0000);
  });

  test('number-valued Stats agree with bigint Stats to within a microsecond', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'f.txt');
      await writeFile(file, 'content\n');
      const precise = indexStatFrom(await lstat(file, { bigint: true }));
      const rough = indexStatFrom(await lstat(file));
      assert.deepEqual({ ...rough, ctimeNsec: 0, mtimeNsec: 0 }, { ...precise, ctimeNsec: 0, mtimeNsec: 0 });
      assert.ok(Math.abs(rough.mtimeNsec - precise.mtimeNsec) < 1000);
      assert.ok(Math.abs(rough.ctimeNsec - precise.ctimeNsec) < 1000);
    });
  });
});
