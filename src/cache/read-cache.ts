// The read cache, one interface with two implementations:
// - documents: immutable content keyed by repository + commit + path (never stale, so never
//   invalidated; bounded by size or by a long expiry);
// - list pages: short-lived, keyed by a generation number that every write moves on, so a write
//   makes every cached page unreachable at once.
// In-process (no REDIS_URL): an LRU bounded in the bytes it really holds. A document is kept as
// a one-byte string of its bytes: a copy of its own, so never the larger buffer it may be a
// slice of (an inflated object, Node's 8 KiB pool; ADR 0017), and in the JavaScript heap,
// without the several hundred bytes a Buffer costs beside its data. Every entry is counted with
// what it costs beyond its key and value (ENTRY_OVERHEAD_BYTES, measured), so the bound holds
// for small entries too (ADR 0020). With Redis: both live in Redis and the generation is
// announced on a pub/sub channel, so every node stops serving old pages at once.
import { LRUCache } from 'lru-cache';
import { Redis } from 'ioredis';

export interface ReadCache {
  getDocument(key: string): Promise<Buffer | undefined>;
  setDocument(key: string, content: Buffer): Promise<void>;
  /**
   * The current list generation. Read it *before* querying, and store the page under it: a page
   * computed across a write is then stored under the old generation, where nobody looks.
   */
  readonly generation: number;
  getPage(generation: number, key: string): Promise<string | undefined>;
  setPage(generation: number, key: string, page: string): Promise<void>;
  /** Makes every cached list page unreachable, on this node and (with Redis) on every other. */
  invalidatePages(): Promise<void>;
  stats(): { hits: number; misses: number };
  /** Whether the cache answers (always, in process). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export const PAGE_TTL_MS = 5_000;
const DOCUMENT_TTL_S = 24 * 60 * 60;
const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;

/**
 * What an in-process entry costs beyond its key's and its value's characters: the two strings'
 * headers, the LRU's slots and its Map entry. Measured on Node 20 with documents of 30 B to 3 kB:
 * 110 to 170 bytes (ADR 0020; test/cache.test.ts checks that the bound holds with it).
 */
export const ENTRY_OVERHEAD_BYTES = 200;

/** The single-node cache: an LRU bounded in the bytes it holds. */
export class MemoryReadCache implements ReadCache {
  /** Documents as one-byte strings (a byte per character), pages as they came. */
  readonly #lru: LRUCache<string, string>;
  #generation = 0;
  #hits = 0;
  #misses = 0;

  constructor(maxBytes = DEFAULT_MAX_BYTES) {
    // Every entry is set with its size (`#set`), so the LRU needs no rule of its own.
    this.#lru = new LRUCache<string, string>({ maxSize: maxBytes });
  }

  /** Keeps `value` under `key`, counted as `bytesPerChar` bytes a character plus the overhead. */
  #set(key: string, value: string, bytesPerChar: 1 | 2, ttl?: number) {
    // A key built by concatenation is a tree of its pieces in V8 until its characters are read;
    // reading one flattens it into a single string and the collector drops the tree. Unflattened,
    // 30-byte documents held 71.5 MiB in a 32 MiB cache, flattened 28.7 MiB (ADR 0020).
    key.charCodeAt(0);
    const size = key.length + value.length * bytesPerChar + ENTRY_OVERHEAD_BYTES;
    this.#lru.set(key, value, ttl === undefined ? { size } : { size, ttl });
  }

  #count<T>(value: T | undefined): T | undefined {
    if (value === undefined) this.#misses++;
    else this.#hits++;
    return value;
  }

  async getDocument(key: string) {
    const kept = this.#count(this.#lru.get(`d:${key}`));
    return kept === undefined ? undefined : Buffer.from(kept, 'latin1');
  }

  async setDocument(key: string, content: Buffer) {
    this.#set(`d:${key}`, content.toString('latin1'), 1);
  }

  get generation() {
    return this.#generation;
  }

  async getPage(generation: number, key: string) {
    return this.#count(this.#lru.get(`p:${generation}:${key}`));
  }

  async setPage(generation: number, key: string, page: string) {
    // A page may hold characters outside Latin-1, two bytes each, so it is counted at two.
    this.#set(`p:${generation}:${key}`, page, 2, PAGE_TTL_MS);
  }

  async invalidatePages() {
    this.#generation++;
  }

  stats() {
    return { hits: this.#hits, misses: this.#misses };
  }

  async ping() {
    return true;
  }

  async close() {
    this.#lru.clear();
  }
}

/** The shared cache: Redis for the data, pub/sub for the list generation. */
export class RedisReadCache implements ReadCache {
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  #generation = 0;
  #hits = 0;
  #misses = 0;

  private constructor(redis: Redis, subscriber: Redis, prefix: string) {
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#prefix = prefix;
  }

  /** Connects, subscribes to generation announcements and reads the current generation. */
  static async connect(url: string, prefix = 'vpr:'): Promise<RedisReadCache> {
    const options = {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      enableOfflineQueue: false,
    };
    const redis = new Redis(url, options);
    const subscriber = new Redis(url, options);
    // Connection errors surface on the calls that need Redis; an idle error must not crash the process.
    redis.on('error', () => undefined);
    subscriber.on('error', () => undefined);
    await Promise.all([redis.connect(), subscriber.connect()]);
    const cache = new RedisReadCache(redis, subscriber, prefix);
    await subscriber.subscribe(`${prefix}list-generation`);
    subscriber.on('message', (_channel: string, message: string) => {
      const generation = Number(message);
      if (Number.isSafeInteger(generation) && generation > cache.#generation) cache.#generation = generation;
    });
    cache.#generation = Number((await redis.get(`${prefix}list-generation`)) ?? 0);
    return cache;
  }

  #count<T>(value: T | undefined | null): T | undefined {
    if (value === undefined || value === null) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return value;
  }

  /** A cache that is down is a miss, never a failed read. */
  async #tolerant<T>(work: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await work();
    } catch {
      return fallback;
    }
  }

  async getDocument(key: string) {
    return this.#count(await this.#tolerant(() => this.#redis.getBuffer(`${this.#prefix}d:${key}`), null));
  }

  async setDocument(key: string, content: Buffer) {
    await this.#tolerant(
      () => this.#redis.set(`${this.#prefix}d:${key}`, content, 'EX', DOCUMENT_TTL_S),
      null,
    );
  }

  get generation() {
    return this.#generation;
  }

  async getPage(generation: number, key: string) {
    const value = await this.#tolerant(() => this.#redis.get(`${this.#prefix}p:${generation}:${key}`), null);
    return this.#count(value);
  }

  async setPage(generation: number, key: string, page: string) {
    const redisKey = `${this.#prefix}p:${generation}:${key}`;
    await this.#tolerant(() => this.#redis.set(redisKey, page, 'PX', PAGE_TTL_MS), null);
  }

  async invalidatePages() {
    // Move on locally at once, then tell every node (and future readers) the new generation.
    const next = await this.#tolerant(
      () => this.#redis.incr(`${this.#prefix}list-generation`),
      this.#generation + 1,
    );
    this.#generation = Math.max(this.#generation + 1, next);
    await this.#tolerant(
      () => this.#redis.publish(`${this.#prefix}list-generation`, String(this.#generation)),
      0,
    );
  }

  stats() {
    return { hits: this.#hits, misses: this.#misses };
  }

  async ping() {
    return this.#tolerant(async () => (await this.#redis.ping()) === 'PONG', false);
  }

  async close() {
    this.#subscriber.disconnect();
    this.#redis.disconnect();
  }
}
