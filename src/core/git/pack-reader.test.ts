// Tests for pack-reader: every object of a pack that git repack deltified (OFS_DELTA and
// REF_DELTA) must read back exactly as git cat-file shows it; hand-made packs exercise external
// bases, malformed deltas, runaway chains, large offsets and corrupt index files.
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { hashObject, isObjectId } from './git-object.js';
import type { GitObject, HashedObject, ObjectId, ObjectType } from './git-object.js';
import { PackFile, type PackOpenOptions } from './pack-reader.js';
import { buildPack, buildPackIndex } from './pack-writer.js';

const GIT_ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GIT_'))),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'A',
  GIT_AUTHOR_EMAIL: 'a@example.invalid',
  GIT_COMMITTER_NAME: 'A',
  GIT_COMMITTER_EMAIL: 'a@example.invalid',
  LC_ALL: 'C',
};

function git(cwd: string, args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, env: GIT_ENV, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`git ${args.join(' ')} failed: ${stderr.toString()}`, { cause: error }));
        else resolve(stdout);
      },
    );
  });
}

/* ---------- hand-made pack entries ---------- */

const OFS_DELTA = 6;
const REF_DELTA = 7;
const TYPE_CODES: Readonly<Record<ObjectType, number>> = { commit: 1, tree: 2, blob: 3, tag: 4 };

function blob(content: string): HashedObject {
  return hashObject({ type: 'blob', body: Buffer.from(content) });
}

function entryHeader(typeCode: number, size: number): Buffer {
  const bytes = [(typeCode << 4) | (size & 0x0f)];
  for (let rest = Math.floor(size / 16); rest > 0; rest = Math.floor(rest / 128)) {
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) | 0x80;
    bytes.push(rest & 0x7f);
  }
  return Buffer.from(bytes);
}

function wholeEntry(object: GitObject): Buffer {
  return Buffer.concat([entryHeader(TYPE_CODES[object.type], object.body.length), deflateSync(object.body)]);
}

