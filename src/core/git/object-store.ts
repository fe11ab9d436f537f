// The object database of one repository: reads objects whether loose or packed (packs written
// by VPR or by `git repack`), and writes each batch of new objects as one packfile + index,
// fsynced and renamed into place, so a commit costs a handful of fsyncs however many objects
// it carries (see docs/adr/0002-one-pack-per-commit.md).
import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { VprError } from '../errors.js';
import { isErrno, syncDirectory, writeTempFile, type Durability } from '../fs/durable-file.js';
import type { GitObject, HashedObject, ObjectId, ObjectType } from './git-object.js';
import { looseObjectPath, readLooseObject } from './loose-object.js';
import { buildPack } from './pack-writer.js';
import { PackFile } from './pack-reader.js';

export class ObjectStore {
  readonly #gitDir: string;
  readonly #packDir: string;
  readonly #durability: Durability;
  /** Open packs by file name; refreshed from the directory when an object is not found. */
  #packs = new Map<string, PackFile>();
  #scanned = false;

  constructor(gitDir: string, durability: Durability) {
    this.#gitDir = gitDir;
    this.#packDir = join(gitDir, 'objects', 'pack');
    this.#durability = durability;
  }

  get packCount(): number {
    return this.#packs.size;
  }

  async #scanPacks(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#packDir);
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
      if (!this.#packs.has(name)) {
        try {
          this.#packs.set(name, await PackFile.open(join(this.#packDir, name), (id) => this.#readRaw(id)));
        } catch (error) {
          // A pack removed by a concurrent repack between readdir and open is simply gone.
          if (!isErrno(error, 'ENOENT')) throw error;
        }
      }
    }
    this.#scanned = true;
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
      const loose = await readLooseObject(this.#gitDir, id);
      if (loose !== undefined) return loose;
      if (attempt === 0) await this.#scanPacks();
    }
    return undefined;
  }

  async has(id: ObjectId): Promise<boolean> {
    if (!this.#scanned) await this.#scanPacks();
    if (this.#packHolding(id) !== undefined) return true;
    try {
      await stat(looseObjectPath(this.#gitDir, id));
      return true;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      throw error;
    }
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
   * Writes the objects not already present as one durable pack: pack and index written to temp
   * files and fsynced in parallel, renamed (pack first, as git does), then the directory fsynced.
   */
  async write(objects: readonly HashedObject[]): Promise<void> {
    const missing: HashedObject[] = [];
    const seen = new Set<ObjectId>();
    for (const object of objects) {
      if (seen.has(object.id)) continue;
      seen.add(object.id);
      if (!(await this.has(object.id))) missing.push(object);
    }
    if (missing.length === 0) return;
    const { pack, index, checksum } = buildPack(missing);
    const base = join(this.#packDir, `pack-${checksum}`);
    await mkdir(this.#packDir, { recursive: true });
    const [tmpPack, tmpIndex] = await Promise.all([
      writeTempFile(`${base}.pack`, pack, this.#durability, 'tmp_pack_'),
      writeTempFile(`${base}.idx`, index, this.#durability, 'tmp_idx_'),
    ]);
    try {
      await rename(tmpPack, `${base}.pack`);
      await rename(tmpIndex, `${base}.idx`);
    } catch (error) {
      await Promise.all([unlink(tmpPack).catch(() => undefined), unlink(tmpIndex).catch(() => undefined)]);
      throw error;
    }
    await syncDirectory(this.#packDir, this.#durability);
    const name = `pack-${checksum}.pack`;
    if (!this.#packs.has(name)) {
      this.#packs.set(name, await PackFile.open(`${base}.pack`, (id) => this.#readRaw(id)));
    }
  }

  /** Forgets open packs (after maintenance rewrote them) and closes their handles. */
  async close(): Promise<void> {
    const packs = [...this.#packs.values()];
    this.#packs = new Map();
    this.#scanned = false;
    await Promise.all(packs.map((pack) => pack.close()));
  }
}
