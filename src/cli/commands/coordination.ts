// `vpr thread …`, `vpr coordination status`, `vpr appointment …`: care coordination through
// the same REST routes as any client. Message bodies come from a file or standard input.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { readable, type View } from '../output.js';
import { count, ifMatch, printWrite, readBody, readText } from './shared.js';

type Json = Record<string, unknown>;
const patientPath = (id: string) => `/api/v1/patients/${encodeURIComponent(id)}`;
const threadPath = (p: string, t: string) => `${patientPath(p)}/threads/${encodeURIComponent(t)}`;

const threadView: View<Json> = {
  kind: 'text',
  text: (t) => {
    const ledger = (t.ledger ?? {}) as Json;
    const participants = ((ledger.participants as Json[] | undefined) ?? [])
      .map((p) => `${String(p.display_name)} (${String(p.role)})`)
      .join(', ');
    const lines = [
      `thread ${String(t.communication_id)} · ${String(ledger.status)} · ${participants}`,
      ...((t.messages as Json[] | undefined) ?? []).map((m) => {
        const corrects = m.corrects ? ` (corrects ${String(m.corrects)})` : '';
        return `\n[${readable(m.timestamp)}] ${String(m.author_name)} (${String(m.role)})${corrects}\n${String(m.body)}`;
      }),
    ];
    return lines.join('\n');
  },
};

const eventView: View<Json> = {
  kind: 'record',
  fields: (e) => ({ event: e.event_id, kind: e.kind, status: e.status, version: e.version, data: e.data }),
};

const eventTable: View<Json> = {
  kind: 'table',
  rows: (a) => a.events as Json[],
  columns: [
    { header: 'event', value: (e: Json) => e.event_id },
    { header: 'status', value: (e: Json) => e.status },
    { header: 'start', value: (e: Json) => e.start },
    { header: 'where', value: (e: Json) => e.care_location },
    { header: 'title', value: (e: Json) => e.title },
  ] as never,
  footer: (a) => (a.next_cursor ? `more: --cursor ${String(a.next_cursor)}` : undefined),
};

