// The projection's repairs in a server's background. The start-up catch-up: the server answers
// before the projection has caught up with Git, says "not ready" (with the progress) until it has,
// retries a failed catch-up, and stops one still running when it closes. And commits that failed
// to project while the database was away, projected again on a timer once it is back.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import pg from 'pg';
import { RecordStore } from '../src/core/record/record-store.js';
import { BackgroundCatchUp, MissedCommitRepair } from '../src/projection/background-catch-up.js';
import { migrate } from '../src/projection/migrations.js';
import { openPostgres } from '../src/projection/pg-client.js';
import { Projection } from '../src/projection/projection.js';
import { createLogger } from '../src/transport/observability.js';
import { careLocation, clinician, person } from './support/fixtures.js';
import { DATABASE_URL, snapshot, testSchema } from './support/projection-backends.js';
import { reindex } from '../src/projection/reindex.js';
import { READER_KEY, auth, serviceBackends, startService } from './support/service.js';
import { tempDir } from './support/temp-dir.js';

const backends = await serviceBackends();
/** The tests that hold a PostgreSQL lock run where PostgreSQL does (always under VPR_REQUIRE_SERVICES=1). */
const postgresOnly = backends.filter((b) => b === 'postgres+redis');

/** A data directory with `count` patients committed by a store no projection listens to. */
async function unprojectedPatients(t: TestContext, count: number) {
  const dataDir = await tempDir(t);
  const store = new RecordStore({ dataDir, repository: { durability: 'none' } });
  await store.open();
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const record = await store.createFullRecord({
      demographics: person('Backlog', ['Ann', 'Bea', 'Cat', 'Dot'][i % 4]!),
      author: clinician,
      careLocation,
    });
    ids.push(record.demographicsId);
  }
  await store.close();
  return { dataDir, ids };
}

/** A log that keeps its lines, for the tests to read. */
function keptLog() {
  const lines: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  return { lines, logger };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** The schema of a PostgreSQL projection, migrated, with a connection holding `repositories` locked. */
async function lockedProjectionSchema(t: TestContext) {
  const schema = testSchema();
  const setup = await openPostgres({ connectionString: DATABASE_URL, schema, max: 1 });
  await migrate(setup);
  await setup.close();
  const locker = new pg.Client({ connectionString: DATABASE_URL });
  await locker.connect();
  await locker.query(`SET search_path TO ${schema}`);
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE repositories IN ACCESS EXCLUSIVE MODE');
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await locker.query('ROLLBACK');
  };
  t.after(async () => {
    await release();
    await locker.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await locker.end();
  });
  return { schema, release };
}

for (const backend of backends) {
  test(`[${backend}] the server catches up in the background and is ready once it has`, async (t) => {
    const { dataDir, ids } = await unprojectedPatients(t, 4);
    const service = await startService(t, backend, {}, { dataDir, catchUp: 'while-serving' });
    const result = await service.runtime.caughtUp;
    assert.ok(result !== undefined, 'the catch-up completed');
    assert.equal(result.checked, 12, 'three repositories a patient');
    assert.equal(result.projected, 12, 'none was projected before');
    const ready = await service.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json().checks.catch_up, { ok: true });
    const listed = await service.inject({ url: '/api/v1/patients?limit=100', headers: auth(READER_KEY) });
    assert.equal(listed.statusCode, 200);
    assert.deepEqual(
      (listed.json().patients as { patient_id: string }[]).map((p) => p.patient_id).sort(),
      [...ids].sort(),
    );
    assert.match(service.logs(), /"msg":"projection caught up with Git"/);
  });
}

