// The content-addressed store of one repository's binary files. The bytes live outside Git, in
// the repository's `files/` directory (its .gitignore holds `files/`), at
// `files/sha256/<h0h1>/<h2h3>/<sha256>`: identical bytes are stored once, and a stored file is
// never changed. Git holds only the metadata that names a file by its hash.
//
// An upload streams through a temp file in `files/tmp/` (never held whole in memory) while its
// SHA-256 and size are computed; it is fsynced, then hard-linked to its content path, which
// fails rather than replaces when the path exists, so of two uploads of the same bytes exactly
// one reports `created`. On any failure the temp file (and a content file this call made) is
// removed. Every directory on the way must be a real directory, checked with lstat, and content
// files are opened with O_NOFOLLOW, so a symlink planted in `files/` never redirects a write or
// a read. Reads re-hash the bytes, so a damaged file is refused and never served as complete.
//
// `put` and `discard` must run under the repository's write lock: `discard` (after a failed
// commit) removes a file its `put` created, which must not race with a commit that has just
// come to reference the same bytes.
import { createHash, randomBytes } from 'node:crypto';
import { constants, linkSync, lstatSync, mkdirSync, renameSync, unlinkSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { VprError, invalidInput } from '../errors.js';
import {
  isErrno,
  syncDescriptor,
  syncDirectory,
  unlinkQuietly,
  type Durability,
} from '../fs/durable-file.js';
import { SNIFF_BYTES, sniffMediaType } from './media-type.js';

/** A SHA-256 content hash: 64 lowercase hexadecimal characters. */
export const FILE_HASH_PATTERN = /^[0-9a-f]{64}$/;

/** A validated content hash (see FILE_HASH_PATTERN). */
export type FileHash = string & { readonly __brand: 'FileHash' };

/** The directory, relative to the repository root, that holds the store (ignored by Git). */
export const FILES_DIR = 'files';
const CONTENT_DIR = 'sha256';
const TEMP_DIR = 'tmp';
const TEMP_SUFFIX = '.upload';
const MAX_FILENAME_BYTES = 255;
const READ_CHUNK_BYTES = 64 * 1024;
/** Stored files are immutable; read-only on disk says so to anyone looking. */
const CONTENT_MODE = 0o444;
const DIRECTORY_MODE = 0o755;
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
// O_NONBLOCK so that a FIFO swapped in after the lstat cannot hang the open; fstat then refuses it.
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

// Control characters (C0, DEL, C1), the Unicode line and paragraph separators, lone surrogates.
const CONTROL_CHARACTERS = /[\p{Cc}\u2028\u2029]/u;
const LONE_SURROGATE = /\p{Cs}/u;

/** A file in the store, as `put` reports it; the caller records it in Git. */
export interface StoredFile {
  readonly hash: FileHash;
  readonly hashAlgorithm: 'sha256';
  /** Relative to the repository root: `files/sha256/ab/cd/<hash>`. */
  readonly relativePath: string;
  readonly sizeBytes: number;
  /** Best-effort guess from the first bytes (media-type.ts); not authoritative clinically. */
  readonly mediaType: string;
  readonly originalFilename: string;
  /** When the upload finished, ISO 8601 UTC. */
  readonly storedAt: string;
  /** True when this call stored the bytes; false when they were in the store already. */
  readonly created: boolean;
}

export interface FileStoreOptions {
  readonly durability: Durability;
  /** The largest file accepted, in bytes; a larger upload is refused with PAYLOAD_TOO_LARGE. */
  readonly maxBytes: number;
}

/** Parses a content hash; anything but 64 lowercase hex characters is INVALID_INPUT. */
export function parseFileHash(value: unknown, field = 'hash'): FileHash {
  if (typeof value !== 'string' || !FILE_HASH_PATTERN.test(value))
    throw invalidInput(field, 'must be 64 lowercase hexadecimal characters');
  return value as FileHash;
}

/** The path of a file's bytes relative to the repository root: `files/sha256/ab/cd/<hash>`. */
export function fileRelativePath(hash: string): string {
  const valid = parseFileHash(hash);
  return `${FILES_DIR}/${CONTENT_DIR}/${valid.slice(0, 2)}/${valid.slice(2, 4)}/${valid}`;
}

/**
 * Parses the name a file was uploaded with: a plain file name, trimmed, of 1 to 255 bytes of
 * UTF-8. A name that is or looks like a path (contains `/` or `\`, or is `.` or `..`) is
 * UNSAFE_PATH; every other failure (not a string, empty, control characters, line separators,
 * ill-formed Unicode, too long) is INVALID_INPUT. The name is metadata only: bytes are stored
 * by hash, never under this name.
 */
export function parseOriginalFilename(value: unknown, field = 'filename'): string {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string');
  const name = value.trim();
  if (name.length === 0) throw invalidInput(field, 'must not be empty');
  if (name.includes('/') || name.includes('\\') || name === '.' || name === '..')
    throw new VprError('UNSAFE_PATH', `${field} must be a plain file name, not a path`, {
      details: { field },
    });
  if (CONTROL_CHARACTERS.test(name)) throw invalidInput(field, 'must not contain control characters');
  if (LONE_SURROGATE.test(name)) throw invalidInput(field, 'must be well-formed Unicode');
  if (Buffer.byteLength(name, 'utf8') > MAX_FILENAME_BYTES)
    throw invalidInput(field, `must be at most ${MAX_FILENAME_BYTES} bytes of UTF-8`);
  return name;
}

function unsafeDirectory(): VprError {
  return new VprError('UNSAFE_PATH', 'a file-store directory is a symlink or not a directory');
}

function unsafeFile(): VprError {
  return new VprError('UNSAFE_PATH', 'a file-store path is a symlink or not a regular file');
}

function missing(hash: FileHash): VprError {
  return new VprError('NOT_FOUND', 'the file is missing from the file store', { details: { hash } });
}

function corrupt(hash: FileHash): VprError {
  return new VprError('CORRUPT_REPOSITORY', 'the stored file does not match its hash', {
    details: { hash },
  });
}

/** Keeps VprErrors as they are and wraps anything else (an unexpected I/O failure). */
function asVprError(error: unknown, message: string): VprError {
  return error instanceof VprError ? error : new VprError('STORAGE_FAILURE', message, { cause: error });
}

function lstatOrUndefined(path: string): Stats | undefined {
  return lstatSync(path, { throwIfNoEntry: false });
}

/** Makes `dir` a real directory, creating it when absent; true when this call created it. */
function ensureRealDirectory(dir: string): boolean {
  const info = lstatOrUndefined(dir);
  if (info !== undefined) {
    if (!info.isDirectory()) throw unsafeDirectory();
    return false;
  }
  try {
    mkdirSync(dir, DIRECTORY_MODE);
    return true;
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error;
    // Made by a concurrent upload a moment ago: it still has to be a real directory.
    if (lstatOrUndefined(dir)?.isDirectory() !== true) throw unsafeDirectory();
    return false;
  }
}

/** True when each of `dirs` (outermost first) is a real directory, false when one is absent. */
function realDirectoriesExist(dirs: readonly string[]): boolean {
  for (const dir of dirs) {
    const info = lstatOrUndefined(dir);
    if (info === undefined) return false;
    if (!info.isDirectory()) throw unsafeDirectory();
  }
  return true;
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let written = 0;
  while (written < chunk.length) {
    const result = await handle.write(chunk, written, chunk.length - written);
    written += result.bytesWritten;
  }
}

/** Opens an existing content file for reading, refusing symlinks and anything not a regular file. */
async function openContentFile(path: string, hash: FileHash): Promise<FileHandle> {
  const info = lstatOrUndefined(path);
  if (info === undefined) throw missing(hash);
  if (!info.isFile()) throw unsafeFile();
  let handle: FileHandle;
  try {
    handle = await open(path, READ_FLAGS);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) throw missing(hash);
    if (isErrno(error, 'ELOOP')) throw unsafeFile();
    throw error;
  }
  try {
    if (!(await handle.stat()).isFile()) throw unsafeFile();
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
  return handle;
}

/** SHA-256 and size of everything from the handle's current position to the end. */
async function digestOf(handle: FileHandle): Promise<{ hash: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  let sizeBytes = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    sizeBytes += bytesRead;
  }
  return { hash: hash.digest('hex'), sizeBytes };
}

