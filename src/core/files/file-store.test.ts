// Tests for the content-addressed file store and the media-type sniffer, on real temp
// directories: round trips, deduplication, limits, refused names, discard, integrity checks on
// read, and symlinks planted in the store.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  symlink,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isVprError, type ErrorCode } from '../errors.js';
import {
  FILE_HASH_PATTERN,
  FileStore,
  fileRelativePath,
  parseFileHash,
  parseOriginalFilename,
  type StoredFile,
} from './file-store.js';
import { sniffMediaType } from './media-type.js';

const PDF_HEAD = Buffer.from(
  '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n',
  'latin1',
);
const PNG_HEAD = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6300010000050001',
  'hex',
);

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** A source that yields `data` in chunks of `chunkBytes` and records how far it was read. */
function chunked(data: Buffer, chunkBytes: number, log = { pulled: 0, stopped: false }) {
  return {
    log,
    async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
      try {
        for (let at = 0; at < data.length; at += chunkBytes) {
          log.pulled++;
          // Plain Uint8Array views as well as Buffers, as a web stream would give them.
          const slice = data.subarray(at, at + chunkBytes);
          yield log.pulled % 2 === 0 ? new Uint8Array(slice) : slice;
        }
      } finally {
        log.stopped = true;
      }
    },
  };
}

/** A source that fails the test if anything reads it. */
const untouchable: AsyncIterable<Buffer> = {
  [Symbol.asyncIterator]() {
    throw new Error('the source must not be read');
  },
};

/** Deterministic bytes with no recognisable header (SHA-256 in counter mode). */
function pseudoRandomBytes(length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * 32 < length; i++) blocks.push(createHash('sha256').update(`block ${i}`).digest());
  return Buffer.concat(blocks).subarray(0, length);
}

async function listFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  return entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name));
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function hasCode(code: ErrorCode) {
  return (error: unknown): boolean => {
    assert.ok(isVprError(error, code), `expected ${code}, got ${String(error)}`);
    return true;
  };
}

