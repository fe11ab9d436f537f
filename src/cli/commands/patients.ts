// `vpr patient …`: the Patient API (create, get, update, delete, restore, list, history).
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { View } from '../output.js';
import { count, ifMatch, nextPage, patientPath, printWrite, readBody } from './shared.js';

type Json = Record<string, unknown>;

const patientView: View<Json> = {
  kind: 'record',
  fields: (p) => ({
    patient: p.patient_id,
    name: [p.given_name, p.middle_name, p.family_name].filter((x) => x).join(' '),
    born: p.date_of_birth,
    sex_at_birth: p.sex_at_birth,
    email: p.email,
    phone: p.phone_e164,
    deleted: p.is_deleted ? 'yes' : undefined,
    clinical: p.clinical_id,
    coordination: p.coordination_id,
    version: p.version,
    updated: p.updated_at,
  }),
};

const path = patientPath;

export function registerPatientCommands(program: Command, context: () => CliContext): void {
  const patient = program
    .command('patient')
    .description('patients: demographics (FHIR Patient) and their records');

  patient
    .command('create')
    .description('create a patient (demographics, clinical and coordination records)')
    .requiredOption('--input <file>', 'the demographics as JSON or YAML; - reads standard input')
    .option('--idempotency-key <key>', 'repeat safely: the same key answers as the first time')
    .action(async (options: { input: string; idempotencyKey?: string }) => {
      const ctx = context();
      const answer = await ctx.send({
        method: 'POST',
        path: '/api/v1/patients',
        body: await readBody(options.input),
        ...(options.idempotencyKey === undefined
          ? {}
          : { headers: { 'idempotency-key': options.idempotencyKey } }),
      });
      ctx.out.answer(answer.body as Json, patientView, (p) => p.patient_id as string);
    });

  patient
    .command('get <patient-id>')
    .description('a patient as now')
    .action(async (id: string) => {
      const ctx = context();
      ctx.out.answer(
        (await ctx.send({ method: 'GET', path: path(id) })).body as Json,
        patientView,
        (p) => p.patient_id as string,
      );
    });

  patient
    .command('update <patient-id>')
    .description('replace the demographics (a new version; the old stays in the history)')
    .requiredOption('--input <file>', 'the whole demographics as JSON or YAML; - reads standard input')
    .option('--if-match <version>', 'the version this is based on (default: the current one, read first)')
    .action(async (id: string, options: { input: string; ifMatch?: string }) => {
      const ctx = context();
      const body = await readBody(options.input);
      const outcome = await ctx.write({
        method: 'PUT',
        path: path(id),
        body,
        headers: { 'if-match': await ifMatch(ctx, options.ifMatch, path(id)) },
      });
      printWrite(ctx, outcome, patientView, (p) => p.patient_id as string);
    });

  patient
    .command('delete <patient-id>')
    .description('soft-delete a patient (kept in Git; restore brings it back)')
    .option('--if-match <version>', 'the version this is based on')
    .action(async (id: string, options: { ifMatch?: string }) => {
      const ctx = context();
      const outcome = await ctx.write({
        method: 'DELETE',
        path: path(id),
        ...(options.ifMatch === undefined ? {} : { headers: { 'if-match': `"${options.ifMatch}"` } }),
      });
      printWrite(ctx, outcome, { kind: 'text', text: () => `patient ${id} deleted (soft)` }, () => id);
    });

  patient
    .command('restore <patient-id>')
    .description('bring a soft-deleted patient back')
    .action(async (id: string) => {
      const ctx = context();
      const outcome = await ctx.write({ method: 'POST', path: `${path(id)}:restore` });
      printWrite(ctx, outcome, patientView, (p) => p.patient_id as string);
    });

  patient
    .command('list')
    .description('patients, filtered and paged through the projection')
    .option('--family <prefix>', 'family name prefix')
    .option('--given <prefix>', 'given name prefix')
    .option('--dob <date>', 'exact date of birth, YYYY-MM-DD')
    .option('--email <email>', 'exact email')
    .option('--phone <phone>', 'exact phone')
    .option('--deleted', 'list the soft-deleted patients instead')
    .option('--limit <n>', 'how many', count)
    .option('--cursor <cursor>', 'the next page, from a previous answer')
    .action(async (o: Record<string, string | number | boolean | undefined>) => {
      const ctx = context();
      const answer = await ctx.send({
        method: 'GET',
        path: '/api/v1/patients',
        query: {
          family_name: o.family,
          given_name: o.given,
          dob: o.dob,
          email: o.email,
          phone: o.phone,
          deleted: o.deleted,
          limit: o.limit,
          cursor: o.cursor,
        },
      });
      ctx.out.answer(answer.body as Json, {
        kind: 'table',
        rows: (a) => a.patients as Json[],
        columns: [
          { header: 'patient', value: (p: Json) => p.patient_id },
          { header: 'family', value: (p: Json) => p.family_name },
          { header: 'given', value: (p: Json) => p.given_name },
          { header: 'born', value: (p: Json) => p.date_of_birth },
          { header: 'updated', value: (p: Json) => p.updated_at },
        ] as never,
        footer: nextPage,
      });
    });

  patient
    .command('history <patient-id>')
    .description('every version of the demographics, newest first')
    .option('--limit <n>', 'how many', count)
    .action(async (id: string, o: { limit?: number }) => {
      const ctx = context();
      const answer = await ctx.send({
        method: 'GET',
        path: `${path(id)}/history`,
        query: { limit: o.limit },
      });
      ctx.out.answer(answer.body as Json, {
        kind: 'table',
        rows: (a) => a.versions as Json[],
        columns: [
          { header: 'when', value: (v: Json) => v.occurred_at },
          { header: 'action', value: (v: Json) => v.action },
          { header: 'by', value: (v: Json) => v.actor },
          { header: 'changed', value: (v: Json) => v.changed_fields },
          { header: 'version', value: (v: Json) => v.version },
        ] as never,
      });
    });
}
