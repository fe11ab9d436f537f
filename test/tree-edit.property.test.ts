// Property: after any sequence of commits adding, rewriting and removing files at random nested
// paths, the stock git CLI sees exactly the files of a simple in-memory model, in HEAD and in the
// working tree, and every intermediate version reads back as the model had it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseRepoPath } from '../src/core/git/repo-path.js';
import { DEFAULT_REPOSITORY_OPTIONS, GitRepository } from '../src/core/git/repository.js';
import type { FileChange } from '../src/core/git/tree-edit.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import { tempDir } from './support/temp-dir.js';

const segment = fc.constantFrom('a', 'b', 'c.md', 'd e', 'ü', 'a-b', 'a.b');
const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
const content = fc.oneof(fc.string({ maxLength: 40 }), fc.constant('---\n# heading\n'), fc.constant(''));
const step = fc.array(fc.record({ path, content: fc.option(content, { nil: null }) }), {
  minLength: 1,
  maxLength: 4,
});

/** Applies a step to the model; returns the changes the engine should accept, or undefined if invalid. */
function applyToModel(model: Map<string, string>, step: { path: string; content: string | null }[]) {
  const next = new Map(model);
  const changes: FileChange[] = [];
  const seen = new Set<string>();
  for (const { path, content } of step) {
    if (seen.has(path)) return undefined;
    seen.add(path);
    const clash = [...next.keys(), ...seen].some(
      (other) => other !== path && (other.startsWith(`${path}/`) || path.startsWith(`${other}/`)),
    );
    if (clash) return undefined;
    if (content === null) {
      if (!next.has(path)) return undefined;
      next.delete(path);
      changes.push({ path: parseRepoPath(path), remove: true });
    } else {
      next.set(path, content);
      changes.push({ path: parseRepoPath(path), content: Buffer.from(content) });
    }
  }
  return { next, changes };
}

test('random commit sequences match a model, as seen by git', async (t) => {
  const root = await tempDir(t);
  let run = 0;
  let commits = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
      const repository = await GitRepository.layOut(join(root, `r${run++}`), {
        ...DEFAULT_REPOSITORY_OPTIONS,
        durability: 'none',
      });
      try {
        let model = new Map<string, string>([['.gitignore', 'files/\n']]);
        await repository.commit({
          parent: 'unborn',
          changes: [{ path: parseRepoPath('.gitignore'), content: Buffer.from('files/\n') }],
          identity: { name: 'Prop', email: 'prop@example.invalid' },
          message: 'x\n',
        });
        const versions: [string, Map<string, string>][] = [];
        for (const s of steps) {
          const applied = applyToModel(model, s);
          if (applied === undefined) continue;
          const result = await repository.commit({
            parent: 'current',
            changes: applied.changes,
            identity: { name: 'Prop', email: 'prop@example.invalid' },
            message: 'y\n',
          });
          model = applied.next;
          commits++;
          versions.push([result.id, model]);
        }
        await assertCleanAndSound(repository.dir);
        const listed = (await git(repository.dir, ['ls-tree', '-r', '-z', '--name-only', 'HEAD']))
          .split('\0')
          .filter(Boolean);
        assert.deepEqual(listed.sort(), [...model.keys()].sort());
        for (const [file, text] of model) {
          assert.equal(await readFile(join(repository.dir, file), 'utf8'), text);
        }
        for (const [version, files] of versions) {
          for (const [file, text] of files) {
            assert.equal((await repository.readFile(parseRepoPath(file), version as never)).toString(), text);
          }
        }
      } finally {
        await repository.close();
      }
    }),
    { numRuns: 25 },
  );
  assert.ok(commits >= 25, `the property exercised ${commits} commits`);
});
