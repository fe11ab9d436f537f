// The machine's Redis for cache tests: a unique key prefix per test, removed afterwards. Without
// Redis the suite says loudly that it skipped, unless VPR_REQUIRE_SERVICES=1 (then it fails).
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { RedisReadCache } from '../../src/cache/read-cache.js';
import { reachable } from './reachable.js';

export const REDIS_URL = process.env.VPR_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether Redis answers (5 s per try, see reachable.ts). */
export function redisReachable(): Promise<boolean> {
  return reachable(async () => {
    const probe = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 5_000, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } finally {
      probe.disconnect();
    }
  });
}

export async function requireRedis(): Promise<boolean> {
  if (await redisReachable()) return true;
  const why = `Redis at ${REDIS_URL} is not reachable`;
  if (process.env.VPR_REQUIRE_SERVICES === '1')
    throw new Error(`${why}, and VPR_REQUIRE_SERVICES=1 requires it`);
  console.warn(`\n*** SKIPPED: the Redis cache tests — ${why}. They run in CI. ***\n`);
  return false;
}

/** A fresh key prefix whose keys are deleted after the test. */
export function redisPrefix(t: TestContext): string {
  const prefix = `vpr-test:${randomBytes(6).toString('hex')}:`;
  t.after(async () => {
    const redis = new Redis(REDIS_URL);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  });
  return prefix;
}

export async function redisCache(t: TestContext, prefix = redisPrefix(t)): Promise<RedisReadCache> {
  const cache = await RedisReadCache.connect(REDIS_URL, prefix);
  t.after(() => cache.close());
  return cache;
}
