// Pack reading: looks objects up in a version-2 packfile through its version-2 .idx and
// reads them with positional reads on an open file descriptor, never loading the whole pack,
// or, for a pack no larger than the caller's `wholeFileBytes`, from one read of the whole file
// (a bulk scan that opens, reads and forgets a repository pays one system call per pack
// instead of one per object; each costs more than the object's parsing on this machine kind).
// Reads are synchronous: they are small page-cache hits, and a thread-pool round trip per read
// cost more than the read itself (measured in bench/store.bench.ts). With `lazy`, only the index
// is read on open and the pack itself is opened (and checked against the index) on its first
// read: a repository opened to read one file at HEAD touches few of its packs, and opening every
// one was most of a first read's system calls.
// Handles the packs our own writer produces and those `git repack` produces, including
// OFS_DELTA and REF_DELTA chains (bases outside the pack come from a caller-supplied
// resolver). Validates the index on open and treats malformed entries or deltas as errors.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';
import { isObjectId } from './git-object.js';
import type { GitObject, ObjectId, ObjectType } from './git-object.js';

/** Supplies REF_DELTA bases that are not in this pack (for example loose objects or other packs). */
export type BaseResolver = (id: ObjectId) => Promise<GitObject | undefined>;

const INDEX_MAGIC = Buffer.from([0xff, 0x74, 0x4f, 0x63]);
const PACK_SIGNATURE = Buffer.from('PACK', 'latin1');
const ID_BYTES = 20;
const FANOUT_BYTES = 256 * 4;
const INDEX_HEADER_BYTES = 8;
const PACK_HEADER_BYTES = 12;
const LARGE_OFFSET_FLAG = 0x80000000;
const MAX_DELTA_DEPTH = 10_000;
const CACHE_MAX_ENTRIES = 64;
const CACHE_MAX_BYTES = 32 * 1024 * 1024;

const OFS_DELTA = 6;
const REF_DELTA = 7;
const BASE_TYPES: ReadonlyMap<number, ObjectType> = new Map([
  [1, 'commit'],
  [2, 'tree'],
  [3, 'blob'],
  [4, 'tag'],
]);

/** The parsed, validated contents of a version-2 .idx file. */
interface PackIndex {
  readonly count: number;
  readonly fanout: readonly number[];
  /** The sorted 20-byte ids, back to back. */
  readonly ids: Buffer;
  /** Entry offsets in id order. */
  readonly offsets: readonly number[];
  readonly packChecksum: Buffer;
}

export interface PackOpenOptions {
  /** Packs of at most this many bytes are read into memory whole when opened; 0: never. */
  readonly wholeFileBytes?: number;
  /** Open the pack (not its index) on its first read instead of at once. */
  readonly lazy?: boolean;
}

/** Where a pack's bytes come from: positional reads of an open file, or a buffer. */
interface PackBytes {
  read(offset: number, length: number): Buffer;
  close(): void;
}

function fileBytes(fd: number): PackBytes {
  return {
    read: (offset, length) => {
      const raw = Buffer.alloc(length);
      const bytesRead = readSync(fd, raw, 0, length, offset);
      return bytesRead === length ? raw : raw.subarray(0, bytesRead);
    },
    close: () => closeSync(fd),
  };
}

function memoryBytes(data: Buffer): PackBytes {
  return { read: (offset, length) => data.subarray(offset, offset + length), close: () => undefined };
}

/** A pack entry as stored: either a whole object or a delta against a base. */
type RawEntry =
  | { readonly kind: 'object'; readonly object: GitObject }
  | { readonly kind: 'ofs-delta'; readonly baseOffset: number; readonly delta: Buffer }
  | { readonly kind: 'ref-delta'; readonly baseId: ObjectId; readonly delta: Buffer };

/** An open pack's bytes, checked against its index. */
interface PackBody {
  readonly bytes: PackBytes;
  /** Every entry's offset in ascending order, to find where each entry's data ends. */
  readonly sortedOffsets: Float64Array;
  /** Where the last entry's data ends: the start of the pack's SHA-1 trailer. */
  readonly dataEnd: number;
}

/** Opens a pack and checks its header and trailer against `index`. */
function openBody(packPath: string, index: PackIndex, options: PackOpenOptions): PackBody {
  const fd = openSync(packPath, 'r');
  let bytes = fileBytes(fd);
  try {
    const size = fstatSync(fd).size;
    if (size <= (options.wholeFileBytes ?? 0)) {
      bytes = memoryBytes(bytes.read(0, size));
      closeSync(fd);
    }
    checkPackAgainstIndex(bytes, size, index, packPath);
    return { bytes, sortedOffsets: sortOffsets(index, size - ID_BYTES, packPath), dataEnd: size - ID_BYTES };
  } catch (error) {
    bytes.close();
    throw error;
  }
}

