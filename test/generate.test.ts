// `vpr generate`: the synthetic population is decided by the seed alone (same seed, same people
// and records; another seed, others), every patient is one the service accepts, the spread is a
// practice's (most small, a few with hundreds of entries), and the command writes it through the
// service — locally in worker processes with the embedded projection brought up to date after,
// and against a server — each write a commit in repositories stock git finds sound.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { parseDemographics } from '../src/core/patient/demographics.js';
import { REPOSITORY_KINDS } from '../src/core/record/record-layout.js';
import { planPatient, staffOf, type PatientPlan } from '../src/generate/population.js';
import { CLINICIAN_KEY, auth, serviceBackends, startService } from './support/service.js';
import { assertCleanAndSound, git } from './support/git-check.js';
import { json, vpr, type Json } from './support/cli.js';
import { tempDir } from './support/temp-dir.js';

const AS_OF = new Date('2026-11-01T00:00:00Z');
// Asked before any test is registered, as the other service suites do.
const withServices = await serviceBackends();

/** Commits a plan makes: three first commits for the patient, one per write after that. */
function commitsOf(plan: PatientPlan): number {
  return (
    3 +
    plan.steps.reduce((n, step) => {
      if (step.kind === 'letter') return n + (step.signOffLater ? 2 : 1);
      if (step.kind === 'thread') return n + 1 + step.replies.length;
      return n + 1;
    }, 0)
  );
}

/** A person as the plan has them and as a list of patients shows them (given and middle names in one). */
const who = (d: Record<string, unknown>) =>
  `${String(d.given_names ?? [d.given_name, d.middle_name].filter((n) => n !== undefined).join(' '))} ${String(d.family_name)} ${String(d.date_of_birth)}`;

test('a seed decides the population: the same plan every time, another seed another', () => {
  const staff = staffOf(7);
  assert.deepEqual(staffOf(7), staff);
  for (const index of [0, 1, 17, 4242]) {
    assert.deepEqual(planPatient(7, index, AS_OF, staff), planPatient(7, index, AS_OF, staff));
  }
  // Planning patient 5 after patient 900 gives the same patient 5: order does not matter.
  planPatient(7, 900, AS_OF, staff);
  assert.deepEqual(planPatient(7, 5, AS_OF, staff), planPatient(7, 5, AS_OF));
  const other = Array.from({ length: 20 }, (_, i) => who(planPatient(8, i, AS_OF).demographics));
  const mine = Array.from({ length: 20 }, (_, i) => who(planPatient(7, i, AS_OF, staff).demographics));
  assert.notDeepEqual(other, mine);
});

test('every generated patient is valid and synthetic, with a practice-like spread of record sizes', () => {
  const staff = staffOf(1);
  const sizes: number[] = [];
  const countries = new Set<string>();
  const emails = new Set<string>();
  const phones = new Set<string>();
  const kinds = new Map<string, number>();
  for (let index = 0; index < 3000; index++) {
    const plan = planPatient(1, index, AS_OF, staff);
    // The service's own rules accept the demographics as they are.
    assert.deepEqual(
      parseDemographics(plan.demographics, '', [], AS_OF).given_name,
      plan.demographics.given_name,
    );
    const email = plan.demographics.email as string | undefined;
    if (email !== undefined) {
      assert.match(email, /@example\.(org|com|net)$/);
      assert.ok(!emails.has(email), `email ${index} is unique`);
      emails.add(email);
    }
    const phone = plan.demographics.phone_e164 as string | undefined;
    if (phone !== undefined) {
      assert.equal(parsePhoneNumberFromString(phone)?.isValid(), true);
      assert.equal(parsePhoneNumberFromString(phone)?.number, phone, 'E.164');
      assert.ok(!phones.has(phone), `phone ${index} is unique`);
      phones.add(phone);
    }
    const address = plan.demographics.address as { country?: string } | undefined;
    if (address?.country !== undefined) countries.add(address.country);
    for (const step of plan.steps) {
      const kind = step.kind === 'entry' ? step.entryKind : step.kind;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    sizes.push(commitsOf(plan));
  }
  sizes.sort((a, b) => a - b);
  assert.ok(sizes[1500]! <= 12, `most patients are small (median ${sizes[1500]} commits)`);
  assert.ok(sizes.at(-1)! >= 150, `a few have hundreds of entries (largest ${sizes.at(-1)} commits)`);
  assert.ok(countries.size >= 8, `addresses across countries (${[...countries].join(', ')})`);
  assert.ok(emails.size > 2000 && phones.size > 2000);
  for (const kind of [
    'blood_pressure',
    'heart_rate',
    'body_weight',
    'lab_result',
    'problem',
    'letter',
    'thread',
    'care-event',
  ]) {
    assert.ok((kinds.get(kind) ?? 0) > 0, `the population has ${kind}`);
  }
  const letters = Array.from({ length: 3000 }, (_, i) => planPatient(1, i, AS_OF, staff).steps)
    .flat()
    .filter((s) => s.kind === 'letter');
  assert.ok(
    letters.some((l) => l.attachment !== undefined),
    'a few letters carry a PDF',
  );
  assert.ok(
    letters.some((l) => l.body.sign_off === false && !l.signOffLater),
    'some letters stay drafts',
  );
});

/** Every repository under `dataDir` with the number of commits on its HEAD; each checked by git. */
async function repositories(dataDir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const kind of REPOSITORY_KINDS) {
    for (const a of await readdir(join(dataDir, kind)).catch(() => [])) {
      for (const b of await readdir(join(dataDir, kind, a))) {
        for (const id of await readdir(join(dataDir, kind, a, b))) {
          const dir = join(dataDir, kind, a, b, id);
          await assertCleanAndSound(dir);
          found.set(`${kind}/${id}`, Number((await git(dir, ['rev-list', '--count', 'HEAD'])).trim()));
        }
      }
    }
  }
  return found;
}

