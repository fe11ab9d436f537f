// The read cache, in process and in the machine's Redis: immutable documents read through it,
// list pages that a write makes unreachable, and (Redis) invalidation announced to other nodes.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DocumentReader } from '../src/cache/document-reader.js';
import { MemoryReadCache, type ReadCache } from '../src/cache/read-cache.js';
import { RecordStore } from '../src/core/record/record-store.js';
import { Projection } from '../src/projection/projection.js';
import { careLocation, clinician, demographics } from './support/fixtures.js';
import { redisCache, redisPrefix, requireRedis } from './support/redis.js';
import { tempDir } from './support/temp-dir.js';

const withRedis = await requireRedis();
const caches: [string, (t: TestContext) => Promise<ReadCache>][] = [
  ['memory', async () => new MemoryReadCache()],
  ...(withRedis
    ? [['redis', (t: TestContext) => redisCache(t)] as [string, (t: TestContext) => Promise<ReadCache>]]
    : []),
];

async function storeWithProjection(t: TestContext, cache: ReadCache) {
  const dataDir = await tempDir(t);
  const store = new RecordStore({ dataDir, repository: { durability: 'none' } });
  await store.open();
  const projection = await Projection.open({ dataDir, cache }, store);
  t.after(async () => {
    await projection.close();
    await store.close();
  });
  return { store, projection };
}

for (const [name, makeCache] of caches) {
  test(`[${name}] documents are read through the cache by commit, never stale`, async (t) => {
    const cache = await makeCache(t);
    const { store } = await storeWithProjection(t, cache);
    const reader = new DocumentReader(store, cache);
    const record = await store.createFullRecord({ demographics, author: clinician, careLocation });
    const first = await reader.read('clinical', record.clinicalId, 'ehr_status.yaml');
    const before = cache.stats();
    const again = await reader.read('clinical', record.clinicalId, 'ehr_status.yaml');
    assert.deepEqual(again.content, first.content);
    assert.equal(cache.stats().hits, before.hits + 1);
    const update = await store.commitChange({
      kind: 'clinical',
      id: record.clinicalId,
      changes: [{ path: 'ehr_status.yaml', content: 'changed: true\n' }],
      author: clinician,
      action: 'update',
      summary: 'Changed',
      careLocation,
    });
    const now = await reader.read('clinical', record.clinicalId, 'ehr_status.yaml');
    assert.equal(now.version, update.id);
    assert.equal(now.content.toString(), 'changed: true\n');
    const old = await reader.read('clinical', record.clinicalId, 'ehr_status.yaml', first.version);
    assert.deepEqual(old.content, first.content);
  });

  test(`[${name}] list pages are cached until the next write`, async (t) => {
    const cache = await makeCache(t);
    const { store, projection } = await storeWithProjection(t, cache);
    await store.createFullRecord({ demographics, author: clinician, careLocation });
    assert.equal((await projection.listPatients()).patients.length, 1);
    const before = cache.stats();
    assert.equal((await projection.listPatients()).patients.length, 1);
    assert.equal(cache.stats().hits, before.hits + 1, 'the second identical list is a hit');
    await store.createFullRecord({ demographics, author: clinician, careLocation });
    assert.equal(
      (await projection.listPatients()).patients.length,
      2,
      'a write makes the cached page unreachable',
    );
  });
}

test('the in-process cache stays within its byte bound', async () => {
  const cache = new MemoryReadCache(10_000);
  for (let i = 0; i < 100; i++) await cache.setDocument(`k${i}`, Buffer.alloc(1_000, i));
  let present = 0;
  for (let i = 0; i < 100; i++) if ((await cache.getDocument(`k${i}`)) !== undefined) present++;
  assert.ok(present > 0 && present < 10, `${present} of 100 one-kilobyte documents kept in 10 kB`);
  assert.ok((await cache.getDocument('k99')) !== undefined, 'the most recent is kept');
});

test('the in-process cache keeps its own copy, never the buffer a document was sliced from', async () => {
  const cache = new MemoryReadCache(10_000);
  const large = Buffer.alloc(1024 * 1024, 7);
  await cache.setDocument('slice', large.subarray(0, 100));
  large.fill(9);
  assert.deepEqual(
    await cache.getDocument('slice'),
    Buffer.alloc(100, 7),
    'the bytes as they were when cached',
  );
});

// Measured, not estimated: V8's heap and Node's buffers after a full collection, before and after
// filling the cache far past its bound. Small entries are where an estimate per entry goes wrong
// (a Buffer costs a few hundred bytes beside its data), and slices of a larger buffer are where a
// cache that keeps what it was given holds more than it counts (ADR 0017, ADR 0020).
test('the in-process cache holds no more memory than its bound, for small documents and for slices', async () => {
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  const held = () => {
    collect();
    collect();
    const { heapUsed, external } = process.memoryUsage();
    return heapUsed + external;
  };
  const bound = 8 * 1024 * 1024;
  const keyOf = (i: number) => `clinical/${String(i).padStart(32, '0')}/${'c'.repeat(40)}/letter.md`;
  const cases: [string, (i: number) => Buffer][] = [
    ['30-byte documents', (i) => Buffer.from(`status: final ${String(i).padStart(15, '0')}`)],
    ['1,000-byte documents', (i) => Buffer.alloc(1_000, i % 251)],
    ['slices of 64 KiB buffers', (i) => Buffer.alloc(64 * 1024, i % 251).subarray(0, 500)],
  ];
  for (const [what, document] of cases) {
    const before = held();
    const cache = new MemoryReadCache(bound);
    for (let i = 0; i < 60_000; i++) {
      await cache.setDocument(keyOf(i), document(i));
    }
    const grown = held() - before;
    assert.ok((await cache.getDocument(keyOf(59_999))) !== undefined);
    assert.ok(
      grown <= bound * 1.1,
      `${what}: ${(grown / 1048576).toFixed(1)} MiB held by a cache bounded to 8 MiB`,
    );
    await cache.close();
  }
});

if (withRedis) {
  test('[redis] a write on one node makes its list pages unreachable on the others', async (t) => {
    const prefix = redisPrefix(t);
    const nodeA = await redisCache(t, prefix);
    const nodeB = await redisCache(t, prefix);
    const generation = nodeA.generation;
    await nodeA.setPage(generation, 'patients:{}', '{"patients":[]}');
    assert.equal(
      await nodeB.getPage(nodeB.generation, 'patients:{}'),
      '{"patients":[]}',
      'shared between nodes',
    );
    await nodeB.invalidatePages();
    for (let i = 0; i < 100 && nodeA.generation === generation; i++) await sleep(10);
    assert.ok(nodeA.generation > generation, 'node A heard of the new generation');
    assert.equal(await nodeA.getPage(nodeA.generation, 'patients:{}'), undefined);
  });

  test('[redis] a cache that goes away is a miss, never a failed read', async (t) => {
    const cache = await redisCache(t);
    await cache.setDocument('x', Buffer.from('y'));
    await cache.close();
    assert.equal(await cache.getDocument('x'), undefined);
    await cache.setPage(cache.generation, 'k', 'v');
    await cache.invalidatePages();
  });
}
