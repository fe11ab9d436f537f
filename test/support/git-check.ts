// Assertions made with the stock git CLI: a repository is clean (`git status --porcelain`
// empty) and sound (`git fsck --strict` exits 0 and reports no error or warning).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

/** A git plumbing command fed `input` on stdin (hash-object, mktree); answers its output, trimmed. */
export function plumb(dir: string, args: readonly string[], input: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('git', ['-C', dir, ...args], { env }, (error, stdout) =>
      error === null ? resolve(String(stdout).trim()) : reject(error),
    );
    child.stdin!.end(input);
  });
}

export async function git(dir: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', dir, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export async function assertCleanAndSound(dir: string): Promise<void> {
  assert.equal(
    await git(dir, ['status', '--porcelain', '--untracked-files=all']),
    '',
    `git status in ${dir}`,
  );
  const { stdout, stderr } = await run('git', ['-C', dir, 'fsck', '--strict', '--no-dangling'], { env });
  assert.doesNotMatch(
    `${stdout}${stderr}`,
    /error|warning|missing|broken|corrupt|garbage/i,
    `git fsck in ${dir}`,
  );
  assert.equal(await git(dir, ['rev-parse', '--abbrev-ref', 'HEAD']), 'main\n');
}
