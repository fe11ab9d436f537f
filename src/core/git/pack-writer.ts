// Pack writing: turns a set of hashed Git objects into one version-2 packfile and its
// version-2 .idx, entirely in memory. Each commit's new objects become a single small pack,
// so that durability costs a couple of fsyncs rather than one per loose object. Deltas are
// never produced here (a later `git repack` may add them). Writing the bytes to disk, and
// naming the files `pack-<checksum>.pack` / `.idx`, is the caller's business.
import { createHash } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';
import type { HashedObject, ObjectId, ObjectType } from './git-object.js';

/** Where one object sits in a pack, as recorded in the pack's index. */
export interface PackIndexEntry {
  readonly id: ObjectId;
  /** Byte offset of the entry's header within the pack. */
  readonly offset: number;
  /** CRC32 of the entry's raw bytes in the pack (header plus compressed data). */
  readonly crc32: number;
}

export interface BuiltPack {
  readonly pack: Buffer;
  readonly index: Buffer;
  /** Hex SHA-1 trailer of the pack: the `<checksum>` in `pack-<checksum>.pack`. */
  readonly checksum: string;
}

const PACK_SIGNATURE = Buffer.from('PACK', 'latin1');
const PACK_VERSION = 2;
const INDEX_MAGIC = Buffer.from([0xff, 0x74, 0x4f, 0x63]);
const INDEX_VERSION = 2;
const FANOUT_ENTRIES = 256;
/** Offsets at or above this do not fit the 31 bits of the small offset table. */
const LARGE_OFFSET_THRESHOLD = 0x80000000;

const TYPE_CODES: Readonly<Record<ObjectType, number>> = { commit: 1, tree: 2, blob: 3, tag: 4 };

/** Builds a version-2 pack (no deltas) and its version-2 index from the given objects. */
export function buildPack(objects: readonly HashedObject[]): BuiltPack {
  const unique = uniqueById(objects);
  if (unique.length === 0) throw new Error('buildPack: cannot build a pack with no objects');

  const parts: Buffer[] = [packHeader(unique.length)];
  const entries: PackIndexEntry[] = [];
  let offset = parts[0]?.length ?? 0;
  for (const object of unique) {
    const entry = encodeEntry(object);
    entries.push({ id: object.id, offset, crc32: crc32(entry) });
    parts.push(entry);
    offset += entry.length;
  }
  const body = Buffer.concat(parts);
  const trailer = sha1(body);
  return {
    pack: Buffer.concat([body, trailer]),
    index: buildPackIndex(entries, trailer),
    checksum: trailer.toString('hex'),
  };
}

/**
 * Builds a version-2 .idx for a pack whose entries are described by `entries` (in any order)
 * and whose trailing SHA-1 is `packChecksum`.
 */
export function buildPackIndex(entries: readonly PackIndexEntry[], packChecksum: Buffer): Buffer {
  if (packChecksum.length !== 20) throw new Error('buildPackIndex: pack checksum must be 20 bytes');
  const sorted = [...entries].sort((a, b) => compareIds(a.id, b.id));
  const { small, large } = encodeOffsets(sorted);
  const body = Buffer.concat([
    INDEX_MAGIC,
    uint32(INDEX_VERSION),
    encodeFanout(sorted),
    ...sorted.map((entry) => Buffer.from(entry.id, 'hex')),
    ...sorted.map((entry) => uint32(entry.crc32)),
    small,
    large,
    packChecksum,
  ]);
  return Buffer.concat([body, sha1(body)]);
}

function uniqueById(objects: readonly HashedObject[]): HashedObject[] {
  const seen = new Map<ObjectId, HashedObject>();
  for (const object of objects) {
    if (!seen.has(object.id)) seen.set(object.id, object);
  }
  return [...seen.values()];
}

function packHeader(count: number): Buffer {
  return Buffer.concat([PACK_SIGNATURE, uint32(PACK_VERSION), uint32(count)]);
}

/** One pack entry: the type-and-size header followed by the zlib-deflated body. */
function encodeEntry(object: HashedObject): Buffer {
  const header = encodeEntryHeader(TYPE_CODES[object.type], object.body.length);
  return Buffer.concat([header, deflateSync(object.body, { level: 1 })]);
}

/**
 * The entry header: the first byte carries the type in bits 4-6 and the low four bits of the
 * size; each following byte carries seven more size bits. Bit 7 means "another byte follows".
 */
function encodeEntryHeader(typeCode: number, size: number): Buffer {
  const bytes: number[] = [];
  let byte = (typeCode << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

/** Cumulative counts: slot n holds how many ids have a first byte of n or less. */
function encodeFanout(sorted: readonly PackIndexEntry[]): Buffer {
  const fanout = Buffer.alloc(FANOUT_ENTRIES * 4);
  const counts = new Array<number>(FANOUT_ENTRIES).fill(0);
  for (const entry of sorted) {
    const first = parseInt(entry.id.slice(0, 2), 16);
    counts[first] = (counts[first] ?? 0) + 1;
  }
  let total = 0;
  for (let slot = 0; slot < FANOUT_ENTRIES; slot++) {
    total += counts[slot] ?? 0;
    fanout.writeUInt32BE(total, slot * 4);
  }
  return fanout;
}

/**
 * The 4-byte offset table, plus the 8-byte table for offsets that need more than 31 bits;
 * a small entry with its top bit set holds the index of its offset in the large table.
 */
function encodeOffsets(sorted: readonly PackIndexEntry[]): { small: Buffer; large: Buffer } {
  const small = Buffer.alloc(sorted.length * 4);
  const largeOffsets: Buffer[] = [];
  sorted.forEach((entry, position) => {
    if (!Number.isSafeInteger(entry.offset) || entry.offset < 0) {
      throw new Error(`buildPackIndex: invalid offset ${entry.offset} for ${entry.id}`);
    }
    if (entry.offset < LARGE_OFFSET_THRESHOLD) {
      small.writeUInt32BE(entry.offset, position * 4);
      return;
    }
    small.writeUInt32BE((LARGE_OFFSET_THRESHOLD | largeOffsets.length) >>> 0, position * 4);
    const large = Buffer.alloc(8);
    large.writeBigUInt64BE(BigInt(entry.offset));
    largeOffsets.push(large);
  });
  return { small, large: Buffer.concat(largeOffsets) };
}

function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0);
  return buffer;
}

function sha1(data: Buffer): Buffer {
  return createHash('sha1').update(data).digest();
}
