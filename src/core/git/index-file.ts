// The Git index file (.git/index): reading and writing git's binary "DIRC" format, which records
// the blob each tracked path is staged as, together with cached stat data that lets git tell
// cheaply whether the working tree still matches. VPR writes commits without spawning git and
// rewrites the index through this module, so that the stock git CLI sees a clean working tree.
//
// Owned here: stage-0 entries only; versions 2, 3 and 4 on read (extensions are skipped, and
// index states VPR cannot represent faithfully are refused); version 2 with no extensions on write.
// Nothing here touches the filesystem: callers read and write the bytes.
//
// Errors never name a path in their message (paths may be sensitive); the path, where there is
// one, is carried in `details`.
import { createHash } from 'node:crypto';
import type { BigIntStats, Stats } from 'node:fs';
import { VprError } from '../errors.js';
import { isObjectId } from './git-object.js';
import type { ObjectId } from './git-object.js';

/** The stat data git caches for each entry, each field truncated to 32 bits as git stores it. */
export interface IndexStat {
  ctimeSec: number;
  ctimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  dev: number;
  ino: number;
  uid: number;
  gid: number;
  size: number;
}

export interface IndexEntry {
  /** Repository-relative path with '/' separators, as git records it. */
  readonly path: string;
  readonly id: ObjectId;
  /** 0o100644 (file), 0o100755 (executable), 0o120000 (symlink) or 0o160000 (gitlink). */
  readonly mode: number;
  readonly stat: IndexStat;
}

/**
 * Stat data of all zeros. Git treats a recorded size of zero as "unknown", so it re-hashes the file
 * on the next `git status` and still reports it clean if the content matches (rewriting the index
 * with real stat data as it goes). Use it when the working-tree file's stat is not to hand.
 */
export const ZERO_STAT: IndexStat = Object.freeze({
  ctimeSec: 0,
  ctimeNsec: 0,
  mtimeSec: 0,
  mtimeNsec: 0,
  dev: 0,
  ino: 0,
  uid: 0,
  gid: 0,
  size: 0,
});

const SIGNATURE = 'DIRC';
const WRITE_VERSION = 2;
const HEADER_SIZE = 12; // signature, version, entry count
const HASH_SIZE = 20; // SHA-1, both for entry ids and the trailing checksum
const ENTRY_FIXED_SIZE = 62; // ten 32-bit fields, the object id and the 16-bit flags
const EXTENDED_FLAGS_SIZE = 2; // present in versions 3 and 4 when FLAG_EXTENDED is set

const FLAG_EXTENDED = 0x4000;
const FLAG_STAGE_MASK = 0x3000;
const FLAG_STAGE_SHIFT = 12;
const NAME_LENGTH_MASK = 0x0fff; // longer names are recorded as 0xFFF and found by their NUL
const EXTENDED_SKIP_WORKTREE = 0x4000;
const EXTENDED_INTENT_TO_ADD = 0x2000;
const EXTENDED_KNOWN = EXTENDED_SKIP_WORKTREE | EXTENDED_INTENT_TO_ADD;

const ENTRY_MODES: ReadonlySet<number> = new Set([0o100644, 0o100755, 0o120000, 0o160000]);
const SPARSE_DIRECTORY_MODE = 0o040000;

const STAT_FIELDS = [
  'ctimeSec',
  'ctimeNsec',
  'mtimeSec',
  'mtimeNsec',
  'dev',
  'ino',
  'uid',
  'gid',
  'size',
] as const satisfies readonly (keyof IndexStat)[];

// ---------------------------------------------------------------------------------------------
// Stat data

const NS_PER_SECOND = 1_000_000_000n;

function uint32(value: bigint): number {
  return Number(BigInt.asUintN(32, value));
}

/** Seconds (wrapped to 32 bits) and nanoseconds of a nanosecond timestamp, flooring like timespec. */
function splitNanoseconds(ns: bigint): [seconds: number, nanoseconds: number] {
  let seconds = ns / NS_PER_SECOND;
  let nanoseconds = ns % NS_PER_SECOND;
  if (nanoseconds < 0n) {
    seconds -= 1n;
    nanoseconds += NS_PER_SECOND;
  }
  return [uint32(seconds), Number(nanoseconds)];
}