describe('FileStore', () => {
  let root: string;
  let repoDir: string;
  let store: FileStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'vpr-file-store-'));
    repoDir = join(root, 'repo');
    await mkdir(repoDir);
    store = new FileStore(repoDir, { durability: 'none', maxBytes: 8 * 1024 * 1024 });
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('stores a small text file and reads it back (with fsync on)', async () => {
    const durable = new FileStore(repoDir, { durability: 'fsync', maxBytes: 1024 });
    const text = Buffer.from('Blood results attached.\nAll within range: ✓\n', 'utf8');
    const before = Date.now();
    const stored = await durable.put(chunked(text, 7), { originalFilename: '  results.txt ' });
    assert.equal(stored.hash, sha256(text));
    assert.equal(stored.hashAlgorithm, 'sha256');
    assert.equal(stored.sizeBytes, text.length);
    assert.equal(stored.mediaType, 'text/plain');
    assert.equal(stored.originalFilename, 'results.txt');
    assert.equal(stored.created, true);
    assert.equal(
      stored.relativePath,
      `files/sha256/${stored.hash.slice(0, 2)}/${stored.hash.slice(2, 4)}/${stored.hash}`,
    );
    assert.match(stored.storedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(Date.parse(stored.storedAt) >= before - 1 && Date.parse(stored.storedAt) <= Date.now());
    assert.deepEqual(await readFile(join(repoDir, stored.relativePath)), text);
    assert.deepEqual(await durable.verify(stored.hash), { sizeBytes: text.length });
    assert.deepEqual(await collect(await durable.open(stored.hash)), text);
    assert.deepEqual(await listFiles(join(repoDir, 'files', 'tmp')), []);
  });

  it('streams a file over 4 MiB given in many small chunks', async () => {
    const data = pseudoRandomBytes(4 * 1024 * 1024 + 12_345);
    const source = chunked(data, 1_000);
    const stored = await store.put(source, { originalFilename: 'scan.bin' });
    assert.ok(source.log.pulled > 4_000);
    assert.equal(stored.hash, sha256(data));
    assert.equal(stored.sizeBytes, data.length);
    assert.equal(stored.mediaType, 'application/octet-stream');
    assert.ok((await readFile(join(repoDir, stored.relativePath))).equals(data));
    assert.ok((await collect(await store.open(stored.hash))).equals(data));
    assert.deepEqual(await store.verify(stored.hash), { sizeBytes: data.length });
  });

  it('sniffs PDF, PNG and plain text from the first bytes', async () => {
    const pdf = Buffer.concat([PDF_HEAD, pseudoRandomBytes(10_000)]);
    const png = Buffer.concat([PNG_HEAD, pseudoRandomBytes(100)]);
    assert.equal(
      (await store.put(chunked(pdf, 3), { originalFilename: 'letter.pdf' })).mediaType,
      'application/pdf',
    );
    assert.equal(
      (await store.put(chunked(png, 5), { originalFilename: 'wound.png' })).mediaType,
      'image/png',
    );
    // The media type comes from the bytes, never from the name.
    assert.equal(
      (await store.put(chunked(png, 64), { originalFilename: 'wound.txt' })).mediaType,
      'image/png',
    );
  });

  it('stores identical bytes once', async () => {
    const data = Buffer.from('the same referral letter');
    const first = await store.put(chunked(data, 4), { originalFilename: 'a.txt' });
    const second = await store.put(chunked(data, 9), { originalFilename: 'b.txt' });
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.equal(second.hash, first.hash);
    assert.equal(second.originalFilename, 'b.txt');
    assert.deepEqual(await listFiles(join(repoDir, 'files')), [join(repoDir, first.relativePath)]);
  });

  it('lets exactly one of two concurrent uploads of the same bytes create the file', async () => {
    const data = pseudoRandomBytes(300_000);
    const results = await Promise.all([
      store.put(chunked(data, 4096), { originalFilename: 'one.bin' }),
      store.put(chunked(data, 4096), { originalFilename: 'two.bin' }),
    ]);
    assert.deepEqual(results.map((r) => r.created).sort(), [false, true]);
    assert.equal((await listFiles(join(repoDir, 'files'))).length, 1);
    assert.deepEqual(await store.verify(sha256(data)), { sizeBytes: data.length });
  });

  it('refuses an upload over the limit, stops reading it and keeps nothing', async () => {
    const small = new FileStore(repoDir, { durability: 'none', maxBytes: 1_000 });
    const source = chunked(pseudoRandomBytes(10_000), 200);
    await assert.rejects(small.put(source, { originalFilename: 'big.bin' }), (error: unknown) => {
      assert.ok(isVprError(error, 'PAYLOAD_TOO_LARGE'));
      assert.equal(error.details?.['maxBytes'], 1_000);
      return true;
    });
    assert.equal(source.log.pulled, 6, 'reading stops at the chunk that crosses the limit');
    assert.equal(source.log.stopped, true, 'the source is told to stop');
    assert.deepEqual(await listFiles(join(repoDir, 'files')), []);
    // Exactly the limit is accepted.
    const exact = await small.put(chunked(pseudoRandomBytes(1_000), 200), { originalFilename: 'ok.bin' });
    assert.equal(exact.sizeBytes, 1_000);
  });

  it('refuses an empty upload and keeps nothing', async () => {
    await assert.rejects(
      store.put(chunked(Buffer.alloc(0), 10), { originalFilename: 'empty.txt' }),
      (e: unknown) => {
        assert.ok(isVprError(e, 'INVALID_INPUT'));
        assert.equal(e.details?.['field'], 'file');
        return true;
      },
    );
    const onlyEmptyChunks: AsyncIterable<Buffer> = {
      async *[Symbol.asyncIterator]() {
        yield Buffer.alloc(0);
        yield Buffer.alloc(0);
      },
    };
    await assert.rejects(
      store.put(onlyEmptyChunks, { originalFilename: 'empty.txt' }),
      hasCode('INVALID_INPUT'),
    );
    assert.deepEqual(await listFiles(join(repoDir, 'files')), []);
  });

  it('turns a source that fails part way into INVALID_INPUT and keeps nothing', async () => {
    const failing: AsyncIterable<Buffer> = {
      async *[Symbol.asyncIterator]() {
        yield Buffer.from('partial upl');
        throw new Error('connection reset');
      },
    };
    await assert.rejects(store.put(failing, { originalFilename: 'x.txt' }), (e: unknown) => {
      assert.ok(isVprError(e, 'INVALID_INPUT'));
      assert.equal((e.cause as Error).message, 'connection reset');
      return true;
    });
    assert.deepEqual(await listFiles(join(repoDir, 'files')), []);
  });

  it('refuses bad file names before reading a byte', async () => {
    const cases: [unknown, ErrorCode][] = [
      ['../etc/passwd', 'UNSAFE_PATH'],
      ['a/b', 'UNSAFE_PATH'],
      ['a\\b', 'UNSAFE_PATH'],
      ['..', 'UNSAFE_PATH'],
      ['.', 'UNSAFE_PATH'],
      ['', 'INVALID_INPUT'],
      ['   ', 'INVALID_INPUT'],
      ['x\u0000y', 'INVALID_INPUT'],
      ['x\ny', 'INVALID_INPUT'],
      ['x\u007fy', 'INVALID_INPUT'],
      ['x\u2028y', 'INVALID_INPUT'],
      ['x\ud800y', 'INVALID_INPUT'],
      ['a'.repeat(300), 'INVALID_INPUT'],
      ['é'.repeat(128), 'INVALID_INPUT'], // 256 bytes of UTF-8 in 128 characters
      [42, 'INVALID_INPUT'],
    ];
    for (const [name, code] of cases) {
      await assert.rejects(
        store.put(untouchable, { originalFilename: name as string }),
        (e: unknown) => isVprError(e, code) && e.details?.['field'] === 'filename',
        JSON.stringify(name),
      );
    }
    assert.deepEqual(await readdir(repoDir), [], 'not even files/ is made');
  });

  it('accepts ordinary names, trimmed, up to 255 bytes', () => {
    assert.equal(
      parseOriginalFilename(' Letter from Dr Ünïcode (2).pdf\t'),
      'Letter from Dr Ünïcode (2).pdf',
    );
    assert.equal(parseOriginalFilename('é'.repeat(127) + 'a'), 'é'.repeat(127) + 'a');
    assert.equal(parseOriginalFilename('.hidden'), '.hidden');
    assert.equal(parseOriginalFilename('a..b'), 'a..b');
    assert.throws(
      () => parseOriginalFilename('a/b', 'name'),
      (e: unknown) => isVprError(e) && e.details?.['field'] === 'name',
    );
  });

  it('discard removes a file put created and keeps one that was there already', async () => {
    const fresh = await store.put(chunked(Buffer.from('draft scan'), 3), { originalFilename: 'a.txt' });
    await store.discard(fresh);
    await assert.rejects(store.verify(fresh.hash), hasCode('NOT_FOUND'));
    await store.discard(fresh); // idempotent

    const kept = Buffer.from('already referenced');
    const original = await store.put(chunked(kept, 5), { originalFilename: 'b.txt' });
    const again = await store.put(chunked(kept, 5), { originalFilename: 'c.txt' });
    assert.equal(again.created, false);
    await store.discard(again);
    assert.deepEqual(await store.verify(original.hash), { sizeBytes: kept.length });
  });

  it('verify refuses a malformed hash', async () => {
    for (const bad of ['abc', 'A'.repeat(64), 'g'.repeat(64), `${'a'.repeat(64)}\n`, '../'.repeat(22)]) {
      await assert.rejects(
        store.verify(bad),
        (e: unknown) => isVprError(e, 'INVALID_INPUT') && e.details?.['field'] === 'hash',
        bad,
      );
    }
    await assert.rejects(store.open('xyz'), hasCode('INVALID_INPUT'));
  });

  it('verify reports a tampered file as corrupt and a missing one as not found', async () => {
    const stored = await store.put(chunked(Buffer.from('original bytes'), 4), { originalFilename: 'a.txt' });
    const onDisk = join(repoDir, stored.relativePath);
    await chmod(onDisk, 0o644);
    await writeFile(onDisk, 'Original bytes'); // same length, one byte changed
    await assert.rejects(store.verify(stored.hash), hasCode('CORRUPT_REPOSITORY'));
    await assert.rejects(store.open(stored.hash).then(collect), hasCode('CORRUPT_REPOSITORY'));

    await unlink(onDisk);
    await assert.rejects(store.verify(stored.hash), (e: unknown) => {
      assert.ok(isVprError(e, 'NOT_FOUND'));
      assert.equal(e.details?.['hash'], stored.hash);
      return true;
    });
    await assert.rejects(store.open(stored.hash), hasCode('NOT_FOUND'));
    // A hash never stored, whose shard directories do not exist either.
    await assert.rejects(store.verify('0'.repeat(64)), hasCode('NOT_FOUND'));
  });

  it('open fails with CORRUPT_REPOSITORY, before the last bytes, when the file changes after verify', async () => {
    const data = pseudoRandomBytes(500_000);
    const stored = await store.put(chunked(data, 65_536), { originalFilename: 'a.bin' });
    await store.verify(stored.hash);
    const onDisk = join(repoDir, stored.relativePath);
    const tampered = Buffer.from(data);
    tampered.writeUInt8(tampered.at(-1)! ^ 0xff, tampered.length - 1);
    await chmod(onDisk, 0o644);
    await writeFile(onDisk, tampered);

    const stream = await store.open(stored.hash);
    let received = 0;
    const readAll = async (): Promise<void> => {
      for await (const chunk of stream) received += (chunk as Buffer).length;
    };
    await assert.rejects(readAll(), hasCode('CORRUPT_REPOSITORY'));
    assert.ok(received < data.length, 'the stream never delivers the whole file');
    assert.equal(stream.destroyed, true);
  });

  it('a later upload of the same bytes repairs a damaged stored file', async () => {
    const data = Buffer.from('bytes that will be truncated on disk');
    const stored = await store.put(chunked(data, 8), { originalFilename: 'a.txt' });
    await truncate(join(repoDir, stored.relativePath), 5);
    await assert.rejects(store.verify(stored.hash), hasCode('CORRUPT_REPOSITORY'));
    const again = await store.put(chunked(data, 8), { originalFilename: 'a.txt' });
    assert.equal(again.created, false, 'other versions may reference it: discard must keep it');
    assert.deepEqual(await store.verify(stored.hash), { sizeBytes: data.length });
    assert.deepEqual(await listFiles(join(repoDir, 'files', 'tmp')), []);
  });

  describe('symlinks planted in the store', () => {
    const content = Buffer.from('a discharge summary');
    const hash = sha256(content);
    let outside: string;

    beforeEach(async () => {
      outside = join(root, 'outside');
      await mkdir(outside);
    });

    async function assertRefusedAndNothingOutside(): Promise<void> {
      const source = chunked(content, 4);
      await assert.rejects(store.put(source, { originalFilename: 'a.txt' }), hasCode('UNSAFE_PATH'));
      assert.deepEqual(await listFiles(outside), [], 'nothing is written through the symlink');
      assert.deepEqual(await listFiles(join(repoDir, 'files', 'tmp')), [], 'no temp file is left');
    }

    it('refuses files/ as a symlink', async () => {
      await symlink(outside, join(repoDir, 'files'));
      await assertRefusedAndNothingOutside();
      await assert.rejects(store.verify(hash), hasCode('UNSAFE_PATH'));
    });

    it('refuses files/tmp as a symlink, before reading the upload', async () => {
      await mkdir(join(repoDir, 'files'));
      await symlink(outside, join(repoDir, 'files', 'tmp'));
      await assert.rejects(store.put(untouchable, { originalFilename: 'a.txt' }), hasCode('UNSAFE_PATH'));
      await assertRefusedAndNothingOutside();
    });

    it('refuses files/sha256 as a symlink', async () => {
      await mkdir(join(repoDir, 'files'));
      await symlink(outside, join(repoDir, 'files', 'sha256'));
      await assertRefusedAndNothingOutside();
    });

    it('refuses a shard directory as a symlink, for writes and reads', async () => {
      await mkdir(join(repoDir, 'files', 'sha256', hash.slice(0, 2)), { recursive: true });
      await symlink(outside, join(repoDir, 'files', 'sha256', hash.slice(0, 2), hash.slice(2, 4)));
      await assertRefusedAndNothingOutside();
      await writeFile(join(outside, hash), content); // bytes that would verify, reached only by the symlink
      await assert.rejects(store.verify(hash), hasCode('UNSAFE_PATH'));
      await assert.rejects(store.open(hash), hasCode('UNSAFE_PATH'));
    });

    it('refuses a content file that is a symlink, for writes, reads and discard', async () => {
      const target = join(outside, 'elsewhere');
      await writeFile(target, content);
      const shard = join(repoDir, 'files', 'sha256', hash.slice(0, 2), hash.slice(2, 4));
      await mkdir(shard, { recursive: true });
      await symlink(target, join(shard, hash));
      const source = chunked(content, 4);
      await assert.rejects(store.put(source, { originalFilename: 'a.txt' }), hasCode('UNSAFE_PATH'));
      assert.deepEqual(await readFile(target), content, 'the symlink target is untouched');
      assert.deepEqual(await listFiles(join(repoDir, 'files', 'tmp')), []);
      await assert.rejects(store.verify(hash), hasCode('UNSAFE_PATH'));
      await assert.rejects(store.open(hash), hasCode('UNSAFE_PATH'));
      const planted: StoredFile = {
        hash: parseFileHash(hash),
        hashAlgorithm: 'sha256',
        relativePath: fileRelativePath(hash),
        sizeBytes: content.length,
        mediaType: 'text/plain',
        originalFilename: 'a.txt',
        storedAt: new Date().toISOString(),
        created: true,
      };
      await assert.rejects(store.discard(planted), hasCode('UNSAFE_PATH'));
      assert.deepEqual(await readFile(target), content);
    });
  });
});