for (const backend of postgresOnly) {
  test(`[${backend}] while the catch-up waits, the server reads records from Git and says not ready`, async (t) => {
    const { dataDir, ids } = await unprojectedPatients(t, 2);
    const { schema, release } = await lockedProjectionSchema(t);
    const service = await startService(t, backend, {}, { dataDir, schema, catchUp: 'while-serving' });
    const waiting = await service.inject({ url: '/readyz' });
    assert.equal(waiting.statusCode, 503);
    assert.equal(waiting.json().status, 'not ready');
    assert.equal(waiting.json().checks.catch_up.ok, false);
    assert.match(
      waiting.json().checks.catch_up.detail,
      /^catching the projection up with Git: \d+ repositories checked$/,
    );
    const read = await service.inject({ url: `/api/v1/patients/${ids[0]}`, headers: auth(READER_KEY) });
    assert.equal(read.statusCode, 200, read.body);
    assert.equal(read.json().family_name, 'Backlog');
    await release();
    const result = await service.runtime.caughtUp;
    assert.equal(result?.projected, 6);
    assert.equal((await service.inject({ url: '/readyz' })).statusCode, 200);
  });

  test(`[${backend}] a failed catch-up is tried again, and one still waiting stops when asked`, async (t) => {
    const { dataDir } = await unprojectedPatients(t, 1);
    const store = new RecordStore({ dataDir, repository: { durability: 'none' } });
    await store.open();
    const schema = testSchema();
    const projection = await Projection.open({ dataDir, databaseUrl: DATABASE_URL, schema }, store);
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    t.after(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await admin.query(`DROP SCHEMA IF EXISTS ${schema}_away CASCADE`).catch(() => undefined);
      await admin.end();
      await projection.close();
      await store.close();
    });
    const { lines, logger } = keptLog();
    // The projection's tables are gone: every attempt fails until they are back.
    await admin.query(`ALTER SCHEMA ${schema} RENAME TO ${schema}_away`);
    const catchUp = new BackgroundCatchUp(projection, logger, 20);
    await until(() => lines.some((l) => l.includes('"attempt":2')));
    assert.match(catchUp.check().detail ?? '', /, attempt \d+$/);
    assert.ok(
      lines.every((l) => !l.includes('Backlog')),
      'no patient data in the log',
    );
    await admin.query(`ALTER SCHEMA ${schema}_away RENAME TO ${schema}`);
    const result = await catchUp.done;
    assert.equal(result?.projected, 3);
    assert.deepEqual(catchUp.check(), { ok: true });
    assert.match(lines.join(''), /"code":"PROJECTION_UNAVAILABLE"/);

    // A second catch-up held up by a lock, stopped: it lets go once its query returns.
    await admin.query(`SET search_path TO ${schema}`);
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE repositories IN ACCESS EXCLUSIVE MODE');
    const held = new BackgroundCatchUp(projection, logger, 20);
    const stopped = held.stop();
    await admin.query('ROLLBACK');
    await stopped;
    assert.equal(await held.done, undefined, 'a stopped catch-up reports no result');
    assert.equal(held.check().ok, false);
  });
  test(`[${backend}] commits missed while the database was away are projected once it is back`, async (t) => {
    const dataDir = await tempDir(t);
    const store = new RecordStore({ dataDir, repository: { durability: 'none' } });
    await store.open();
    const schema = testSchema();
    const applicationName = `vpr-test-${schema}`;
    const projection = await Projection.open(
      { dataDir, databaseUrl: DATABASE_URL, schema, applicationName },
      store,
    );
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    const { lines, logger } = keptLog();
    const repair = new MissedCommitRepair(projection, logger, 20);
    t.after(async () => {
      await repair.stop();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await admin.query(`DROP SCHEMA IF EXISTS ${schema}_away CASCADE`).catch(() => undefined);
      await admin.end();
      await projection.close();
      await store.close();
    });
    const record = await store.createFullRecord({
      demographics: person('Outage', 'Eve'),
      author: clinician,
      careLocation,
    });
    // Hide the projection's tables and drop every connection of its pool.
    await admin.query(`ALTER SCHEMA ${schema} RENAME TO ${schema}_away`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      applicationName,
    ]);
    for (let n = 0; n < 3; n++) {
      await store.commitChange({
        kind: 'clinical',
        id: record.clinicalId,
        changes: [{ path: `notes/${n}.md`, content: `# Note ${n}\n` }],
        author: clinician,
        action: 'create',
        summary: `Note ${n}`,
        careLocation,
      });
    }
    assert.equal(projection.status().missedCommits, 3);
    await until(() => lines.some((l) => l.includes('missed commits not projected yet')));
    assert.equal(projection.status().missedCommits, 3, 'still missed while the database is away');
    await admin.query(`ALTER SCHEMA ${schema}_away RENAME TO ${schema}`);
    await until(() => projection.status().missedCommits === 0);
    assert.match(lines.join(''), /"repositories":1,"msg":"missed commits projected from Git"/);
    const repaired = await snapshot(projection.client);
    assert.deepEqual(
      repaired.documents!.map((d) => (d as { path: string }).path).filter((p) => p.startsWith('notes/')),
      ['notes/0.md', 'notes/1.md', 'notes/2.md'],
    );
    await reindex(projection.client, store);
    assert.deepEqual(await snapshot(projection.client), repaired, 'the same rows as a rebuild from Git');
  });
}