/** Stops a source that will not be read to its end (a generator runs its `finally`). */
async function stopSource(iterator: AsyncIterator<unknown>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // The upload is being refused already; how the source stops does not change that.
  }
}

interface Received {
  readonly hash: FileHash;
  readonly sizeBytes: number;
  readonly head: Buffer;
}

type Placement = 'created' | 'existing' | 'repaired';

/** The content-addressed file store of the repository at `repoDir`. */
export class FileStore {
  readonly #repoDir: string;
  readonly #durability: Durability;
  readonly #maxBytes: number;

  constructor(repoDir: string, options: FileStoreOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1)
      throw new VprError('INTERNAL', 'the file store needs a positive whole number for maxBytes');
    this.#repoDir = repoDir;
    this.#durability = options.durability;
    this.#maxBytes = options.maxBytes;
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  #filesDir(): string {
    return join(this.#repoDir, FILES_DIR);
  }

  /** `files`, `files/sha256` and the two shard directories of `hash`, outermost first. */
  #contentDirs(hash: FileHash): readonly [string, string, string, string] {
    const files = this.#filesDir();
    const root = join(files, CONTENT_DIR);
    const outer = join(root, hash.slice(0, 2));
    return [files, root, outer, join(outer, hash.slice(2, 4))];
  }

  /**
   * Streams `source` into the store and reports the stored file. The name is checked before any
   * byte is read; an empty upload is INVALID_INPUT, one over `maxBytes` is PAYLOAD_TOO_LARGE
   * (reading stops there), a symlink in the way is UNSAFE_PATH, a failing source is
   * INVALID_INPUT and a failing disk STORAGE_FAILURE. On every failure nothing is kept. A
   * refusal before the first byte leaves the source untouched; a later one stops it (`return`).
   */
  async put(
    source: AsyncIterable<Buffer | Uint8Array>,
    input: { originalFilename: string },
  ): Promise<StoredFile> {
    const originalFilename = parseOriginalFilename(input.originalFilename);
    let tempPath: string | undefined;
    let createdPath: string | undefined;
    try {
      const files = this.#filesDir();
      const madeDirs: string[] = [];
      // The whole way to the content root is checked (and made) before the upload is read.
      for (const dir of [files, join(files, TEMP_DIR), join(files, CONTENT_DIR)])
        if (ensureRealDirectory(dir)) madeDirs.push(dir);
      const upload = join(files, TEMP_DIR, `${randomBytes(12).toString('hex')}${TEMP_SUFFIX}`);
      const received = await this.#receive(source, upload); // removes the temp file if it fails
      tempPath = upload;
      const mediaType = await sniffMediaType(received.head, {
        complete: received.sizeBytes <= received.head.length,
      });

      const [, , outer, inner] = this.#contentDirs(received.hash);
      for (const dir of [outer, inner]) if (ensureRealDirectory(dir)) madeDirs.push(dir);
      const contentPath = join(inner, received.hash);
      const placement = await placeContent(tempPath, contentPath, received);
      if (placement === 'created') createdPath = contentPath;
      if (placement !== 'repaired') unlinkQuietly(tempPath); // a repair renamed it into place
      tempPath = undefined;

      // Make durable every directory entry this upload added: new directories and the file.
      const changed = new Set(madeDirs.map((dir) => dirname(dir)));
      if (placement !== 'existing') changed.add(inner);
      for (const dir of changed) await syncDirectory(dir, this.#durability);

      return {
        hash: received.hash,
        hashAlgorithm: 'sha256',
        relativePath: fileRelativePath(received.hash),
        sizeBytes: received.sizeBytes,
        mediaType,
        originalFilename,
        storedAt: new Date().toISOString(),
        created: placement === 'created',
      };
    } catch (error) {
      if (tempPath !== undefined) unlinkQuietly(tempPath);
      if (createdPath !== undefined) unlinkQuietly(createdPath);
      throw asVprError(error, 'the file could not be stored; nothing was kept');
    }
  }

  /**
   * Copies the source into a new temp file, hashing and counting as it goes, and fsyncs it.
   * On failure the temp file is removed (only once this call has created it).
   */
  async #receive(source: AsyncIterable<Buffer | Uint8Array>, tempPath: string): Promise<Received> {
    const handle = await open(tempPath, WRITE_FLAGS, CONTENT_MODE);
    const iterator = source[Symbol.asyncIterator]();
    const hash = createHash('sha256');
    const head = Buffer.alloc(SNIFF_BYTES);
    let headLength = 0;
    let sizeBytes = 0;
    let sourceEnded = false;
    try {
      for (;;) {
        let step: IteratorResult<Buffer | Uint8Array>;
        try {
          step = await iterator.next();
        } catch (error) {
          sourceEnded = true;
          if (error instanceof VprError) throw error;
          throw new VprError('INVALID_INPUT', 'file: the upload could not be read to its end', {
            details: { field: 'file' },
            cause: error,
          });
        }
        if (step.done === true) {
          sourceEnded = true;
          break;
        }
        const chunk: unknown = step.value;
        if (!(chunk instanceof Uint8Array)) throw new VprError('INTERNAL', 'an upload chunk is not bytes');
        if (chunk.length === 0) continue;
        if (sizeBytes + chunk.length > this.#maxBytes)
          throw new VprError('PAYLOAD_TOO_LARGE', `the file is larger than ${this.#maxBytes} bytes`, {
            details: { field: 'file', maxBytes: this.#maxBytes },
          });
        sizeBytes += chunk.length;
        hash.update(chunk);
        if (headLength < SNIFF_BYTES) {
          const take = chunk.subarray(0, SNIFF_BYTES - headLength);
          head.set(take, headLength);
          headLength += take.length;
        }
        await writeAll(handle, chunk);
      }
      if (sizeBytes === 0) throw invalidInput('file', 'must not be empty');
      await syncDescriptor(handle.fd, this.#durability);
    } catch (error) {
      if (!sourceEnded) await stopSource(iterator);
      await handle.close().catch(() => undefined);
      unlinkQuietly(tempPath);
      throw error;
    }
    try {
      await handle.close();
    } catch (error) {
      unlinkQuietly(tempPath);
      throw error;
    }
    return { hash: hash.digest('hex') as FileHash, sizeBytes, head: head.subarray(0, headLength) };
  }

  /**
   * Removes a file's bytes if `put` created them (`file.created`); a file that was in the store
   * already is kept, since other versions may reference it. Idempotent.
   */
  async discard(file: StoredFile): Promise<void> {
    if (!file.created) return;
    const hash = parseFileHash(file.hash);
    try {
      const dirs = this.#contentDirs(hash);
      if (!realDirectoriesExist(dirs)) return;
      const contentPath = join(dirs[3], hash);
      const info = lstatOrUndefined(contentPath);
      if (info === undefined) return;
      if (!info.isFile()) throw unsafeFile();
      try {
        unlinkSync(contentPath);
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return;
        throw error;
      }
      await syncDirectory(dirs[3], this.#durability);
    } catch (error) {
      throw asVprError(error, 'the stored file could not be removed');
    }
  }

  /**
   * Reads a stored file whole and checks it against its hash: NOT_FOUND when it is missing,
   * CORRUPT_REPOSITORY when its bytes differ, UNSAFE_PATH when a symlink is in the way.
   */
  async verify(hash: string): Promise<{ sizeBytes: number }> {
    const valid = parseFileHash(hash);
    try {
      const handle = await this.#openContent(valid);
      try {
        const actual = await digestOf(handle);
        if (actual.hash !== valid) throw corrupt(valid);
        return { sizeBytes: actual.sizeBytes };
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw asVprError(error, 'the stored file could not be read');
    }
  }

  /**
   * A stream of a stored file's bytes. It re-hashes what it reads and holds the last chunk back
   * until the hash is checked: a file changed since `verify` makes the stream fail with
   * CORRUPT_REPOSITORY before it has delivered every byte, so it is never served as complete.
   */
  async open(hash: string): Promise<Readable> {
    const valid = parseFileHash(hash);
    try {
      return new VerifyingReader(await this.#openContent(valid), valid);
    } catch (error) {
      throw asVprError(error, 'the stored file could not be read');
    }
  }

  async #openContent(hash: FileHash): Promise<FileHandle> {
    const dirs = this.#contentDirs(hash);
    if (!realDirectoriesExist(dirs)) throw missing(hash);
    return openContentFile(join(dirs[3], hash), hash);
  }
}

/**
 * Puts the verified temp file at its content path. A hard link never replaces what is there, so
 * a concurrent upload of the same bytes cannot be overwritten: the one whose link lands created
 * the file. An existing file is reused when its bytes match; a damaged one (bytes that no longer
 * match their name) is replaced by the upload's, which are known to match.
 */
async function placeContent(tempPath: string, contentPath: string, received: Received): Promise<Placement> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      linkSync(tempPath, contentPath);
      return 'created';
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
    let existing: FileHandle;
    try {
      existing = await openContentFile(contentPath, received.hash);
    } catch (error) {
      if (isVanished(error)) continue; // removed between the link and the look: link again
      throw error;
    }
    let intact: boolean;
    try {
      const actual = await digestOf(existing);
      intact = actual.hash === received.hash && actual.sizeBytes === received.sizeBytes;
    } finally {
      await existing.close();
    }
    if (intact) return 'existing';
    renameSync(tempPath, contentPath);
    return 'repaired';
  }
  throw new VprError('STORAGE_FAILURE', 'the stored file kept disappearing while it was being stored');
}

function isVanished(error: unknown): boolean {
  return error instanceof VprError && error.code === 'NOT_FOUND';
}

/** Streams a content file, re-hashing it, and refuses to finish if the hash differs. */
class VerifyingReader extends Readable {
  readonly #handle: FileHandle;
  readonly #expected: FileHash;
  readonly #hash = createHash('sha256');
  /** The chunk read last, handed on only once the next read shows more is coming (or the hash holds). */
  #held: Buffer | undefined;
  #pending: Promise<void> | undefined;

  constructor(handle: FileHandle, expected: FileHash) {
    super({ highWaterMark: READ_CHUNK_BYTES });
    this.#handle = handle;
    this.#expected = expected;
  }

  override _read(): void {
    const pending = this.#readNext();
    this.#pending = pending;
    pending.then(
      () => undefined,
      (error: unknown) => this.destroy(asVprError(error, 'the stored file could not be read')),
    );
  }

  async #readNext(): Promise<void> {
    for (;;) {
      const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      const { bytesRead } = await this.#handle.read(buffer, 0, buffer.length, null);
      if (this.destroyed) return;
      if (bytesRead === 0) {
        if (this.#hash.digest('hex') !== this.#expected) throw corrupt(this.#expected);
        if (this.#held !== undefined) this.push(this.#held);
        this.#held = undefined;
        this.push(null);
        return;
      }
      const chunk = buffer.subarray(0, bytesRead);
      this.#hash.update(chunk);
      const previous = this.#held;
      this.#held = chunk;
      if (previous !== undefined) {
        this.push(previous);
        return;
      }
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const pending = this.#pending ?? Promise.resolve();
    pending
      .catch(() => undefined)
      .then(() => this.#handle.close())
      .then(
        () => callback(error),
        (closeError: unknown) =>
          callback(error ?? asVprError(closeError, 'the stored file could not be closed')),
      );
  }
}
