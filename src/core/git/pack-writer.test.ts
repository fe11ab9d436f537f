// Tests for pack-writer: packs we build must be accepted by the stock git CLI exactly as if git
// had written them (verify-pack, fsck --strict, cat-file, and a byte-identical index-pack .idx).
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashObject } from './git-object.js';
import type { HashedObject, ObjectId } from './git-object.js';
import { buildPack, buildPackIndex } from './pack-writer.js';

/** The environment for git: no user or system configuration, nothing inherited from an outer repo. */
const GIT_ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GIT_'))),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  LC_ALL: 'C',
};

function git(cwd: string, args: readonly string[], input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      args,
      { cwd, env: GIT_ENV, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`git ${args.join(' ')} failed: ${stderr.toString()}`, { cause: error }));
        else resolve(stdout);
      },
    );
    child.stdin?.end(input);
  });
}

function blob(content: string | Buffer): HashedObject {
  return hashObject({ type: 'blob', body: Buffer.isBuffer(content) ? content : Buffer.from(content) });
}

interface TreeEntry {
  readonly mode: '100644' | '100755' | '40000';
  readonly name: string;
  readonly id: ObjectId;
}

/** Git orders tree entries by name, comparing a subtree's name as if it ended in '/'. */
function tree(entries: readonly TreeEntry[]): HashedObject {
  const sortKey = (entry: TreeEntry): Buffer =>
    Buffer.from(entry.mode === '40000' ? `${entry.name}/` : entry.name);
  const sorted = [...entries].sort((a, b) => Buffer.compare(sortKey(a), sortKey(b)));
  const body = Buffer.concat(
    sorted.map((entry) =>
      Buffer.concat([Buffer.from(`${entry.mode} ${entry.name}\0`), Buffer.from(entry.id, 'hex')]),
    ),
  );
  return hashObject({ type: 'tree', body });
}

function commit(treeId: ObjectId, message: string): HashedObject {
  const person = 'A <a@example.invalid> 1700000000 +0000';
  const body = `tree ${treeId}\nauthor ${person}\ncommitter ${person}\n\n${message}\n`;
  return hashObject({ type: 'commit', body: Buffer.from(body) });
}

/** A small history: nested trees, names that exercise git's sort rule, empty, binary and large blobs. */
function sampleObjects(): { objects: HashedObject[]; head: HashedObject } {
  const hello = blob('hello\n');
  const empty = blob('');
  const binary = blob(randomBytes(4096));
  const large = blob('line of clinical text\n'.repeat(10_000));
  const script = blob('#!/bin/sh\necho hi\n');
  const many = Array.from({ length: 300 }, (_, n) => blob(`entry ${n}\n`));
  const manyTree = tree(many.map((item, n) => ({ mode: '100644', name: `e${n}.txt`, id: item.id })));
  const nested = tree([{ mode: '100644', name: 'note.md', id: hello.id }]);
  const root = tree([
    { mode: '40000', name: 'foo', id: nested.id },
    { mode: '100644', name: 'foo.txt', id: hello.id },
    { mode: '100644', name: 'foo-bar', id: hello.id },
    { mode: '100644', name: 'empty', id: empty.id },
    { mode: '100644', name: 'bin.dat', id: binary.id },
    { mode: '100644', name: 'big.txt', id: large.id },
    { mode: '100755', name: 'run.sh', id: script.id },
    { mode: '40000', name: 'many', id: manyTree.id },
  ]);
  const head = commit(root.id, 'first entry');
  const objects = [head, root, nested, manyTree, hello, hello, empty, binary, large, script, ...many];
  return { objects, head };
}