/** A millisecond timestamp from number-valued Stats, to the nearest nanosecond it can still express. */
function millisecondsToNanoseconds(ms: number): bigint {
  const seconds = Math.floor(ms / 1000);
  const nanoseconds = Math.min(Math.round((ms - seconds * 1000) * 1e6), 999_999_999);
  return BigInt(seconds) * NS_PER_SECOND + BigInt(nanoseconds);
}

function isBigIntStats(stats: BigIntStats | Stats): stats is BigIntStats {
  return typeof stats.size === 'bigint';
}

function toBigInt(value: number | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
}

/**
 * The index stat data of a working-tree file, from `fs.lstat` (use lstat so a symlink describes
 * itself). Prefer `{ bigint: true }`: number-valued Stats carry times only to about a microsecond,
 * so git may re-hash such files once (harmlessly) before trusting the cached data.
 */
export function indexStatFrom(stats: BigIntStats | Stats): IndexStat {
  const ctimeNs = isBigIntStats(stats) ? stats.ctimeNs : millisecondsToNanoseconds(stats.ctimeMs);
  const mtimeNs = isBigIntStats(stats) ? stats.mtimeNs : millisecondsToNanoseconds(stats.mtimeMs);
  const [ctimeSec, ctimeNsec] = splitNanoseconds(ctimeNs);
  const [mtimeSec, mtimeNsec] = splitNanoseconds(mtimeNs);
  const size = toBigInt(stats.size);
  // A non-empty file whose size is a multiple of 4 GiB would truncate to 0, which git reads as
  // "unknown"; recent git records such sizes as 0x80000000 instead, and so do we.
  const truncatedSize = size !== 0n && uint32(size) === 0 ? 0x8000_0000 : uint32(size);
  return {
    ctimeSec,
    ctimeNsec,
    mtimeSec,
    mtimeNsec,
    dev: uint32(toBigInt(stats.dev)),
    ino: uint32(toBigInt(stats.ino)),
    uid: uint32(toBigInt(stats.uid)),
    gid: uint32(toBigInt(stats.gid)),
    size: truncatedSize,
  };
}

// ---------------------------------------------------------------------------------------------
// Paths

/**
 * Why git would refuse `path` in an index, or undefined if it is acceptable: it must be relative and
 * '/'-separated, with no empty, '.', '..' or '.git' components (the last in any case, as git refuses
 * it for case-insensitive file systems), no NUL and no unpaired surrogates.
 */
function pathProblem(path: string): string | undefined {
  if (path.length === 0) return 'is empty';
  if (path.includes('\0')) return 'contains NUL';
  if (path.startsWith('/')) return "begins with '/'";
  if (path.endsWith('/')) return "ends with '/'";
  for (const component of path.split('/')) {
    if (component === '') return 'has an empty component';
    if (component === '.' || component === '..') return `has a '${component}' component`;
    if (component.toLowerCase() === '.git') return "has a '.git' component";
  }
  if (Buffer.from(path, 'utf8').toString('utf8') !== path) return 'is not well-formed Unicode';
  return undefined;
}

/** Git's index order: plain byte order of the UTF-8 path (memcmp, shorter first on a tie). */
function comparePathBytes(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}