export class PackFile {
  private readonly cache = new BaseCache();
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly index: PackIndex,
    private readonly options: PackOpenOptions,
    private readonly resolveBase: BaseResolver | undefined,
    /** Undefined until the first read of a pack opened `lazy`. */
    private body: PackBody | undefined,
  ) {}

  /**
   * Opens `<name>.pack` together with its sibling `<name>.idx`, validating both headers (the
   * pack's on its first read, when `lazy`).
   */
  static async open(
    packPath: string,
    resolveBase?: BaseResolver,
    options: PackOpenOptions = {},
  ): Promise<PackFile> {
    if (!packPath.endsWith('.pack')) throw new Error(`PackFile: not a .pack path: ${packPath}`);
    const indexPath = `${packPath.slice(0, -'.pack'.length)}.idx`;
    const index = parseIndex(readFileSync(indexPath), indexPath);
    const body = options.lazy === true ? undefined : openBody(packPath, index, options);
    return new PackFile(packPath, index, options, resolveBase, body);
  }

  /** The pack's bytes, opened now if this is its first read. */
  private opened(): PackBody {
    if (this.closed) throw this.error('pack is closed');
    this.body ??= openBody(this.path, this.index, this.options);
    return this.body;
  }

  has(id: ObjectId): boolean {
    return this.findPosition(id) !== undefined;
  }

  /** Reads and fully resolves an object; undefined when the id is not in this pack. */
  async read(id: ObjectId): Promise<GitObject | undefined> {
    const position = this.findPosition(id);
    if (position === undefined) return undefined;
    return this.readAt(this.offsetAt(position));
  }

  *ids(): Iterable<ObjectId> {
    for (let position = 0; position < this.index.count; position++) {
      yield this.idAt(position);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    this.body?.bytes.close();
  }

  /** Follows a delta chain down to a whole object, then applies the deltas back up. */
  private async readAt(offset: number): Promise<GitObject> {
    const cached = this.cache.get(offset);
    if (cached) return { type: cached.type, body: Buffer.from(cached.body) };
    const chain: { offset: number; delta: Buffer }[] = [];
    let current: number | undefined = offset;
    let base: GitObject | undefined;
    while (base === undefined && current !== undefined) {
      if (chain.length > MAX_DELTA_DEPTH) throw this.error(`delta chain deeper than ${MAX_DELTA_DEPTH}`);
      const fromCache = chain.length > 0 ? this.cache.get(current) : undefined;
      if (fromCache) {
        base = fromCache;
        break;
      }
      const entry = await this.readEntry(current);
      if (entry.kind === 'object') {
        base = entry.object;
        if (chain.length > 0) this.cache.set(current, base);
        break;
      }
      chain.push({ offset: current, delta: entry.delta });
      const next = await this.locateBase(entry, current);
      current = next.offset;
      base = next.object;
    }
    if (base === undefined) throw this.error(`no base found for entry at offset ${offset}`);
    return this.applyChain(base, chain);
  }

  /** Applies deltas from the innermost outwards, caching every intermediate base. */
  private applyChain(base: GitObject, chain: readonly { offset: number; delta: Buffer }[]): GitObject {
    let object = base;
    for (let step = chain.length - 1; step >= 0; step--) {
      const link = chain[step];
      if (link === undefined) break;
      object = { type: object.type, body: applyDelta(object.body, link.delta, this.path) };
      if (step > 0) this.cache.set(link.offset, object);
    }
    return object;
  }

  /** Where a delta's base lives: at an offset in this pack, or handed over by the resolver. */
  private async locateBase(
    entry: Exclude<RawEntry, { kind: 'object' }>,
    offset: number,
  ): Promise<{ offset?: number; object?: GitObject }> {
    if (entry.kind === 'ofs-delta') return { offset: entry.baseOffset };
    const position = this.findPosition(entry.baseId);
    if (position !== undefined) return { offset: this.offsetAt(position) };
    const object = this.resolveBase ? await this.resolveBase(entry.baseId) : undefined;
    if (object === undefined) {
      throw this.error(`REF_DELTA base ${entry.baseId} of entry at offset ${offset} is unavailable`);
    }
    return { object };
  }

  /** Reads one entry's bytes, bounded by where the next entry starts. */
  private async readEntry(offset: number): Promise<RawEntry> {
    const body = this.opened();
    const end = this.entryEnd(body, offset);
    const raw = body.bytes.read(offset, end - offset);
    if (raw.length !== end - offset) throw this.error(`short read of entry at offset ${offset}`);
    return parseEntry(raw, offset, this.path);
  }

  private entryEnd({ sortedOffsets, dataEnd }: PackBody, offset: number): number {
    const position = binarySearchNumber(sortedOffsets, offset);
    if (position === undefined) throw this.error(`no entry starts at offset ${offset}`);
    return sortedOffsets[position + 1] ?? dataEnd;
  }

  /** Binary search of the sorted id table, narrowed by the fanout to ids sharing the first byte. */
  private findPosition(id: ObjectId): number | undefined {
    if (!isObjectId(id)) return undefined;
    const wanted = Buffer.from(id, 'hex');
    const first = wanted[0] ?? 0;
    let low = first === 0 ? 0 : (this.index.fanout[first - 1] ?? 0);
    let high = (this.index.fanout[first] ?? 0) - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const start = middle * ID_BYTES;
      const order = Buffer.compare(this.index.ids.subarray(start, start + ID_BYTES), wanted);
      if (order === 0) return middle;
      if (order < 0) low = middle + 1;
      else high = middle - 1;
    }
    return undefined;
  }

  private idAt(position: number): ObjectId {
    const start = position * ID_BYTES;
    return this.index.ids.toString('hex', start, start + ID_BYTES) as ObjectId;
  }

  private offsetAt(position: number): number {
    const offset = this.index.offsets[position];
    if (offset === undefined) throw this.error(`no offset for index position ${position}`);
    return offset;
  }

  private error(message: string): Error {
    return new Error(`PackFile ${this.path}: ${message}`);
  }
}

