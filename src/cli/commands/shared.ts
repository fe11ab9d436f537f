// What the command groups share: reading a request body from a file or standard input (JSON or
// YAML, parsed with the service's own rules), the ETag dance for updates, and printing a write.
import { readFile } from 'node:fs/promises';
import { invalidInput } from '../../core/errors.js';
import { parseYamlMapping } from '../../core/yaml-mapping.js';
import type { CliContext, WriteOutcome } from '../context.js';
import type { View } from '../output.js';

/** Text from a file, or from standard input for `-`. */
export async function readText(path: string): Promise<string> {
  if (path !== '-') {
    try {
      return await readFile(path, 'utf8');
    } catch {
      throw invalidInput('--input', `cannot read ${path}`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A request body from a JSON or YAML file (or `-`): one mapping. */
export async function readBody(path: string | undefined, what = '--input'): Promise<Record<string, unknown>> {
  if (path === undefined) throw invalidInput(what, 'name a JSON or YAML file, or - for standard input');
  const text = await readText(path);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value))
        return value as Record<string, unknown>;
    } catch {
      throw invalidInput(what, 'is not valid JSON');
    }
    throw invalidInput(what, 'must hold one object');
  }
  const mapping = parseYamlMapping(text);
  if (mapping === undefined) throw invalidInput(what, 'is neither a JSON object nor a YAML mapping');
  return mapping as Record<string, unknown>;
}

/** The `If-Match` of an update: as given, or the current ETag read just before. */
export async function ifMatch(ctx: CliContext, given: string | undefined, path: string): Promise<string> {
  if (given !== undefined) return given.startsWith('"') ? given : `"${given}"`;
  const current = await ctx.send({ method: 'GET', path });
  return current.headers.etag ?? '';
}

/** Prints a write: the answer through `view`, or the signed commit that landed. */
export function printWrite<T>(
  ctx: CliContext,
  outcome: WriteOutcome,
  view: View<T>,
  id?: (answer: T) => string | undefined,
): void {
  if (!outcome.signed) {
    ctx.out.answer(outcome.answer.body as T, view, id);
    return;
  }
  const signed = outcome.outcome;
  if (!signed.landed) {
    ctx.out.answer(signed.response as T, view, id);
    return;
  }
  ctx.out.answer(
    signed,
    {
      kind: 'text',
      text: (s) => `signed commit ${s.commit} landed in the ${s.repository} repository`,
    },
    (s) => s.commit,
  );
}

/** A patient's path in the REST API. */
export const patientPath = (id: string): string => `/api/v1/patients/${encodeURIComponent(id)}`;

/** The footer of a paged table: how to ask for the next page, when there is one. */
export const nextPage = (answer: { next_cursor?: unknown }): string | undefined =>
  answer.next_cursor ? `more: --cursor ${String(answer.next_cursor)}` : undefined;

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** A whole number option. */
export function count(value: string): number {
  if (!/^\d+$/.test(value)) throw invalidInput('option', `${value} is not a whole number`);
  return Number(value);
}