describe('file hashes and paths', () => {
  it('shards the relative path by the first two bytes of the hash', () => {
    const hash = sha256(Buffer.from('x'));
    assert.match(hash, FILE_HASH_PATTERN);
    assert.equal(fileRelativePath(hash), `files/sha256/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`);
    assert.throws(() => fileRelativePath('../../etc/passwd'), hasCode('INVALID_INPUT'));
    assert.throws(() => parseFileHash(hash.toUpperCase()), hasCode('INVALID_INPUT'));
  });

  it('refuses a maxBytes that is not a positive whole number', () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new FileStore('/nowhere', { durability: 'none', maxBytes }), hasCode('INTERNAL'));
    }
  });
});

describe('sniffMediaType', () => {
  it('knows PDF and PNG by their magic numbers', async () => {
    assert.equal(await sniffMediaType(PDF_HEAD), 'application/pdf');
    assert.equal(await sniffMediaType(PNG_HEAD), 'image/png');
  });

  it('calls NUL-free valid UTF-8 text/plain and anything else application/octet-stream', async () => {
    assert.equal(
      await sniffMediaType(Buffer.from('Dear colleague,\nThank you for seeing Ms Example.')),
      'text/plain',
    );
    assert.equal(await sniffMediaType(Buffer.from('Grüße, 你好, 👋')), 'text/plain');
    assert.equal(await sniffMediaType(Buffer.from('text\0with a NUL')), 'application/octet-stream');
    assert.equal(await sniffMediaType(Buffer.from([0x61, 0xc3, 0x28, 0x62])), 'application/octet-stream');
    assert.equal(
      await sniffMediaType(Buffer.from([0x80, 0x81, 0x82, 0x83, 0x41])),
      'application/octet-stream',
    );
    assert.equal(await sniffMediaType(Buffer.alloc(0)), 'application/octet-stream');
  });

  it('allows for a character cut at the end of a partial sample, not of a whole file', async () => {
    const cut = Buffer.from('plain text ending in ✓', 'utf8').subarray(0, -1); // ✓ is three bytes
    assert.equal(await sniffMediaType(cut), 'text/plain');
    assert.equal(await sniffMediaType(cut, { complete: true }), 'application/octet-stream');
    // A sample longer than the window is cut to it, mid-character here, and still reads as text.
    const long = Buffer.from('a'.repeat(4099) + '✓✓', 'utf8');
    assert.equal(await sniffMediaType(long, { complete: true }), 'text/plain');
  });
});