describe('buildPack', () => {
  let dir = '';

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vpr-pack-writer-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function installPack(objects: readonly HashedObject[], head: ObjectId): Promise<string> {
    await git(dir, ['init', '-q']);
    const built = buildPack(objects);
    const base = join(dir, '.git', 'objects', 'pack', `pack-${built.checksum}`);
    await mkdir(join(dir, '.git', 'objects', 'pack'), { recursive: true });
    await writeFile(`${base}.pack`, built.pack);
    await writeFile(`${base}.idx`, built.index);
    await git(dir, ['update-ref', 'refs/heads/main', head]);
    await git(dir, ['symbolic-ref', 'HEAD', 'refs/heads/main']);
    return base;
  }

  it('writes a pack that git verify-pack, fsck --strict and cat-file accept', async () => {
    const { objects, head } = sampleObjects();
    const base = await installPack(objects, head.id);
    const unique = new Map(objects.map((object) => [object.id, object]));

    const listing = (await git(dir, ['verify-pack', '-v', `${base}.idx`])).toString();
    const listed = new Map<string, string[]>();
    for (const line of listing.split('\n')) {
      const fields = line.split(/\s+/);
      if (fields[0] !== undefined && /^[0-9a-f]{40}$/.test(fields[0])) listed.set(fields[0], fields);
    }
    assert.equal(listed.size, unique.size);
    for (const object of unique.values()) {
      const fields = listed.get(object.id);
      assert.ok(fields, `verify-pack lists ${object.id}`);
      assert.equal(fields[1], object.type);
      assert.equal(Number(fields[2]), object.body.length);
      assert.equal(fields.length, 5, 'no entry is a delta');
    }

    await git(dir, ['fsck', '--strict', '--no-dangling']);

    for (const object of unique.values()) {
      assert.equal((await git(dir, ['cat-file', '-t', object.id])).toString(), `${object.type}\n`);
      assert.deepEqual(await git(dir, ['cat-file', object.type, object.id]), object.body);
      if (object.type !== 'tree')
        assert.deepEqual(await git(dir, ['cat-file', '-p', object.id]), object.body);
    }
    assert.equal(
      (await git(dir, ['rev-parse', 'HEAD^{tree}'])).toString().trim(),
      head.body.toString().slice(5, 45),
    );
  });

  it('produces the same .idx that git index-pack derives from the pack', async () => {
    const { objects, head } = sampleObjects();
    const base = await installPack(objects, head.id);
    const gitIndex = join(dir, 'git-made.idx');
    const output = await git(dir, ['index-pack', '-o', gitIndex, `${base}.pack`]);
    assert.deepEqual(await readFile(gitIndex), await readFile(`${base}.idx`));
    assert.equal(output.toString().trim(), base.slice(base.lastIndexOf('pack-') + 5));
  });

  it('includes a duplicated object once and names the pack by its SHA-1 trailer', () => {
    const one = blob('one\n');
    const two = blob('two\n');
    const built = buildPack([one, two, one, two, one]);
    assert.deepEqual(built.pack.subarray(0, 4), Buffer.from('PACK'));
    assert.equal(built.pack.readUInt32BE(4), 2);
    assert.equal(built.pack.readUInt32BE(8), 2);
    assert.equal(built.checksum, built.pack.subarray(-20).toString('hex'));
    assert.match(built.checksum, /^[0-9a-f]{40}$/);
    assert.equal(built.index.readUInt32BE(8 + 255 * 4), 2);
  });

  it('rejects an empty list of objects', () => {
    assert.throws(() => buildPack([]), /no objects/);
  });

  it('records offsets of 2^31 and above in the large-offset table, as git show-index reads them', async () => {
    await git(dir, ['init', '-q']);
    const entries = [
      { id: blob('a').id, offset: 12, crc32: 0x01020304 },
      { id: blob('b').id, offset: 2 ** 31 - 1, crc32: 0xfffffffe },
      { id: blob('c').id, offset: 2 ** 31, crc32: 7 },
      { id: blob('d').id, offset: 2 ** 33 + 5, crc32: 0 },
    ];
    const index = buildPackIndex(entries, Buffer.alloc(20, 0xab));
    assert.equal(index.length, 8 + 1024 + entries.length * 28 + 2 * 8 + 40);
    const shown = (await git(dir, ['show-index'], index)).toString().trim().split('\n');
    const parsed = new Map(shown.map((line) => line.split(' ')).map((fields) => [fields[1], fields]));
    for (const entry of entries) {
      const fields = parsed.get(entry.id);
      assert.ok(fields, `show-index lists ${entry.id}`);
      assert.equal(Number(fields[0]), entry.offset);
      assert.equal(fields[2], `(${entry.crc32.toString(16).padStart(8, '0')})`);
    }
  });
});
