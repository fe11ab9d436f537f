// `vpr thread …`, `vpr coordination status`, `vpr appointment|encounter|referral …`: care coordination through
// the same REST routes as any client. Message bodies come from a file or standard input.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { readable, type View } from '../output.js';
import { count, ifMatch, nextPage, patientPath, printWrite, readBody, readText } from './shared.js';

type Json = Record<string, unknown>;
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
  footer: nextPage,
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

  const careEvents = [
    ['appointment', 'appointments', 'appointments (FHIR Appointment)', 'book an appointment'],
    ['encounter', 'encounters', 'encounters (FHIR Encounter)', 'record an encounter'],
    ['referral', 'referrals', 'referrals (FHIR ServiceRequest)', 'make a referral'],
  ] as const;
  for (const [name, collection, description, creating] of careEvents) {
    const group = program.command(name).description(description);
    group
      .command('create <patient-id>')
      .description(creating)
      .requiredOption('--input <file>', `the ${name} as JSON or YAML; - reads standard input`)
      .action(async (p: string, o: { input: string }) => {
        const ctx = context();
        const outcome = await ctx.write({
          method: 'POST',
          path: `${patientPath(p)}/${collection}`,
          body: await readBody(o.input),
        });
        printWrite(ctx, outcome, eventView, (e) => e.event_id as string);
      });
    group
      .command(`update <patient-id> <${name}-id>`)
      .description(
        `change ${name === 'appointment' ? 'an' : 'a'} ${name} (its status workflow: a final status stays final)`,
      )
      .requiredOption('--input <file>', `the whole ${name} as JSON or YAML; - reads standard input`)
      .option('--if-match <version>', 'the version this is based on (default: the current one)')
      .action(async (p: string, id: string, o: { input: string; ifMatch?: string }) => {
        const ctx = context();
        const path = `${patientPath(p)}/${collection}/${encodeURIComponent(id)}`;
        const body = await readBody(o.input);
        const outcome = await ctx.write({
          method: 'PUT',
          path,
          body,
          headers: { 'if-match': await ifMatch(ctx, o.ifMatch, path) },
        });
        printWrite(ctx, outcome, eventView, (e) => e.event_id as string);
      });
    group
      .command(`get <patient-id> <${name}-id>`)
      .description(`one ${name}, at HEAD or at a version`)
      .option('--version <commit>', 'as it was at this coordination commit')
      .action(async (p: string, id: string, o: { version?: string }) => {
        const ctx = context();
        const answer = await ctx.send({
          method: 'GET',
          path: `${patientPath(p)}/${collection}/${encodeURIComponent(id)}`,
          query: { version: o.version },
        });
        ctx.out.answer(answer.body as Json, eventView, (e) => e.event_id as string);
      });
    const list = group
      .command(name === 'appointment' ? 'list [patient-id]' : 'list <patient-id>')
      .description(
        name === 'appointment'
          ? "a patient's appointments, or with --location and --date one care location's day"
          : `a patient's ${collection}`,
      )
      .option('--upcoming', 'only those still to come')
      .option('--limit <n>', 'how many', count)
      .option('--cursor <cursor>', 'the next page');
    if (name === 'appointment') {
      list
        .option('--location <name>', 'a care location (with --date)')
        .option('--date <day>', 'YYYY-MM-DD (with --location)');
    }
    list.action(
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
                path: `${patientPath(p)}/${collection}`,
                query: { upcoming: o.upcoming, ...paging },
              });
        ctx.out.answer(answer.body as Json, eventTable);
      },
    );
  }

  thread
    .command('mine')
    .description('the open threads a participant takes part in, across patients')
    .requiredOption('--participant <id>', 'the participant id (an API principal)')
    .option('--status <status>', 'open (default), closed or archived')
    .option('--limit <n>', 'how many', count)
    .option('--cursor <cursor>', 'the next page')
    .action(async (o: { participant: string; status?: string; limit?: number; cursor?: string }) => {
      const ctx = context();
      const answer = await ctx.send({
        method: 'GET',
        path: '/api/v1/threads',
        query: { participant_id: o.participant, status: o.status, limit: o.limit, cursor: o.cursor },
      });
      ctx.out.answer(answer.body as Json, {
        kind: 'table',
        rows: (a) => a.threads as Json[],
        columns: [
          { header: 'patient', value: (t: Json) => t.patient_id },
          { header: 'thread', value: (t: Json) => t.communication_id },
          { header: 'messages', value: (t: Json) => t.message_count },
          { header: 'last', value: (t: Json) => t.last_message_at },
        ] as never,
      });
    });
}