/** Refuses a path that is also the directory of another path ("a" beside "a/b"). */
function checkNoFileDirectoryClash(paths: readonly string[], makeError: (path: string) => Error): void {
  const files = new Set(paths);
  for (const path of paths) {
    for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) {
      if (files.has(path.slice(0, slash))) throw makeError(path);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Entry length in versions 2 and 3: fixed part, name, then 1 to 8 NULs to reach a multiple of 8. */
function paddedEntrySize(fixedSize: number, nameLength: number): number {
  return Math.floor((fixedSize + nameLength + 8) / 8) * 8;
}

function checkEntry(entry: IndexEntry, position: number): Buffer {
  const where = `index entry ${position}`;
  const invalid = (problem: string): VprError =>
    new VprError('INVALID_INPUT', `${where}: ${problem}`, { details: { path: entry.path } });
  const problem = pathProblem(entry.path);
  if (problem !== undefined) throw invalid(`path ${problem}`);
  if (!isObjectId(entry.id)) throw invalid('id is not a 40-hex object id');
  if (!ENTRY_MODES.has(entry.mode)) throw invalid(`mode ${entry.mode.toString(8)} is not a valid entry mode`);
  for (const field of STAT_FIELDS) {
    const value = entry.stat[field];
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
      throw invalid(`stat.${field} is not a 32-bit unsigned integer`);
    }
  }
  return Buffer.from(entry.path, 'utf8');
}

/**
 * A version-2 index holding `entries` at stage 0, sorted into git's order, with no extensions and
 * a trailing SHA-1. Throws VprError INVALID_INPUT for an invalid path, id, mode or stat field, a
 * duplicate path, or a path that is also another entry's directory.
 */
export function encodeIndex(entries: readonly IndexEntry[]): Buffer {
  const prepared = entries
    .map((entry, position) => ({ entry, name: checkEntry(entry, position) }))
    .sort((a, b) => comparePathBytes(a.name, b.name));

  for (let i = 1; i < prepared.length; i++) {
    const current = prepared[i];
    if (current !== undefined && prepared[i - 1]?.name.equals(current.name)) {
      throw new VprError('INVALID_INPUT', 'index entries: a path appears more than once', {
        details: { path: current.entry.path },
      });
    }
  }
  checkNoFileDirectoryClash(
    prepared.map(({ entry }) => entry.path),
    (path) =>
      new VprError('INVALID_INPUT', 'index entries: a path lies inside another entry', { details: { path } }),
  );

  const bodySize = prepared.reduce(
    (sum, { name }) => sum + paddedEntrySize(ENTRY_FIXED_SIZE, name.length),
    0,
  );
  const out = Buffer.alloc(HEADER_SIZE + bodySize + HASH_SIZE); // zero-filled, so padding is NUL
  out.write(SIGNATURE, 0, 'latin1');
  out.writeUInt32BE(WRITE_VERSION, 4);
  out.writeUInt32BE(prepared.length, 8);

  let offset = HEADER_SIZE;
  for (const { entry, name } of prepared) {
    const { stat } = entry;
    const fields = [
      stat.ctimeSec,
      stat.ctimeNsec,
      stat.mtimeSec,
      stat.mtimeNsec,
      stat.dev,
      stat.ino,
      entry.mode,
      stat.uid,
      stat.gid,
      stat.size,
    ];
    fields.forEach((value, i) => out.writeUInt32BE(value, offset + i * 4));
    out.write(entry.id, offset + 40, 'hex');
    out.writeUInt16BE(Math.min(name.length, NAME_LENGTH_MASK), offset + 60); // stage 0, no flags
    name.copy(out, offset + ENTRY_FIXED_SIZE);
    offset += paddedEntrySize(ENTRY_FIXED_SIZE, name.length);
  }

  createHash('sha1').update(out.subarray(0, offset)).digest().copy(out, offset);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding

function corrupt(message: string, details?: Record<string, unknown>): VprError {
  return new VprError(
    'CORRUPT_REPOSITORY',
    `Git index is corrupt: ${message}`,
    details === undefined ? {} : { details },
  );
}

function unsupported(message: string, details?: Record<string, unknown>): VprError {
  return new VprError(
    'CORRUPT_REPOSITORY',
    `Git index is in a state VPR does not support: ${message}`,
    details === undefined ? {} : { details },
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Git's variable-length integer for version-4 prefix lengths: 7 bits a byte, with an offset per continuation. */
function readPrefixLength(data: Buffer, offset: number, end: number): [value: number, next: number] {
  let position = offset;
  const next = (): number => {
    if (position >= end) throw corrupt('a version-4 path prefix length runs past the entries');
    return data[position++] ?? 0;
  };
  let byte = next();
  let value = byte & 0x7f;
  while (byte & 0x80) {
    byte = next();
    value = (value + 1) * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw corrupt('a version-4 path prefix length is too large');
  }
  return [value, position];
}

/** Checks the trailing SHA-1. An all-zero trailer means git skipped hashing (index.skipHash), as git allows. */
function verifyChecksum(data: Buffer): void {
  const end = data.length - HASH_SIZE;
  const trailer = data.subarray(end);
  if (trailer.every((byte) => byte === 0)) return;
  const actual = createHash('sha1').update(data.subarray(0, end)).digest();
  if (!actual.equals(trailer)) throw corrupt('the trailing checksum does not match its contents');
}

/**
 * Refuses extensions whose meaning VPR would lose by skipping them. Optional extensions (an upper-case
 * first letter: TREE, REUC, UNTR, FSMN, EOIE, IEOT, ...) are caches or records git can rebuild.
 */
function checkExtension(signature: string, body: Buffer): void {
  if (/^[A-Z]/.test(signature)) return;
  if (signature === 'link') {
    // Split index: the entries here are only changes against a shared index file elsewhere.
    if (body.subarray(0, HASH_SIZE).some((byte) => byte !== 0)) {
      throw unsupported('it is a split index (core.splitIndex); run `git update-index --no-split-index`');
    }
    return;
  }
  if (signature === 'sdir') {
    throw unsupported('it is a sparse index (index.sparse); run `git sparse-checkout disable`');
  }
  throw unsupported(`it requires the '${signature.replace(/[^\x20-\x7e]/g, '?')}' extension`);
}

/** An entry as framed in the file, before its meaning is checked. */
interface RawEntry {
  readonly start: number;
  readonly flags: number;
  readonly extendedFlags: number;
  readonly name: Buffer;
}

/**
 * Frames the `count` entries that follow the header, checking only that each lies within the
 * entries and is well formed. Returns them and the offset just past the last one.
 */
function frameEntries(data: Buffer, version: number, count: number, end: number): [RawEntry[], number] {
  const entries: RawEntry[] = [];
  let offset = HEADER_SIZE;
  let previousName: Buffer = Buffer.alloc(0);
  for (let position = 0; position < count; position++) {
    const where = `entry ${position} of ${count}`;
    const start = offset;
    if (end - start < ENTRY_FIXED_SIZE) throw corrupt(`${where} runs past the end of the entries`);
    const flags = data.readUInt16BE(start + 60);
    let extendedFlags = 0;
    let fixedSize = ENTRY_FIXED_SIZE;
    if (flags & FLAG_EXTENDED) {
      if (version < 3) throw corrupt(`${where} has extended flags, which version 2 does not allow`);
      if (end - start < ENTRY_FIXED_SIZE + EXTENDED_FLAGS_SIZE) {
        throw corrupt(`${where} runs past the end of the entries`);
      }
      extendedFlags = data.readUInt16BE(start + ENTRY_FIXED_SIZE);
      if (extendedFlags & ~EXTENDED_KNOWN) throw corrupt(`${where} has unknown extended flags`);
      fixedSize += EXTENDED_FLAGS_SIZE;
    }

    const nameStart = start + fixedSize;
    const nameLength = flags & NAME_LENGTH_MASK;
    let name: Buffer;
    if (version === 4) {
      // Each path is stored as how much of the previous path to drop, then the new tail.
      const [strip, suffixStart] = readPrefixLength(data, nameStart, end);
      if (strip > previousName.length) throw corrupt(`${where} strips more of the previous path than it has`);
      const nul = data.indexOf(0, suffixStart);
      if (nul === -1 || nul >= end) throw corrupt(`${where} has an unterminated path`);
      name = Buffer.concat([
        previousName.subarray(0, previousName.length - strip),
        data.subarray(suffixStart, nul),
      ]);
      offset = nul + 1;
    } else {
      const nul = nameLength < NAME_LENGTH_MASK ? nameStart + nameLength : data.indexOf(0, nameStart);
      if (nul === -1 || nul >= end || data[nul] !== 0) throw corrupt(`${where} has an unterminated path`);
      name = data.subarray(nameStart, nul);
      offset = start + paddedEntrySize(fixedSize, name.length);
      if (offset > end) throw corrupt(`${where} runs past the end of the entries`);
    }
    if (Math.min(name.length, NAME_LENGTH_MASK) !== nameLength) {
      throw corrupt(`${where} records a path length that does not match its path`);
    }
    entries.push({ start, flags, extendedFlags, name });
    previousName = name;
  }
  return [entries, offset];
}

/** Walks the extensions between the entries and the checksum, refusing any VPR must not skip. */
function checkExtensions(data: Buffer, offset: number, end: number): void {
  let position = offset;
  while (position < end) {
    if (end - position < 8) throw corrupt('an extension header is truncated');
    const signature = data.toString('latin1', position, position + 4);
    const size = data.readUInt32BE(position + 4);
    const bodyStart = position + 8;
    if (size > end - bodyStart) throw corrupt('an extension runs past the end of the file');
    checkExtension(signature, data.subarray(bodyStart, bodyStart + size));
    position = bodyStart + size;
  }
}

/** Gives a framed entry its meaning, refusing what an IndexEntry cannot represent. */
function interpretEntry(data: Buffer, raw: RawEntry, where: string): IndexEntry {
  let path: string;
  try {
    path = utf8.decode(raw.name);
  } catch {
    throw unsupported(`${where} has a path that is not valid UTF-8`);
  }
  const details = { path };
  const problem = pathProblem(path);
  if (problem !== undefined) throw corrupt(`${where} has a path that ${problem}`, details);

  const stage = (raw.flags & FLAG_STAGE_MASK) >> FLAG_STAGE_SHIFT;
  if (stage !== 0) throw unsupported(`${where} is at merge conflict stage ${stage}`, details);
  if (raw.extendedFlags & EXTENDED_SKIP_WORKTREE) {
    throw unsupported(`${where} is marked skip-worktree`, details);
  }
  if (raw.extendedFlags & EXTENDED_INTENT_TO_ADD) {
    throw unsupported(`${where} is marked intent-to-add`, details);
  }

  const u32 = (at: number): number => data.readUInt32BE(raw.start + at);
  const mode = u32(24);
  if (mode === SPARSE_DIRECTORY_MODE) throw unsupported(`${where} is a sparse directory`, details);
  if (!ENTRY_MODES.has(mode)) throw corrupt(`${where} has invalid mode ${mode.toString(8)}`, details);

  return {
    path,
    id: data.toString('hex', raw.start + 40, raw.start + 60) as ObjectId,
    mode,
    stat: {
      ctimeSec: u32(0),
      ctimeNsec: u32(4),
      mtimeSec: u32(8),
      mtimeNsec: u32(12),
      dev: u32(16),
      ino: u32(20),
      uid: u32(28),
      gid: u32(32),
      size: u32(36),
    },
  };
}

/**
 * The stage-0 entries of an index file of version 2, 3 or 4, in file (that is, git's) order.
 * Verifies the trailing checksum and the structure, and skips optional extensions. Throws
 * VprError CORRUPT_REPOSITORY on corruption, and also when the index holds anything a list of
 * IndexEntry cannot represent faithfully: merge conflict stages, skip-worktree or intent-to-add
 * entries, sparse directories, a split index or a mandatory extension VPR does not know.
 */
export function decodeIndex(data: Buffer): IndexEntry[] {
  if (data.length < HEADER_SIZE + HASH_SIZE) throw corrupt('the file is too short');
  if (data.toString('latin1', 0, 4) !== SIGNATURE) throw corrupt("the file does not begin with 'DIRC'");
  const version = data.readUInt32BE(4);
  if (version < 2 || version > 4) throw unsupported(`version ${version} (only 2, 3 and 4 are understood)`);
  const count = data.readUInt32BE(8);
  verifyChecksum(data);

  // Extensions are checked before the entries' meaning: a split index, for one, stores entries
  // that make sense only together with its shared index.
  const end = data.length - HASH_SIZE;
  const [rawEntries, entriesEnd] = frameEntries(data, version, count, end);
  checkExtensions(data, entriesEnd, end);

  const entries: IndexEntry[] = [];
  let previous: RawEntry | undefined;
  for (const [position, raw] of rawEntries.entries()) {
    const where = `entry ${position} of ${count}`;
    const entry = interpretEntry(data, raw, where);
    const order = previous === undefined ? -1 : comparePathBytes(previous.name, raw.name);
    if (order === 0) {
      // Equal paths are legal in git only as the several stages of a conflict.
      throw unsupported(`${where} is one of several stages of a path in conflict`, { path: entry.path });
    }
    if (order > 0) throw corrupt(`${where} is out of order`, { path: entry.path });
    entries.push(entry);
    previous = raw;
  }
  checkNoFileDirectoryClash(
    entries.map(({ path }) => path),
    (path) => corrupt('a path lies inside another entry', { path }),
  );
  return entries;
}