/* ---------- index parsing ---------- */

/** Parses and validates a version-2 .idx: magic, version, fanout, size and checksum. */
function parseIndex(data: Buffer, path: string): PackIndex {
  const fail = (message: string): Error => new Error(`Pack index ${path}: ${message}`);
  const minimum = INDEX_HEADER_BYTES + FANOUT_BYTES + 2 * ID_BYTES;
  if (data.length < minimum) throw fail(`too short (${data.length} bytes)`);
  if (!data.subarray(0, 4).equals(INDEX_MAGIC)) throw fail('bad magic (not a version-2 index)');
  const version = data.readUInt32BE(4);
  if (version !== 2) throw fail(`unsupported version ${version}`);
  const fanout = readFanout(data, fail);
  const count = fanout[255] ?? 0;
  const tablesStart = INDEX_HEADER_BYTES + FANOUT_BYTES;
  const offsetsStart = tablesStart + count * (ID_BYTES + 4);
  const largeStart = offsetsStart + count * 4;
  const largeBytes = data.length - largeStart - 2 * ID_BYTES;
  if (largeBytes < 0 || largeBytes % 8 !== 0) throw fail(`size ${data.length} does not fit ${count} objects`);
  checkIndexChecksum(data, fail);
  const large = data.subarray(largeStart, largeStart + largeBytes);
  return {
    count,
    fanout,
    ids: data.subarray(tablesStart, tablesStart + count * ID_BYTES),
    offsets: readOffsets(data.subarray(offsetsStart, largeStart), large, fail),
    packChecksum: data.subarray(data.length - 2 * ID_BYTES, data.length - ID_BYTES),
  };
}

function readFanout(data: Buffer, fail: (message: string) => Error): number[] {
  const fanout: number[] = [];
  for (let slot = 0; slot < 256; slot++) {
    const value = data.readUInt32BE(INDEX_HEADER_BYTES + slot * 4);
    if (value < (fanout[slot - 1] ?? 0)) throw fail('fanout table is not monotonic');
    fanout.push(value);
  }
  return fanout;
}

function checkIndexChecksum(data: Buffer, fail: (message: string) => Error): void {
  const expected = data.subarray(data.length - ID_BYTES);
  const actual = createHash('sha1')
    .update(data.subarray(0, data.length - ID_BYTES))
    .digest();
  if (!actual.equals(expected)) throw fail('checksum mismatch');
}

/** Decodes the 4-byte offsets, following those with the top bit set into the 8-byte table. */
function readOffsets(small: Buffer, large: Buffer, fail: (message: string) => Error): number[] {
  const offsets: number[] = [];
  let largeUsed = 0;
  for (let position = 0; position < small.length / 4; position++) {
    const value = small.readUInt32BE(position * 4);
    if ((value & LARGE_OFFSET_FLAG) === 0) {
      offsets.push(value);
      continue;
    }
    const slot = value & ~LARGE_OFFSET_FLAG;
    if ((slot + 1) * 8 > large.length) throw fail(`large offset slot ${slot} out of range`);
    const offset = large.readBigUInt64BE(slot * 8);
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw fail(`offset ${offset} too large`);
    offsets.push(Number(offset));
    largeUsed = Math.max(largeUsed, slot + 1);
  }
  if (largeUsed * 8 !== large.length) throw fail('large offset table size does not match its use');
  return offsets;
}