function refDeltaEntry(baseId: ObjectId, delta: Buffer): Buffer {
  return Buffer.concat([
    entryHeader(REF_DELTA, delta.length),
    Buffer.from(baseId, 'hex'),
    deflateSync(delta),
  ]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  for (let rest = value; ; rest = Math.floor(rest / 128)) {
    if (rest < 128) return Buffer.from([...bytes, rest]);
    bytes.push((rest & 0x7f) | 0x80);
  }
}

function copyOp(offset: number, size: number): Buffer {
  return Buffer.from([0x80 | 0x01 | 0x10, offset, size]);
}

function insertOp(text: string): Buffer {
  return Buffer.concat([Buffer.from([text.length]), Buffer.from(text)]);
}

function delta(baseSize: number, resultSize: number, ...ops: Buffer[]): Buffer {
  return Buffer.concat([varint(baseSize), varint(resultSize), ...ops]);
}

/** Writes raw entries back to back as `pack-test.pack` with a matching .idx; returns the pack path. */
async function writeRawPack(
  dir: string,
  entries: readonly { id: ObjectId; bytes: Buffer }[],
): Promise<string> {
  const header = Buffer.from([0x50, 0x41, 0x43, 0x4b, 0, 0, 0, 2, 0, 0, 0, entries.length]);
  const indexEntries = [];
  let offset = header.length;
  for (const entry of entries) {
    indexEntries.push({ id: entry.id, offset, crc32: crc32(entry.bytes) });
    offset += entry.bytes.length;
  }
  const body = Buffer.concat([header, ...entries.map((entry) => entry.bytes)]);
  const trailer = createHash('sha1').update(body).digest();
  const packPath = join(dir, 'pack-test.pack');
  await writeFile(packPath, Buffer.concat([body, trailer]));
  await writeFile(join(dir, 'pack-test.idx'), buildPackIndex(indexEntries, trailer));
  return packPath;
}

async function writeBuiltPack(dir: string, objects: readonly HashedObject[]): Promise<string> {
  const built = buildPack(objects);
  const packPath = join(dir, `pack-${built.checksum}.pack`);
  await writeFile(packPath, built.pack);
  await writeFile(join(dir, `pack-${built.checksum}.idx`), built.index);
  return packPath;
}

/**
 * Positional reads, with the pack opened at once or on its first read (the server's way), and
 * one read of the whole file (a bulk scan's way).
 */
const READ_MODES: readonly [string, PackOpenOptions][] = [
  ['positional reads', {}],
  ['positional reads, pack opened on first read', { lazy: true }],
  ['whole-file read', { wholeFileBytes: 1 << 30 }],
];

async function withPack<T>(
  packPath: string,
  use: (pack: PackFile) => Promise<T>,
  options: PackOpenOptions = {},
): Promise<T> {
  const pack = await PackFile.open(packPath, undefined, options);
  try {
    return await use(pack);
  } finally {
    await pack.close();
  }
}

/* ---------- a real repository, repacked by git ---------- */

/** Many versions of a few similar files, so that git repack finds plenty of deltas. */
async function createHistory(repo: string): Promise<void> {
  await git(repo, ['init', '-q']);
  const lines = Array.from(
    { length: 400 },
    (_, n) => `observation ${n}: blood pressure ${110 + (n % 40)}/70`,
  );
  for (let version = 0; version < 30; version++) {
    lines[(version * 37) % lines.length] = `amended in version ${version}`;
    lines.push(`appended in version ${version}`);
    await writeFile(join(repo, 'record.txt'), `${lines.join('\n')}\n`);
    await writeFile(join(repo, 'copy.txt'), `${lines.slice(5).join('\n')}\nversion ${version}\n`);
    await git(repo, ['add', '-A']);
    await git(repo, ['commit', '-q', '-m', `version ${version}`]);
  }
  await git(repo, ['tag', '-a', '-m', 'annotated tag', 'v1']);
}

async function onlyPack(repo: string): Promise<string> {
  const packDir = join(repo, '.git', 'objects', 'pack');
  const packs = (await readdir(packDir)).filter((name) => name.endsWith('.pack'));
  assert.equal(packs.length, 1, 'repack -a -d leaves a single pack');
  return join(packDir, packs[0] ?? '');
}

/** verify-pack -v rows for deltified entries: id, type, size, size in pack, offset, depth, base. */
async function deltaRows(packPath: string, repo: string): Promise<string[][]> {
  const listing = (await git(repo, ['verify-pack', '-v', packPath.replace(/\.pack$/, '.idx')])).toString();
  return listing
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length === 7 && isObjectId(fields[0] ?? ''));
}

async function rawTypeAt(packPath: string, offset: number): Promise<number> {
  const handle = await open(packPath, 'r');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    return ((byte[0] ?? 0) >> 4) & 0x07;
  } finally {
    await handle.close();
  }
}

/** Reads every object git knows through PackFile and compares it with `git cat-file <type> <id>`. */
async function assertEveryObjectMatchesGit(
  repo: string,
  packPath: string,
  options: PackOpenOptions,
): Promise<number> {
  const batch = (await git(repo, ['cat-file', '--batch-all-objects', '--batch-check'])).toString();
  const listed = batch
    .trim()
    .split('\n')
    .map((line) => line.split(' '));
  await withPack(
    packPath,
    async (pack) => {
      assert.deepEqual(new Set(pack.ids()), new Set(listed.map(([id]) => id)));
      for (const [id, type] of listed) {
        assert.ok(id !== undefined && isObjectId(id) && type !== undefined);
        const object = await pack.read(id);
        assert.ok(object, `PackFile reads ${id}`);
        assert.equal(object.type, type);
        assert.deepEqual(object.body, await git(repo, ['cat-file', type, id]), `body of ${type} ${id}`);
      }
    },
    options,
  );
  return listed.length;
}