test('vpr generate writes the plan through the service in worker processes; the embedded projection holds it after', async (t) => {
  const dataDir = await tempDir(t);
  const env = { env: { VPR_DATA_DIR: dataDir, VPR_PROFILE: '/dev/null' } };
  const plans = Array.from({ length: 6 }, (_, i) => planPatient(5, i, AS_OF));
  const outcome = await json(
    ['generate', '--patients', '6', '--seed', '5', '--processes', '2', '--concurrency', '2'],
    env,
  );
  assert.equal(outcome.patients, 6);
  assert.equal(outcome.processes, 2);
  assert.equal(
    outcome.writes,
    plans.reduce((n, p) => n + commitsOf(p) - 2, 0),
  );
  const repos = await repositories(dataDir);
  assert.equal(repos.size, 18, 'three repositories per patient');
  const commits = [...repos.values()].reduce((a, b) => a + b, 0);
  assert.equal(
    commits,
    plans.reduce((n, p) => n + commitsOf(p), 0),
    'one commit per write',
  );
  // The embedded projection was brought up to date: the service lists exactly the planned people.
  const listed = await json(['patient', 'list', '--limit', '100'], env);
  assert.deepEqual(
    (listed.patients as Json[]).map((p) => who(p)).sort(),
    plans.map((p) => who(p.demographics)).sort(),
  );
  // Adding to the population continues the numbering: patient numbers 6 and 7, none twice.
  await json(['generate', '--patients', '2', '--seed', '5', '--first', '6', '--processes', '1'], env);
  const after = await json(['patient', 'list', '--limit', '100'], env);
  assert.equal((after.patients as Json[]).length, 8);
  assert.ok((after.patients as Json[]).some((p) => who(p) === who(planPatient(5, 7, AS_OF).demographics)));
});

test('vpr generate refuses bad options before writing anything', async (t) => {
  const dataDir = await tempDir(t);
  const env = { env: { VPR_DATA_DIR: dataDir, VPR_PROFILE: '/dev/null' } };
  for (const args of [
    ['--patients', '0'],
    ['--patients', '2', '--concurrency', '0'],
    ['--patients', '2', '--concurrency', '65'],
    ['--patients', '2', '--as-of', '2999-01-01'],
    ['--patients', '2', '--as-of', 'yesterday'],
    ['--patients', 'many'],
  ]) {
    const run = await vpr(['generate', ...args], env);
    assert.notEqual(run.code, 0, args.join(' '));
    assert.match(run.stderr, /INVALID_INPUT|must|whole number/, args.join(' '));
  }
  assert.deepEqual(await repositories(dataDir), new Map());
});

for (const backend of withServices) {
  test(`vpr generate against a server (${backend}): the same people, every write through the API`, async (t) => {
    const service = await startService(t, backend);
    const [url] = await service.runtime.listen();
    const env = { env: { VPR_SERVER: url!, VPR_API_KEY: CLINICIAN_KEY, VPR_PROFILE: '/dev/null' } };
    const outcome = await json(['generate', '--patients', '3', '--seed', '11'], env);
    const plans = Array.from({ length: 3 }, (_, i) => planPatient(11, i, AS_OF));
    assert.equal(
      outcome.writes,
      plans.reduce((n, p) => n + commitsOf(p) - 2, 0),
    );
    const list = await service.inject({
      method: 'GET',
      url: '/api/v1/patients?limit=100',
      headers: auth(CLINICIAN_KEY),
    });
    const listed = (list.json() as { patients: Json[] }).patients;
    assert.deepEqual(listed.map((p) => who(p)).sort(), plans.map((p) => who(p.demographics)).sort());
    const repos = await repositories(service.dataDir);
    assert.equal(
      [...repos.values()].reduce((a, b) => a + b, 0),
      plans.reduce((n, p) => n + commitsOf(p), 0),
    );
  });
}