/** Checks the pack's header and trailer agree with the index, without reading the whole pack. */
function checkPackAgainstIndex(bytes: PackBytes, size: number, index: PackIndex, path: string): void {
  const fail = (message: string): Error => new Error(`Pack ${path}: ${message}`);
  if (size < PACK_HEADER_BYTES + ID_BYTES) throw fail(`too short (${size} bytes)`);
  const header = bytes.read(0, PACK_HEADER_BYTES);
  const trailer = bytes.read(size - ID_BYTES, ID_BYTES);
  if (!header.subarray(0, 4).equals(PACK_SIGNATURE)) throw fail('bad signature');
  const version = header.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw fail(`unsupported version ${version}`);
  const count = header.readUInt32BE(8);
  if (count !== index.count) throw fail(`holds ${count} objects but its index lists ${index.count}`);
  if (!trailer.equals(index.packChecksum)) throw fail('trailer does not match the checksum in its index');
}

/** Every entry offset in ascending order; each must be distinct and inside the pack's data. */
function sortOffsets(index: PackIndex, dataEnd: number, path: string): Float64Array {
  const sorted = Float64Array.from(index.offsets).sort();
  for (let position = 0; position < sorted.length; position++) {
    const offset = sorted[position] ?? 0;
    if (offset < PACK_HEADER_BYTES || offset >= dataEnd) {
      throw new Error(`Pack index for ${path}: offset ${offset} lies outside the pack data`);
    }
    if (offset === sorted[position - 1]) {
      throw new Error(`Pack index for ${path}: two entries share offset ${offset}`);
    }
  }
  return sorted;
}

function binarySearchNumber(sorted: Float64Array, wanted: number): number | undefined {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = sorted[middle] ?? 0;
    if (value === wanted) return middle;
    if (value < wanted) low = middle + 1;
    else high = middle - 1;
  }
  return undefined;
}

/* ---------- entry parsing ---------- */

/** A cursor over an entry's bytes that refuses to run past their end. */
class ByteReader {
  position = 0;

  constructor(
    private readonly data: Buffer,
    private readonly describe: () => string,
  ) {}

  next(): number {
    const byte = this.data[this.position];
    if (byte === undefined) throw new Error(`${this.describe()}: truncated`);
    this.position++;
    return byte;
  }

  take(length: number): Buffer {
    if (this.position + length > this.data.length) throw new Error(`${this.describe()}: truncated`);
    const slice = this.data.subarray(this.position, this.position + length);
    this.position += length;
    return slice;
  }

  rest(): Buffer {
    return this.data.subarray(this.position);
  }

