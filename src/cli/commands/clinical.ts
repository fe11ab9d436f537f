// `vpr letter …`, `vpr entry …`, `vpr contribution …`: the clinical record through the same
// REST routes as any client. Letter bodies come from a file or standard input; attachments are
// sent as the multipart form the API takes.
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { CONTRIBUTION_KINDS } from '../../core/clinical/contribution.js';
import { ENTRY_KINDS } from '../../core/clinical/entry-kinds.js';
import { VprError, invalidInput } from '../../core/errors.js';
import { letterForm } from '../api-client.js';
import type { CliContext } from '../context.js';
import type { View } from '../output.js';
import { collect, count, ifMatch, nextPage, patientPath, printWrite, readBody, readText } from './shared.js';

type Json = Record<string, unknown>;

const letterView: View<Json> = {
  kind: 'record',
  fields: (l) => ({
    letter: l.letter_id,
    title: l.title,
    status: l.status,
    composer: (l.composer as Json | undefined)?.name,
    care_location: l.care_location,
    attachments: ((l.attachments as Json[] | undefined) ?? []).map((a) => a.filename),
    superseded_by: l.superseded_by,
    version: l.version,
    body: l.body === null || l.body === undefined ? undefined : `\n${String(l.body)}`,
  }),
};

const letterTable: View<Json> = {
  kind: 'table',
  rows: (a) => a.letters as Json[],
  columns: [
    { header: 'letter', value: (l: Json) => l.letter_id },
    { header: 'title', value: (l: Json) => l.title },
    { header: 'status', value: (l: Json) => l.status },
    { header: 'composer', value: (l: Json) => l.composer_name },
    { header: 'updated', value: (l: Json) => l.updated_at },
  ] as never,
  footer: nextPage,
};

/** A letter with the files named on the command line, as the multipart form the API takes. */
async function multipart(
  letter: Json,
  files: readonly string[],
): Promise<{ body: Buffer; contentType: string }> {
  const parts = [];
  for (const file of files) {
    try {
      parts.push({ name: basename(file), bytes: await readFile(file) });
    } catch {
      throw invalidInput('--attach', `cannot read ${file}`);
    }
  }
  return letterForm(letter, parts);
}

interface LetterOptions {
  input?: string;
  title?: string;
  bodyFile?: string;
  attach?: string[];
  signOff?: boolean;
  supersedes?: string;
}

async function letterOf(options: LetterOptions): Promise<Json> {
  const letter = options.input === undefined ? {} : await readBody(options.input);
  if (options.title !== undefined) letter.title = options.title;
  if (options.bodyFile !== undefined) letter.body = await readText(options.bodyFile);
  if (options.signOff === true) letter.sign_off = true;
  if (options.supersedes !== undefined) letter.references = options.supersedes;
  return letter;
}

/** `<group> add <patient-id> <kind> --input <file>`: one item of a kind, posted as it is given. */
function addOfKind(
  group: Command,
  collection: string,
  what: string,
  description: string,
  idField: string,
  context: () => CliContext,
): void {
  group
    .command('add <patient-id> <kind>')
    .description(description)
    .requiredOption('--input <file>', `the ${what} as JSON or YAML; - reads standard input`)
    .action(async (patientId: string, kind: string, o: { input: string }) => {
      const ctx = context();
      const outcome = await ctx.write({
        method: 'POST',
        path: `${patientPath(patientId)}/${collection}/${encodeURIComponent(kind)}`,
        body: await readBody(o.input),
      });
      printWrite(ctx, outcome, { kind: 'record' }, (item: Json) => item[idField] as string);
    });
}

