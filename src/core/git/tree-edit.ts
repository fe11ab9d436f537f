// Tree editing and walking: applying a set of file changes to a root tree (building only the
// trees along the changed paths), finding the entry at a path, and listing every file of a
// tree with a bound on its size.
import { VprError, invalidInput } from '../errors.js';
import { hashObject, type HashedObject, type ObjectId } from './git-object.js';
import type { ObjectStore } from './object-store.js';
import { parseRepoPath, pathSegments, type RepoPath } from './repo-path.js';
import { FILE_MODE, TREE_MODE, decodeTree, encodeTree, isTreeEntry, type TreeEntry } from './tree-object.js';

/** One change to a repository's files: new content for a path, or its removal. */
export type FileChange =
  { readonly path: RepoPath; readonly content: Buffer } | { readonly path: RepoPath; readonly remove: true };

export const MAX_TREE_FILES = 100_000;

type ChangeNode = Map<string, Buffer | null | ChangeNode>;

function buildChangeTree(changes: readonly FileChange[]): ChangeNode {
  const root: ChangeNode = new Map();
  for (const change of changes) {
    const segments = pathSegments(change.path);
    let node = root;
    for (const [i, name] of segments.entries()) {
      const existing = node.get(name);
      if (i === segments.length - 1) {
        if (existing !== undefined)
          throw invalidInput('changes', 'a path is changed twice or is also a directory');
        node.set(name, 'content' in change ? change.content : null);
      } else {
        if (existing !== undefined && !(existing instanceof Map)) {
          throw invalidInput('changes', 'a path is used both as a file and as a directory');
        }
        const child: ChangeNode = existing ?? new Map();
        node.set(name, child);
        node = child;
      }
    }
  }
  return root;
}

function requireRegularFile(entry: TreeEntry): void {
  if (entry.mode !== FILE_MODE && entry.mode !== '100755') {
    throw new VprError('UNSAFE_PATH', 'the path names a symlink, submodule or other non-regular file');
  }
}

async function readTree(store: ObjectStore, id: ObjectId | undefined): Promise<TreeEntry[]> {
  return id === undefined ? [] : decodeTree((await store.read(id, 'tree')).body);
}

/** What an edit produced: every object to write, and the blob id of each written path. */
export interface EditOutput {
  readonly objects: HashedObject[];
  readonly blobs: Map<RepoPath, ObjectId>;
}

async function editTree(
  store: ObjectStore,
  treeId: ObjectId | undefined,
  changes: ChangeNode,
  out: EditOutput,
  prefix: string,
): Promise<ObjectId | undefined> {
  const entries = new Map((await readTree(store, treeId)).map((e) => [e.name, e]));
  for (const [name, change] of changes) {
    const existing = entries.get(name);
    if (change !== null && !(change instanceof Map)) {
      if (existing !== undefined && isTreeEntry(existing))
        throw invalidInput('changes', 'a file path names a directory');
      if (existing !== undefined) requireRegularFile(existing);
      const blob = hashObject({ type: 'blob', body: change });
      out.objects.push(blob);
      out.blobs.set(`${prefix}${name}` as RepoPath, blob.id);
      entries.set(name, { name, mode: FILE_MODE, id: blob.id });
    } else if (change === null) {
      if (existing === undefined || isTreeEntry(existing)) {
        throw new VprError('NOT_FOUND', 'a file to remove does not exist');
      }
      entries.delete(name);
    } else {
      if (existing !== undefined && !isTreeEntry(existing)) {
        throw invalidInput('changes', 'a directory path names a file');
      }
      const child = await editTree(store, existing?.id, change, out, `${prefix}${name}/`);
      if (child === undefined) entries.delete(name);
      else entries.set(name, { name, mode: TREE_MODE, id: child });
    }
  }
  if (entries.size === 0) return undefined;
  const tree = hashObject({ type: 'tree', body: encodeTree([...entries.values()]) });
  out.objects.push(tree);
  return tree.id;
}

/**
 * Applies `changes` to the tree `root`; returns the new root, every object to write and the blob
 * id of each written path (so the working tree and index need not hash the content again).
 */