export function registerCoordinationCommands(program: Command, context: () => CliContext): void {
  const thread = program
    .command('thread')
    .description('messaging threads: messages are never edited, only corrected');
  thread
    .command('create <patient-id>')
    .description('start a thread: its ledger (participants, policies) and optionally a first message')
    .requiredOption('--input <file>', '{ ledger, message? } as JSON or YAML; - reads standard input')
    .action(async (patientId: string, o: { input: string }) => {
      const ctx = context();
      const outcome = await ctx.write({
        method: 'POST',
        path: `${patientPath(patientId)}/threads`,
        body: await readBody(o.input),
      });
      printWrite(ctx, outcome, threadView, (t) => t.communication_id as string);
    });
  const message = async (patientId: string, threadId: string, bodyFile: string, corrects?: string) => {
    const ctx = context();
    const outcome = await ctx.write({
      method: 'POST',
      path: `${threadPath(patientId, threadId)}/messages`,
      body: { body: await readText(bodyFile), ...(corrects === undefined ? {} : { corrects }) },
    });
    printWrite(ctx, outcome, threadView, (t) => t.communication_id as string);
  };
  thread
    .command('add-message <patient-id> <thread-id>')
    .description('add a message to a thread')
    .requiredOption('--body-file <file>', 'the message (Markdown); - reads standard input')
    .action(async (p: string, t: string, o: { bodyFile: string }) => message(p, t, o.bodyFile));
  thread
    .command('correct <patient-id> <thread-id> <message-id>')
    .description('correct a message with a new one (the original stays as it was)')
    .requiredOption('--body-file <file>', 'the correction; - reads standard input')
    .action(async (p: string, t: string, m: string, o: { bodyFile: string }) => message(p, t, o.bodyFile, m));
  thread
    .command('read <patient-id> <thread-id>')
    .description('a whole thread')
    .option('--version <commit>', 'as it was at this coordination commit')
    .action(async (p: string, t: string, o: { version?: string }) => {
      const ctx = context();
      const answer = await ctx.send({ method: 'GET', path: threadPath(p, t), query: { version: o.version } });
      ctx.out.answer(answer.body as Json, threadView, (x) => x.communication_id as string);
    });
  thread
    .command('list <patient-id>')
    .description("a patient's threads")
    .option('--status <status>', 'open, closed or archived')
    .option('--limit <n>', 'how many', count)
    .option('--cursor <cursor>', 'the next page')
    .action(async (p: string, o: Record<string, string | number | undefined>) => {
      const ctx = context();
      const answer = await ctx.send({ method: 'GET', path: `${patientPath(p)}/threads`, query: o });
      ctx.out.answer(answer.body as Json, {
        kind: 'table',
        rows: (a) => a.threads as Json[],
        columns: [
          { header: 'thread', value: (t: Json) => t.communication_id },
          { header: 'status', value: (t: Json) => t.status },
          { header: 'messages', value: (t: Json) => t.message_count },
          { header: 'last', value: (t: Json) => t.last_message_at },
          { header: 'snippet', value: (t: Json) => t.last_message_snippet },
        ] as never,
      });
    });
  thread
    .command('ledger <patient-id> <thread-id>')
    .description('change a thread’s ledger: participants, status, visibility, policies')
    .requiredOption('--input <file>', 'the change as JSON or YAML; - reads standard input')
    .action(async (p: string, t: string, o: { input: string }) => {
      const ctx = context();
      const outcome = await ctx.write({
        method: 'PATCH',
        path: `${threadPath(p, t)}/ledger`,
        body: await readBody(o.input),
      });
      printWrite(ctx, outcome, threadView, (x) => x.communication_id as string);
    });

  const coordination = program.command('coordination').description('the coordination record');
  coordination
    .command('status <patient-id>')
    .description('the coordination status; with --input, change it (closed is final)')
    .option('--input <file>', 'the change as JSON or YAML; - reads standard input')
    .action(async (p: string, o: { input?: string }) => {
      const ctx = context();
      const path = `${patientPath(p)}/coordination/status`;
      if (o.input === undefined) {
        ctx.out.answer((await ctx.send({ method: 'GET', path })).body as Json, { kind: 'record' });
        return;
      }
      const outcome = await ctx.write({ method: 'PUT', path, body: await readBody(o.input) });
      printWrite(ctx, outcome, { kind: 'record' });
    });

  const appointment = program.command('appointment').description('appointments (FHIR Appointment)');
  appointment
    .command('create <patient-id>')
    .description('book an appointment')
    .requiredOption('--input <file>', 'the appointment as JSON or YAML; - reads standard input')
    .action(async (p: string, o: { input: string }) => {
      const ctx = context();
      const outcome = await ctx.write({
        method: 'POST',
        path: `${patientPath(p)}/appointments`,
        body: await readBody(o.input),
      });
      printWrite(ctx, outcome, eventView, (e) => e.event_id as string);
    });
  appointment
    .command('update <patient-id> <appointment-id>')
    .description('change an appointment (its status workflow: a final status stays final)')
    .requiredOption('--input <file>', 'the whole appointment as JSON or YAML; - reads standard input')
    .option('--if-match <version>', 'the version this is based on (default: the current one)')
    .action(async (p: string, id: string, o: { input: string; ifMatch?: string }) => {
      const ctx = context();
      const path = `${patientPath(p)}/appointments/${encodeURIComponent(id)}`;
      const body = await readBody(o.input);
      const outcome = await ctx.write({
        method: 'PUT',
        path,
        body,
        headers: { 'if-match': await ifMatch(ctx, o.ifMatch, path) },
      });
      printWrite(ctx, outcome, eventView, (e) => e.event_id as string);
    });
  appointment
    .command('list [patient-id]')
    .description("a patient's appointments, or with --location and --date one care location's day")
    .option('--upcoming', 'only those still to come')
    .option('--location <name>', 'a care location (with --date)')
    .option('--date <day>', 'YYYY-MM-DD (with --care-location)')
    .option('--limit <n>', 'how many', count)
    .option('--cursor <cursor>', 'the next page')
    .action(
      async (
        p: string | undefined,
        o: { upcoming?: boolean; location?: string; date?: string; limit?: number; cursor?: string },
      ) => {
        const ctx = context();
        const paging = { limit: o.limit, cursor: o.cursor };
        const answer =
          p === undefined
            ? await ctx.send({
                method: 'GET',
                path: '/api/v1/appointments',
                query: { care_location: o.location, date: o.date, ...paging },
              })
            : await ctx.send({
                method: 'GET',
                path: `${patientPath(p)}/appointments`,
                query: { upcoming: o.upcoming, ...paging },
              });
        ctx.out.answer(answer.body as Json, eventTable);
      },
    );
}