  /** A little-endian base-128 number, seven bits per byte, as used for delta sizes. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let count = 0; ; count++) {
      if (count >= 8) throw new Error(`${this.describe()}: size field too long`);
      const byte = this.next();
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) return value;
    }
  }
}

function parseEntry(raw: Buffer, offset: number, path: string): RawEntry {
  const reader = new ByteReader(raw, () => `Pack ${path}: entry at offset ${offset}`);
  const { typeCode, size } = readEntryHeader(reader);
  const baseType = BASE_TYPES.get(typeCode);
  if (baseType !== undefined) {
    return { kind: 'object', object: { type: baseType, body: inflateExactly(reader, size) } };
  }
  if (typeCode === OFS_DELTA) {
    const distance = readOffsetDistance(reader);
    if (distance <= 0 || distance > offset) {
      throw new Error(`Pack ${path}: OFS_DELTA at offset ${offset} points outside the pack`);
    }
    return { kind: 'ofs-delta', baseOffset: offset - distance, delta: inflateExactly(reader, size) };
  }
  if (typeCode === REF_DELTA) {
    const baseId = reader.take(ID_BYTES).toString('hex') as ObjectId;
    return { kind: 'ref-delta', baseId, delta: inflateExactly(reader, size) };
  }
  throw new Error(`Pack ${path}: entry at offset ${offset} has unknown type ${typeCode}`);
}

/** Type in bits 4-6 of the first byte; size in its low four bits then seven bits per byte. */
function readEntryHeader(reader: ByteReader): { typeCode: number; size: number } {
  let byte = reader.next();
  const typeCode = (byte >> 4) & 0x07;
  let size = byte & 0x0f;
  let scale = 16;
  for (let count = 0; byte & 0x80; count++) {
    if (count >= 8) throw new Error('Pack entry size field too long');
    byte = reader.next();
    size += (byte & 0x7f) * scale;
    scale *= 128;
  }
  return { typeCode, size };
}

/** OFS_DELTA's backwards distance: big-endian base-128 with an added one per continuation. */
function readOffsetDistance(reader: ByteReader): number {
  let byte = reader.next();
  let distance = byte & 0x7f;
  for (let count = 0; byte & 0x80; count++) {
    if (count >= 8) throw new Error('Pack OFS_DELTA distance too long');
    byte = reader.next();
    distance = (distance + 1) * 128 + (byte & 0x7f);
  }
  return distance;
}

/** Inflates the rest of the entry, refusing output beyond (or short of) the declared size. */
function inflateExactly(reader: ByteReader, size: number): Buffer {
  if (size > bufferConstants.MAX_LENGTH) throw new Error(`Pack entry too large (${size} bytes)`);
  let body: Buffer;
  try {
    body = inflateSync(reader.rest(), { maxOutputLength: Math.max(1, size) });
  } catch (error) {
    throw new Error(`Pack entry does not inflate to its declared ${size} bytes`, { cause: error });
  }
  if (body.length !== size) {
    throw new Error(`Pack entry inflated to ${body.length} bytes, expected ${size}`);
  }
  return body;
}

/* ---------- deltas ---------- */

/**
 * Applies a git delta: the base and result sizes, then instructions that either copy a range
 * of the base (top bit set; the low seven bits say which offset and size bytes follow) or
 * insert the next 1-127 literal bytes.
 */
function applyDelta(base: Buffer, delta: Buffer, path: string): Buffer {
  const reader = new ByteReader(delta, () => `Pack ${path}: malformed delta`);
  const baseSize = reader.varint();
  if (baseSize !== base.length) {
    throw new Error(`Pack ${path}: delta expects a ${baseSize}-byte base, found ${base.length} bytes`);
  }
  const resultSize = reader.varint();
  if (resultSize > bufferConstants.MAX_LENGTH) throw new Error(`Pack ${path}: delta result too large`);
  const result = Buffer.alloc(resultSize);
  let written = 0;
  while (reader.position < delta.length) {
    const chunk = readDeltaInstruction(reader, base, path);
    if (written + chunk.length > resultSize) throw new Error(`Pack ${path}: delta overruns its result size`);
    chunk.copy(result, written);
    written += chunk.length;
  }
  if (written !== resultSize)
    throw new Error(`Pack ${path}: delta produced ${written} of ${resultSize} bytes`);
  return result;
}

function readDeltaInstruction(reader: ByteReader, base: Buffer, path: string): Buffer {
  const opcode = reader.next();
  if (opcode === 0) throw new Error(`Pack ${path}: delta uses reserved opcode 0`);
  if ((opcode & 0x80) === 0) return reader.take(opcode);
  const copyOffset = readCopyField(reader, opcode, 0, 4);
  const copySize = readCopyField(reader, opcode, 4, 3) || 0x10000;
  if (copyOffset + copySize > base.length) throw new Error(`Pack ${path}: delta copies beyond its base`);
  return base.subarray(copyOffset, copyOffset + copySize);
}

/** Little-endian field whose bytes are present only where the opcode's flag bits say so. */
function readCopyField(reader: ByteReader, opcode: number, firstBit: number, byteCount: number): number {
  let value = 0;
  for (let index = 0; index < byteCount; index++) {
    if (opcode & (1 << (firstBit + index))) value += reader.next() * 2 ** (8 * index);
  }
  return value;
}

/* ---------- cache ---------- */

/** A small least-recently-used cache of resolved delta bases, bounded by count and bytes. */
class BaseCache {
  private readonly entries = new Map<number, GitObject>();
  private bytes = 0;

  get(offset: number): GitObject | undefined {
    const object = this.entries.get(offset);
    if (object === undefined) return undefined;
    this.entries.delete(offset);
    this.entries.set(offset, object);
    return object;
  }

  set(offset: number, object: GitObject): void {
    if (object.body.length > CACHE_MAX_BYTES / 4 || this.entries.has(offset)) return;
    this.entries.set(offset, object);
    this.bytes += object.body.length;
    while (this.entries.size > CACHE_MAX_ENTRIES || this.bytes > CACHE_MAX_BYTES) {
      const oldest = this.entries.entries().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest[0]);
      this.bytes -= oldest[1].body.length;
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