export function registerClinicalCommands(program: Command, context: () => CliContext): void {
  const letter = program.command('letter').description('letters: Markdown bodies, attachments, sign-off');

  letter
    .command('new <patient-id>')
    .description('write a letter (a draft unless --sign-off)')
    .option('--title <title>', 'the title')
    .option('--body-file <file>', 'the Markdown body; - reads standard input')
    .option('--input <file>', 'the whole letter as JSON or YAML (title, body, clinical_lists, …)')
    .option('--attach <file>', 'attach a file (repeat for more)', collect)
    .option('--sign-off', 'sign it off at once (needs a professional registration)')
    .option('--supersedes <letter-id>', 'this letter replaces that one')
    .action(async (patientId: string, options: LetterOptions) => {
      const ctx = context();
      const body = await letterOf(options);
      const path = `${patientPath(patientId)}/letters`;
      const outcome =
        options.attach === undefined || options.attach.length === 0
          ? await ctx.write({ method: 'POST', path, body })
          : {
              signed: false as const,
              answer: await ctx.send({ method: 'POST', path, ...(await multipart(body, options.attach)) }),
            };
      printWrite(ctx, outcome, letterView, (l) => l.letter_id as string);
    });

  letter
    .command('read <patient-id> <letter-id>')
    .description('a letter, at HEAD or at a version')
    .option('--version <commit>', 'as it was at this clinical commit')
    .action(async (patientId: string, letterId: string, o: { version?: string }) => {
      const ctx = context();
      const answer = await ctx.send({
        method: 'GET',
        path: `${patientPath(patientId)}/letters/${encodeURIComponent(letterId)}`,
        query: { version: o.version },
      });
      ctx.out.answer(answer.body as Json, letterView, (l) => l.letter_id as string);
    });

  letter
    .command('edit <patient-id> <letter-id>')
    .description('edit a letter (a new commit; a signed letter becomes a draft again)')
    .option('--title <title>', 'the new title')
    .option('--body-file <file>', 'the new Markdown body; - reads standard input')
    .option('--input <file>', 'the whole letter as JSON or YAML')
    .option('--if-match <version>', 'the version this is based on (default: the current one)')
    .action(async (patientId: string, letterId: string, o: LetterOptions & { ifMatch?: string }) => {
      const ctx = context();
      const path = `${patientPath(patientId)}/letters/${encodeURIComponent(letterId)}`;
      const etag = await ifMatch(ctx, o.ifMatch, path);
      let body = await letterOf(o);
      if (o.input === undefined) {
        // Only what was given changes: the rest is kept from the letter as it is.
        const current = (await ctx.send({ method: 'GET', path })).body as Json;
        body = { title: current.title, ...(current.body === null ? {} : { body: current.body }), ...body };
      }
      const outcome = await ctx.write({ method: 'PUT', path, body, headers: { 'if-match': etag } });
      printWrite(ctx, outcome, letterView, (l) => l.letter_id as string);
    });

  letter
    .command('list <patient-id>')
    .description("a patient's letters, newest first")
    .option('--limit <n>', 'how many', count)
    .option('--cursor <cursor>', 'the next page')
    .action(async (patientId: string, o: { limit?: number; cursor?: string }) => {
      const ctx = context();
      const answer = await ctx.send({
        method: 'GET',
        path: `${patientPath(patientId)}/letters`,
        query: { ...o },
      });
      ctx.out.answer(answer.body as Json, letterTable);
    });

  letter
    .command('sign-off <patient-id> <letter-id>')
    .description('sign a draft off (its own commit)')
    .option('--if-match <version>', 'the version this is based on')
    .action(async (patientId: string, letterId: string, o: { ifMatch?: string }) => {
      const ctx = context();
      const outcome = await ctx.write({
        method: 'POST',
        path: `${patientPath(patientId)}/letters/${encodeURIComponent(letterId)}:sign-off`,
        ...(o.ifMatch === undefined ? {} : { headers: { 'if-match': `"${o.ifMatch}"` } }),
      });
      printWrite(ctx, outcome, letterView, (l) => l.letter_id as string);
    });

  letter
    .command('queue')
    .description('the sign-off queue: drafts across patients, oldest first')
    .option('--author <email>', "one composer's drafts")
    .option('--location <name>', "one care location's drafts")
    .option('--limit <n>', 'how many', count)
    .option('--cursor <cursor>', 'the next page')
    .action(async (o: { author?: string; location?: string; limit?: number; cursor?: string }) => {
      const ctx = context();
      const answer = await ctx.send({
        method: 'GET',
        path: '/api/v1/letters/sign-off-queue',
        query: { author: o.author, care_location: o.location, limit: o.limit, cursor: o.cursor },
      });
      ctx.out.answer(answer.body as Json, letterTable);
    });

  letter
    .command('history <patient-id> <letter-id>')
    .description('the commits that changed a letter, newest first')
    .option('--diff', 'with the diff of each')
    .option('--limit <n>', 'how many', count)
    .action(async (patientId: string, letterId: string, o: { diff?: boolean; limit?: number }) => {
      const ctx = context();
      const answer = await ctx.send({
        method: 'GET',
        path: `${patientPath(patientId)}/letters/${encodeURIComponent(letterId)}/history`,
        query: { diff: o.diff, limit: o.limit },
      });
      ctx.out.answer(answer.body as Json, {
        kind: 'table',
        rows: (a) => a.history as Json[],
        columns: [
          { header: 'when', value: (h: Json) => h.occurred_at },
          { header: 'action', value: (h: Json) => h.action },
          { header: 'author', value: (h: Json) => (h.author as Json | undefined)?.name ?? h.author },
          { header: 'summary', value: (h: Json) => h.summary },
          { header: 'version', value: (h: Json) => h.version },
        ] as never,
      });
    });

  letter
    .command('attachment <patient-id> <letter-id> <sha256>')
    .description('download an attachment (checked against its SHA-256) to --out, or standard output')
    .option('--out <file>', 'write it here (never over an existing file)')
    .option('--version <commit>', 'as the letter was at this commit')
    .action(
      async (patientId: string, letterId: string, hash: string, o: { out?: string; version?: string }) => {
        const ctx = context();
        const answer = await ctx.send({
          method: 'GET',
          path: `${patientPath(patientId)}/letters/${encodeURIComponent(letterId)}/attachments/${encodeURIComponent(hash)}`,
          query: { version: o.version },
        });
        if (o.out === undefined) {
          process.stdout.write(answer.raw);
          return;
        }
        try {
          await writeFile(o.out, answer.raw, { flag: 'wx' });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
            throw new VprError('ALREADY_EXISTS', `${o.out} exists already; choose another --out`);
          }
          throw error;
        }
        ctx.out.answer(
          { file: o.out, bytes: answer.raw.length, sha256: hash },
          {
            kind: 'text',
            text: (r) => `wrote ${r.bytes} bytes to ${r.file}`,
          },
        );
      },
    );

  const entry = program.command('entry').description(`structured entries: ${ENTRY_KINDS.join(', ')}`);
  addOfKind(
    entry,
    'entries',
    'entry',
    'record an entry (a vital sign, a lab result, a problem)',
    'entry_id',
    context,
  );
  entry
    .command('list <patient-id>')
    .description("a patient's entries, newest first")
    .option('--kind <kind>', `one kind (${ENTRY_KINDS.join(', ')})`)
    .option('--from <time>', 'recorded at or after')
    .option('--to <time>', 'recorded before')
    .option('--limit <n>', 'how many', count)
    .option('--cursor <cursor>', 'the next page')
    .action(async (patientId: string, o: Record<string, string | number | undefined>) => {
      const ctx = context();
      const answer = await ctx.send({ method: 'GET', path: `${patientPath(patientId)}/entries`, query: o });
      ctx.out.answer(answer.body as Json, {
        kind: 'table',
        rows: (a) => a.entries as Json[],
        columns: [
          { header: 'entry', value: (e: Json) => e.entry_id },
          { header: 'kind', value: (e: Json) => e.kind },
          { header: 'recorded', value: (e: Json) => e.recorded_at },
          { header: 'summary', value: (e: Json) => e.summary },
          { header: 'current', value: (e: Json) => (e.current ? 'yes' : 'no') },
        ] as never,
        footer: nextPage,
      });
    });

  entry
    .command('get <patient-id> <kind> <entry-id>')
    .description('one entry, at HEAD or at a version')
    .option('--version <commit>', 'as it was at this clinical commit')
    .action(async (patientId: string, kind: string, entryId: string, o: { version?: string }) => {
      const ctx = context();
      const answer = await ctx.send({
        method: 'GET',
        path: `${patientPath(patientId)}/entries/${encodeURIComponent(kind)}/${encodeURIComponent(entryId)}`,
        query: { version: o.version },
      });
      ctx.out.answer(answer.body as Json, { kind: 'record' }, (e) => e.entry_id as string);
    });
  entry
    .command('supersede <patient-id> <kind> <entry-id>')
    .description('correct an entry with a new one that supersedes it (the old one stays, marked)')
    .requiredOption('--input <file>', 'the new entry as JSON or YAML; - reads standard input')
    .action(async (patientId: string, kind: string, entryId: string, o: { input: string }) => {
      const ctx = context();
      const outcome = await ctx.write({
        method: 'POST',
        path: `${patientPath(patientId)}/entries/${encodeURIComponent(kind)}/${encodeURIComponent(entryId)}:supersede`,
        body: await readBody(o.input),
      });
      printWrite(ctx, outcome, { kind: 'record' }, (e: Json) => e.entry_id as string);
    });

  const contribution = program
    .command('contribution')
    .description(`the patient's own contributions: ${CONTRIBUTION_KINDS.join(', ')}`);
  addOfKind(
    contribution,
    'contributions',
    'contribution',
    'add a contribution in the patient’s own words',
    'id',
    context,
  );
  contribution
    .command('list <patient-id>')
    .description("a patient's contributions, newest first")
    .option('--limit <n>', 'how many', count)
    .option('--cursor <cursor>', 'the next page')
    .action(async (patientId: string, o: { limit?: number; cursor?: string }) => {
      const ctx = context();
      const answer = await ctx.send({
        method: 'GET',
        path: `${patientPath(patientId)}/contributions`,
        query: { ...o },
      });
      ctx.out.answer(answer.body as Json, {
        kind: 'table',
        rows: (a) => a.contributions as Json[],
        columns: [
          { header: 'path', value: (c: Json) => c.path },
          { header: 'title', value: (c: Json) => c.title },
          { header: 'by', value: (c: Json) => c.author_name },
          { header: 'created', value: (c: Json) => c.created_at },
        ] as never,
      });
    });
  contribution
    .command('get <patient-id> <kind> <contribution-id>')
    .description('one contribution')
    .action(async (patientId: string, kind: string, id: string) => {
      const ctx = context();
      const answer = await ctx.send({
        method: 'GET',
        path: `${patientPath(patientId)}/contributions/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`,
      });
      ctx.out.answer(answer.body as Json, { kind: 'record' }, (c) => c.id as string);
    });
}
