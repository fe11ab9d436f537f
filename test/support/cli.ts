// The built `vpr` command run as a subprocess, for the tests of the command line: its exit code
// and output, and its `--json` answers parsed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

import type { Json } from './service.js';

export type { Json };

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI; `input` is written to its standard input. */
export function vpr(
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string; cwd?: string } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      CLI,
      [...args],
      {
        env: { ...process.env, NO_COLOR: '1', ...options.env },
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
    );
    child.stdin?.end(options.input ?? '');
  });
}

/** Runs and expects success; answers the parsed --json output. */
export async function json(args: readonly string[], options: Parameters<typeof vpr>[1] = {}): Promise<Json> {
  const run = await vpr([...args, '--json'], options);
  assert.equal(run.code, 0, `vpr ${args.join(' ')}: ${run.stderr}`);
  return JSON.parse(run.stdout) as Json;
}