describe('PackFile on packs written by git repack', () => {
  let repo = '';

  before(async () => {
    repo = await mkdtemp(join(tmpdir(), 'vpr-pack-reader-repo-'));
    await createHistory(repo);
  });

  after(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  for (const [kind, config, typeCode] of [
    ['OFS_DELTA', 'repack.useDeltaBaseOffset=true', OFS_DELTA],
    ['REF_DELTA', 'repack.useDeltaBaseOffset=false', REF_DELTA],
  ] as const) {
    it(`reads every object of a deltified pack (${kind}) exactly as git cat-file does`, async () => {
      await git(repo, ['-c', config, 'repack', '-a', '-d', '-f', '--depth=50', '--window=50']);
      const packPath = await onlyPack(repo);

      const deltas = await deltaRows(packPath, repo);
      assert.ok(deltas.length >= 20, `expected many deltas, found ${deltas.length}`);
      assert.ok(
        Math.max(...deltas.map((fields) => Number(fields[5]))) > 1,
        'some delta chains are deeper than 1',
      );
      for (const fields of deltas) assert.equal(await rawTypeAt(packPath, Number(fields[4])), typeCode);

      for (const [mode, options] of READ_MODES) {
        const count = await assertEveryObjectMatchesGit(repo, packPath, options);
        assert.ok(count > 90, `${mode}: expected the whole history, found ${count} objects`);
      }
    });
  }
});

describe('PackFile on hand-made packs', () => {
  let dir = '';

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vpr-pack-reader-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const [mode, options] of READ_MODES) {
    it(`reads back what buildPack wrote, and returns undefined for an unknown id (${mode})`, async () => {
      const objects = [
        blob(''),
        blob('first\n'),
        blob('second\n'),
        ...Array.from({ length: 50 }, (_, n) => blob(`${n}`)),
      ];
      await withPack(
        await writeBuiltPack(dir, objects),
        async (pack) => {
          assert.deepEqual(new Set(pack.ids()), new Set(objects.map((object) => object.id)));
          for (const object of objects) {
            assert.ok(pack.has(object.id));
            assert.deepEqual(await pack.read(object.id), { type: object.type, body: object.body });
          }
          const unknown = blob('not in the pack').id;
          assert.equal(pack.has(unknown), false);
          assert.equal(await pack.read(unknown), undefined);
          assert.equal(await pack.read('0'.repeat(40) as ObjectId), undefined);
          assert.equal(await pack.read('f'.repeat(40) as ObjectId), undefined);
        },
        options,
      );
    });
  }

  it('resolves a REF_DELTA whose base is in the same pack, or outside it through the resolver', async () => {
    const base = blob('The patient reports a headache.\n');
    const target = blob('The patient reports no pain.\n');
    const change = delta(base.body.length, target.body.length, copyOp(0, 20), insertOp('no pain.\n'));

    const inside = await writeRawPack(dir, [
      { id: target.id, bytes: refDeltaEntry(base.id, change) },
      { id: base.id, bytes: wholeEntry(base) },
    ]);
    await withPack(inside, async (pack) => {
      assert.deepEqual(await pack.read(target.id), { type: 'blob', body: target.body });
      assert.deepEqual(await pack.read(target.id), { type: 'blob', body: target.body });
    });

    const thin = await writeRawPack(dir, [{ id: target.id, bytes: refDeltaEntry(base.id, change) }]);
    await withPack(thin, async (pack) => {
      await assert.rejects(pack.read(target.id), /unavailable/);
    });
    const requested: ObjectId[] = [];
    const pack = await PackFile.open(thin, async (id) => {
      requested.push(id);
      return id === base.id ? base : undefined;
    });
    try {
      assert.deepEqual(await pack.read(target.id), { type: 'blob', body: target.body });
      assert.deepEqual(requested, [base.id]);
    } finally {
      await pack.close();
    }
  });

  it('rejects malformed deltas', async () => {
    const base = blob('0123456789');
    const cases: [string, Buffer, RegExp][] = [
      ['copy beyond the base', delta(10, 12, copyOp(5, 12)), /beyond its base/],
      ['wrong base size', delta(11, 3, copyOp(0, 3)), /expects a 11-byte base/],
      ['reserved opcode', delta(10, 1, Buffer.from([0])), /reserved opcode/],
      ['short result', delta(10, 5, copyOp(0, 3)), /produced 3 of 5/],
      ['overlong result', delta(10, 2, copyOp(0, 3)), /overruns/],
      ['truncated insert', delta(10, 5, Buffer.from([5, 0x41])), /truncated/],
    ];
    for (const [label, change, expected] of cases) {
      const target = blob(`target for ${label}`).id;
      const packPath = await writeRawPack(dir, [
        { id: base.id, bytes: wholeEntry(base) },
        { id: target, bytes: refDeltaEntry(base.id, change) },
      ]);
      await withPack(packPath, (pack) => assert.rejects(pack.read(target), expected, label));
    }
  });

  it('rejects a REF_DELTA cycle by bounding the chain depth', async () => {
    const first = blob('first').id;
    const second = blob('second').id;
    const change = delta(5, 5, copyOp(0, 5));
    const packPath = await writeRawPack(dir, [
      { id: first, bytes: refDeltaEntry(second, change) },
      { id: second, bytes: refDeltaEntry(first, change) },
    ]);
    await withPack(packPath, (pack) => assert.rejects(pack.read(first), /deeper than/));
  });

  it('follows the large-offset table to entries beyond 2 GiB', async () => {
    const objects = [blob('far away\n'), blob('further still\n')];
    const start = 2 ** 31 + 16;
    const bytes = objects.map(wholeEntry);
    const trailer = Buffer.alloc(20, 0x5a);
    const packPath = join(dir, 'pack-large.pack');
    const handle = await open(packPath, 'w');
    try {
      await handle.write(Buffer.from([0x50, 0x41, 0x43, 0x4b, 0, 0, 0, 2, 0, 0, 0, 2]), 0, 12, 0);
      const tail = Buffer.concat([...bytes, trailer]);
      await handle.write(tail, 0, tail.length, start); // the gap before it stays a sparse hole
    } finally {
      await handle.close();
    }
    const entries = objects.map((object, n) => ({
      id: object.id,
      offset: start + (n === 0 ? 0 : (bytes[0]?.length ?? 0)),
      crc32: crc32(bytes[n] ?? Buffer.alloc(0)),
    }));
    await writeFile(join(dir, 'pack-large.idx'), buildPackIndex(entries, trailer));
    await withPack(packPath, async (pack) => {
      for (const object of objects) {
        assert.deepEqual(await pack.read(object.id), { type: 'blob', body: object.body });
      }
    });
  });

  it('rejects a corrupt or mismatched index on open', async () => {
    const packPath = await writeBuiltPack(dir, [blob('a\n'), blob('b\n')]);
    const indexPath = packPath.replace(/\.pack$/, '.idx');
    const good = await readFile(indexPath);
    const corruptions: [string, (index: Buffer) => Buffer, RegExp][] = [
      ['bad magic', (index) => Buffer.concat([Buffer.from('XXXX'), index.subarray(4)]), /bad magic/],
      ['wrong version', (index) => withByte(index, 7, 3), /unsupported version 3/],
      ['truncated', (index) => index.subarray(0, 500), /too short/],
      ['missing entries', (index) => index.subarray(0, index.length - 8), /does not fit/],
      [
        'flipped id byte',
        (index) => withByte(index, 8 + 1024 + 3, (index[8 + 1024 + 3] ?? 0) ^ 1),
        /checksum/,
      ],
    ];
    for (const [label, corrupt, expected] of corruptions) {
      await writeFile(indexPath, corrupt(good));
      await assert.rejects(PackFile.open(packPath), expected, label);
    }
    await writeFile(indexPath, good);
    const intact = await readFile(packPath);
    await writeFile(packPath, withByte(intact, -1, 0));
    await assert.rejects(PackFile.open(packPath), /trailer does not match/);
    // Opened lazily, only the index is read at once: the pack is checked on its first read.
    const lazy = await PackFile.open(packPath, undefined, { lazy: true });
    assert.equal(lazy.has(blob('a\n').id), true);
    await assert.rejects(lazy.read(blob('a\n').id), /trailer does not match/, 'lazy, on first read');
    await lazy.close();
    await assert.rejects(
      PackFile.open(packPath, undefined, { wholeFileBytes: 1 << 20 }),
      /trailer does not match/,
      'read whole',
    );
    await rm(indexPath);
    await assert.rejects(PackFile.open(packPath), /ENOENT/);
    await assert.rejects(PackFile.open(join(dir, 'no-suffix')), /not a \.pack path/);
  });
});

function withByte(buffer: Buffer, position: number, value: number): Buffer {
  const copy = Buffer.from(buffer);
  copy[position < 0 ? copy.length + position : position] = value;
  return copy;
}
