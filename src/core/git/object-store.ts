// The object database of one repository: reads objects whether loose or packed (packs written
// by VPR or by `git repack`), and writes each batch of new objects as one packfile + index,
// fsynced and renamed into place, so a commit costs a handful of fsyncs however many objects
// it carries (see docs/adr/0002-one-pack-per-commit.md). Renaming packs into place goes to the
// thread pool: under load it waits on the filesystem's journal behind other writers' fsyncs,
// which blocked every request while it ran on the main thread. Listing the pack directory
// stays synchronous: in the pool a first read queued behind those fsyncs, which measured worse
// (docs/adr/0015-write-path-under-load.md).
import { readdirSync, statSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { VprError } from '../errors.js';
import { isErrno, syncDirectory, unlinkQuietly, writeTempFile, type Durability } from '../fs/durable-file.js';
import type { GitObject, HashedObject, ObjectId, ObjectType } from './git-object.js';
import { looseObjectPath, readLooseObject } from './loose-object.js';
import { buildPack } from './pack-writer.js';
import { PackFile, type PackOpenOptions } from './pack-reader.js';

/** A pack written to temp files and fsynced, not yet visible to readers. */
export interface StagedPack {
  /** Renames pack and index into place (pack first, as git does) and fsyncs the directory. */
  publish(): Promise<void>;
  /** Removes the temp files; the repository is as before. */
  discard(): void;
}

export class ObjectStore {
  readonly #gitDir: string;
  readonly #packDir: string;
  readonly #durability: Durability;
  readonly #packOptions: PackOpenOptions;
  /** Open packs by file name; refreshed from the directory when an object is not found. */
  #packs = new Map<string, PackFile>();
  #scanned = false;
  /** The last scan queued: scans run one at a time, so no pack is opened twice. */
  #scanning: Promise<void> | undefined;

  constructor(gitDir: string, durability: Durability, packOptions: PackOpenOptions = {}) {
    this.#gitDir = gitDir;
    this.#packDir = join(gitDir, 'objects', 'pack');
    this.#durability = durability;
    this.#packOptions = packOptions;
  }

  get packCount(): number {
    return this.#packs.size;
  }

  /**
   * Lists the pack directory and opens what is new. Callers share a scan in flight, except a
   * `fresh` one (after an object was not found), which lists the directory after it was called.
   */
  #scanPacks(fresh = false): Promise<void> {
    if (this.#scanning !== undefined && !fresh) return this.#scanning;
    const scan: Promise<void> = (this.#scanning ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.#scan())
      .finally(() => {
        if (this.#scanning === scan) this.#scanning = undefined;
      });
    this.#scanning = scan;
    return scan;
  }

  async #scan(): Promise<void> {
    let names: string[];
    try {
      names = readdirSync(this.#packDir);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) names = [];
      else throw error;
    }
    const present = new Set(
      names.filter((n) => n.endsWith('.pack') && names.includes(n.replace(/\.pack$/, '.idx'))),
    );
    for (const [name, pack] of this.#packs) {
      if (!present.has(name)) {
        this.#packs.delete(name);
        await pack.close();
      }
    }
    for (const name of present) {
      if (!this.#packs.has(name)) await this.#openPack(name);
    }
    this.#scanned = true;
  }

  async #openPack(name: string): Promise<void> {
    try {
      this.#packs.set(
        name,
        await PackFile.open(join(this.#packDir, name), (id) => this.#readRaw(id), this.#packOptions),
      );
    } catch (error) {
      // A pack removed by a concurrent repack between readdir and open is simply gone.
      if (!isErrno(error, 'ENOENT')) throw error;
    }
  }

  #packHolding(id: ObjectId): PackFile | undefined {
    for (const pack of this.#packs.values()) if (pack.has(id)) return pack;
    return undefined;
  }

  async #readRaw(id: ObjectId): Promise<GitObject | undefined> {
    if (!this.#scanned) await this.#scanPacks();
    for (let attempt = 0; attempt < 2; attempt++) {
      const pack = this.#packHolding(id);
      if (pack !== undefined) {
        try {
          const found = await pack.read(id);
          if (found !== undefined) return found;
        } catch (error) {
          if (!isErrno(error, 'ENOENT') && !isErrno(error, 'EBADF')) throw error;
        }
      }
      const loose = readLooseObject(this.#gitDir, id);
      if (loose !== undefined) return loose;
      if (attempt === 0) await this.#scanPacks(true);
    }
    return undefined;
  }

  async has(id: ObjectId): Promise<boolean> {
    if (!this.#scanned) await this.#scanPacks();
    if (this.#packHolding(id) !== undefined) return true;
    return statSync(looseObjectPath(this.#gitDir, id), { throwIfNoEntry: false }) !== undefined;
  }

  /** Reads an object that the repository's history says must exist; absence is corruption. */
  async read(id: ObjectId, expectedType?: ObjectType): Promise<GitObject> {
    const object = await this.#readRaw(id);
    if (object === undefined) {
      throw new VprError('CORRUPT_REPOSITORY', 'an object referenced by the repository is missing', {
        details: { id },
      });
    }
    if (expectedType !== undefined && object.type !== expectedType) {
      throw new VprError('CORRUPT_REPOSITORY', `an object is a ${object.type}, expected a ${expectedType}`, {
        details: { id },
      });
    }
    return object;
  }

  /**
   * Writes the objects not already present as one pack and index in temp files, fsynced in
   * parallel. Nothing is visible until `publish`; undefined when every object exists already.
   */
  async stage(objects: readonly HashedObject[]): Promise<StagedPack | undefined> {
    if (!this.#scanned) await this.#scanPacks();
    const missing: HashedObject[] = [];
    const seen = new Set<ObjectId>();
    for (const object of objects) {
      if (seen.has(object.id)) continue;
      seen.add(object.id);
      // Packs only: a loose copy (only the git CLI writes those) is simply packed again.
      if (this.#packHolding(object.id) === undefined) missing.push(object);
    }
    if (missing.length === 0) return undefined;
    const { pack, index, checksum } = buildPack(missing);
    const name = `pack-${checksum}`;
    const base = join(this.#packDir, name);
    const written = await Promise.allSettled([
      writeTempFile(`${base}.pack`, pack, this.#durability, 'tmp_pack_'),
      writeTempFile(`${base}.idx`, index, this.#durability, 'tmp_idx_'),
    ]);
    const temps = written.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = written.find((r) => r.status === 'rejected');
    if (failure !== undefined) {
      temps.forEach(unlinkQuietly);
      throw failure.reason;
    }
    const [tmpPack, tmpIndex] = temps as [string, string];
    return {
      discard: () => [tmpPack, tmpIndex].forEach(unlinkQuietly),
      publish: async () => {
        try {
          await rename(tmpPack, `${base}.pack`);
          await rename(tmpIndex, `${base}.idx`);
        } catch (error) {
          [tmpPack, tmpIndex].forEach(unlinkQuietly);
          throw error;
        }
        await syncDirectory(this.#packDir, this.#durability);
        if (!this.#packs.has(`${name}.pack`)) await this.#openPack(`${name}.pack`);
      },
    };
  }

  /** Forgets open packs (after maintenance rewrote them) and closes their handles. */
  async close(): Promise<void> {
    const packs = [...this.#packs.values()];
    this.#packs = new Map();
    this.#scanned = false;
    await Promise.all(packs.map((pack) => pack.close()));
  }
}