export async function applyChanges(
  store: ObjectStore,
  root: ObjectId | undefined,
  changes: readonly FileChange[],
): Promise<{ root: ObjectId } & EditOutput> {
  if (changes.length === 0) throw invalidInput('changes', 'a commit must change at least one file');
  const out: EditOutput = { objects: [], blobs: new Map() };
  const newRoot = await editTree(store, root, buildChangeTree(changes), out, '');
  if (newRoot !== undefined) return { root: newRoot, ...out };
  const empty = hashObject({ type: 'tree', body: Buffer.alloc(0) });
  return { root: empty.id, objects: [...out.objects, empty], blobs: out.blobs };
}

/** The tree entry at `path`, or undefined when nothing is there. */
export async function findEntry(
  store: ObjectStore,
  root: ObjectId,
  path: RepoPath,
): Promise<TreeEntry | undefined> {
  let treeId: ObjectId = root;
  const segments = pathSegments(path);
  for (const [i, name] of segments.entries()) {
    const entry = (await readTree(store, treeId)).find((e) => e.name === name);
    if (entry === undefined) return undefined;
    if (i === segments.length - 1) return entry;
    if (!isTreeEntry(entry)) return undefined;
    treeId = entry.id;
  }
  return undefined;
}

export interface TreeFile {
  readonly path: RepoPath;
  readonly id: ObjectId;
  readonly mode: string;
}

/** Every file of a tree, depth first; refuses trees larger than MAX_TREE_FILES. */
export async function listTreeFiles(store: ObjectStore, root: ObjectId): Promise<TreeFile[]> {
  const files: TreeFile[] = [];
  const walk = async (treeId: ObjectId, prefix: string): Promise<void> => {
    for (const entry of await readTree(store, treeId)) {
      const path = `${prefix}${entry.name}`;
      if (isTreeEntry(entry)) await walk(entry.id, `${path}/`);
      else files.push({ path: parseRepoPath(path), id: entry.id, mode: entry.mode });
      if (files.length > MAX_TREE_FILES) {
        throw new VprError('CORRUPT_REPOSITORY', `a tree holds more than ${MAX_TREE_FILES} files`);
      }
    }
  };
  await walk(root, '');
  return files;
}

/** How a file differs between two trees. */
export interface PathChange {
  readonly path: RepoPath;
  readonly status: 'added' | 'modified' | 'removed';
  /** The file's content id on the newer side (absent when removed). */
  readonly id?: ObjectId;
}

/**
 * The files that differ between trees `before` and `after` (either may be absent), descending
 * only into subtrees whose ids differ, so the cost follows the size of the change.
 */
export async function diffTrees(
  store: ObjectStore,
  before: ObjectId | undefined,
  after: ObjectId | undefined,
): Promise<PathChange[]> {
  const changes: PathChange[] = [];
  const walk = async (a: ObjectId | undefined, b: ObjectId | undefined, prefix: string): Promise<void> => {
    if (a === b) return;
    const left = new Map((await readTree(store, a)).map((e) => [e.name, e]));
    const right = new Map((await readTree(store, b)).map((e) => [e.name, e]));
    for (const name of new Set([...left.keys(), ...right.keys()])) {
      const l = left.get(name);
      const r = right.get(name);
      if (l?.id === r?.id && l?.mode === r?.mode) continue;
      const path = `${prefix}${name}`;
      const lTree = l !== undefined && isTreeEntry(l) ? l.id : undefined;
      const rTree = r !== undefined && isTreeEntry(r) ? r.id : undefined;
      if (lTree !== undefined || rTree !== undefined) await walk(lTree, rTree, `${path}/`);
      const lFile = l !== undefined && !isTreeEntry(l) ? l : undefined;
      const rFile = r !== undefined && !isTreeEntry(r) ? r : undefined;
      if (lFile === undefined && rFile !== undefined)
        changes.push({ path: parseRepoPath(path), status: 'added', id: rFile.id });
      else if (lFile !== undefined && rFile === undefined)
        changes.push({ path: parseRepoPath(path), status: 'removed' });
      else if (lFile !== undefined && rFile !== undefined) {
        changes.push({ path: parseRepoPath(path), status: 'modified', id: rFile.id });
      }
      if (changes.length > MAX_TREE_FILES) {
        throw new VprError('CORRUPT_REPOSITORY', `a change touches more than ${MAX_TREE_FILES} files`);
      }
    }
  };
  await walk(before, after, '');
  return changes;
}
