// Writing a synthetic population through the service: each patient's plan (population.ts) is sent
// as the REST requests a clinic's systems would send — the patient, then their entries, letters
// (some signed off later, a few with a PDF), threads with replies, appointments and referrals —
// so every change is a real commit made by the normal services with all their checks. Patients
// are written `concurrency` at a time, each patient's writes in order. The first failure stops
// the run (what was written stays: every write is whole) and is reported with its patient number.
import { randomBytes } from 'node:crypto';
import { localKey, type KnownKey } from '../auth/api-keys.js';
import { VprError, invalidInput } from '../core/errors.js';
import { letterForm, type ApiClient, type ApiRequest } from '../cli/api-client.js';
import { planPatient, staffOf, type PatientPlan, type StaffMember } from './population.js';

export interface GenerateOptions {
  readonly patients: number;
  readonly seed: number;
  /** The number of the first patient (a later run adds to a population: `first` = its size). */
  readonly first: number;
  /** The instant the histories lead up to; with the seed it fixes the content. */
  readonly asOf: Date;
  readonly concurrency: number;
  /** The API key each staff member writes with (local mode), else the client's own. */
  readonly keyOf?: (staff: number) => string | undefined;
  /** Told after each patient is written whole. */
  readonly onPatient?: (written: number) => void;
}

export interface GenerateSummary {
  readonly patients: number;
  /** Writes sent and answered 2xx: each one commit. */
  readonly writes: number;
  readonly seconds: number;
}

export const MAX_GENERATED_PATIENTS = 1_000_000;
export const MAX_GENERATE_CONCURRENCY = 64;

/** API keys, held only in this process, for the population's staff (local mode). */
export function staffKeys(seed: number): {
  staff: StaffMember[];
  keys: KnownKey[];
  keyOf: (i: number) => string;
} {
  const staff = staffOf(seed);
  const secrets = staff.map(() => `generate-${randomBytes(24).toString('hex')}`);
  const keys = staff.map((member, i) =>
    localKey(
      secrets[i]!,
      member.id,
      { name: member.name, email: member.email, role: member.role, registrations: member.registrations },
      member.careLocation,
    ),
  );
  return { staff, keys, keyOf: (i) => secrets[i]! };
}

/** Refuses options outside the bounds before anything is written. */
export function checkGenerateOptions(options: GenerateOptions): void {
  const whole = (value: number, field: string, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw invalidInput(field, `must be a whole number from ${min} to ${max}`);
    }
  };
  whole(options.patients, '--patients', 1, MAX_GENERATED_PATIENTS);
  whole(options.first, '--first', 0, MAX_GENERATED_PATIENTS - options.patients);
  whole(options.seed, '--seed', 0, 2 ** 31 - 1);
  whole(options.concurrency, '--concurrency', 1, MAX_GENERATE_CONCURRENCY);
  if (Number.isNaN(options.asOf.getTime()) || options.asOf.getTime() > Date.now() + 60_000) {
    throw invalidInput('--as-of', 'must be a date and time that is not in the future');
  }
}

function idOf(answer: { body: unknown }, field: string): string {
  const value = (answer.body as Record<string, unknown> | undefined)?.[field];
  if (typeof value !== 'string') throw new VprError('INTERNAL', `the answer has no ${field}`);
  return value;
}

/** Sends one patient's plan, in order; answers the number of writes. */
async function writePatient(
  api: ApiClient,
  plan: PatientPlan,
  keyOf: GenerateOptions['keyOf'],
): Promise<number> {
  let writes = 0;
  /** One write (one commit) by a staff member; answers the service's answer. */
  const post = async (path: string, staff: number, body?: Pick<ApiRequest, 'body' | 'contentType'>) => {
    const key = keyOf?.(staff);
    const answer = await api.send({
      method: 'POST',
      path,
      ...body,
      ...(key === undefined ? {} : { headers: { 'x-api-key': key } }),
    });
    writes += 1;
    return answer;
  };
  const created = await post('/api/v1/patients', plan.steps[0]?.staff ?? 0, { body: plan.demographics });
  const patient = `/api/v1/patients/${idOf(created, 'patient_id')}`;
  for (const step of plan.steps) {
    switch (step.kind) {
      case 'entry':
        await post(`${patient}/entries/${step.entryKind}`, step.staff, { body: step.body });
        break;
      case 'letter': {
        const form =
          step.attachment === undefined
            ? { body: step.body }
            : await letterForm(step.body, [{ name: step.attachment.name, bytes: step.attachment.bytes }]);
        const letter = await post(`${patient}/letters`, step.staff, form);
        if (step.signOffLater)
          await post(`${patient}/letters/${idOf(letter, 'letter_id')}:sign-off`, step.staff);
        break;
      }
      case 'thread': {
        const thread = await post(`${patient}/threads`, step.staff, { body: step.body });
        const id = idOf(thread, 'communication_id');
        for (const reply of step.replies) {
          await post(`${patient}/threads/${id}/messages`, reply.staff, { body: { body: reply.body } });
        }
        break;
      }
      case 'care-event':
        await post(`${patient}/${step.collection}`, step.staff, { body: step.body });
        break;
    }
  }
  return writes;
}

/** A failure while writing patient `index`, naming the patient number (never their data). */
export class GenerateFailure extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(`patient number ${index}: ${(cause as Error).message}`);
  }
}

export async function generatePopulation(api: ApiClient, options: GenerateOptions): Promise<GenerateSummary> {
  checkGenerateOptions(options);
  const staff = staffOf(options.seed);
  const started = performance.now();
  const end = options.first + options.patients;
  let next = options.first;
  let written = 0;
  let writes = 0;
  let failure: GenerateFailure | undefined;
  const worker = async () => {
    while (failure === undefined && next < end) {
      const index = next;
      next += 1;
      const plan = planPatient(options.seed, index, options.asOf, staff);
      try {
        // Not `writes += await …`: that would read `writes` before the other workers add theirs.
        const made = await writePatient(api, plan, options.keyOf);
        writes += made;
      } catch (error) {
        failure ??= new GenerateFailure(index, error);
        return;
      }
      written += 1;
      options.onPatient?.(written);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.patients) }, worker));
  if (failure !== undefined) throw failure;
  return { patients: written, writes, seconds: (performance.now() - started) / 1000 };
}
