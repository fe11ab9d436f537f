// The projection as a service: patient lists with filters and keyset pagination, and writes that
// keep landing in Git while the projection database is down, repaired by catch-up.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import pg from 'pg';
import { isVprError } from '../src/core/errors.js';
import { RecordStore } from '../src/core/record/record-store.js';
import { Projection } from '../src/projection/projection.js';
import { reindex } from '../src/projection/reindex.js';
import { careLocation, clinician, patientYaml, person } from './support/fixtures.js';
import { DATABASE_URL, projectionBackends, snapshot, testSchema } from './support/projection-backends.js';
import { tempDir } from './support/temp-dir.js';

const { backends } = await projectionBackends();

async function openService(t: TestContext, backend: string, dataDir?: string) {
  const dir = dataDir ?? (await tempDir(t));
  const store = new RecordStore({ dataDir: dir, repository: { durability: 'none' } });
  await store.open();
  const schema = testSchema();
  const applicationName = `vpr-test-${schema}`;
  const projection = await Projection.open(
    backend === 'postgres'
      ? { dataDir: dir, databaseUrl: DATABASE_URL, schema, applicationName }
      : { dataDir: dir },
    store,
  );
  t.after(async () => {
    if (backend === 'postgres')
      await projection.client.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await projection.close().catch(() => undefined);
    await store.close();
  });
  return { store, projection, dataDir: dir, applicationName, schema };
}

const people: [string, string[], string][] = [
  ['Ábel', ['Zoë'], '1980-01-01'],
  ['abel', ['Ann'], '1981-02-02'],
  ['Abernathy', ['Bo'], '1980-01-01'],
  ['Baker', ['Cy', 'Dee'], '1990-03-03'],
  ['Baker', ['Eve'], '1990-03-03'],
  ['Bakers%Field', ['Flo'], '2000-04-04'],
  ['Carter', ['Gil'], '1975-05-05'],
  ['Ó Briain', ['Hal'], '1966-06-06'],
];

for (const backend of backends) {
  test(`[${backend.name}] patient lists filter and page with a cursor`, async (t) => {
    const { store, projection } = await openService(t, backend.name);
    const ids: string[] = [];
    for (const [i, [family, given, birthDate]] of people.entries()) {
      const record = await store.createFullRecord({
        demographics: person(family, given.join(' '), birthDate),
        author: clinician,
        careLocation,
      });
      ids.push(record.demographicsId);
      if (i === 3) {
        await store.commitChange({
          kind: 'demographics',
          id: record.demographicsId,
          changes: [
            {
              path: 'patient.yaml',
              content: patientYaml(record.demographicsId, family, given, {
                birthDate,
                telecom: [
                  { system: 'email', value: 'Cy.Baker@Example.invalid' },
                  { system: 'phone', value: '+447700900001' },
                ],
              }),
            },
          ],
          author: clinician,
          action: 'update',
          summary: 'Contact details',
          careLocation,
        });
      }
    }
    const names = async (filter: Parameters<Projection['listPatients']>[0]) =>
      (await projection.listPatients(filter)).patients.map((p) => `${p.familyName}/${p.givenNames}`);
    assert.deepEqual(
      (await names({ familyName: 'ABE' })).sort(),
      ['Abernathy/Bo', 'abel/Ann', 'Ábel/Zoë'].sort(),
    );
    assert.deepEqual((await names({ familyName: 'baker' })).sort(), [
      'Baker/Cy Dee',
      'Baker/Eve',
      'Bakers%Field/Flo',
    ]);
    assert.deepEqual(await names({ familyName: 'bakers%' }), ['Bakers%Field/Flo']);
    assert.deepEqual(await names({ familyName: 'baker_' }), []);
    assert.deepEqual(await names({ givenName: 'cy' }), ['Baker/Cy Dee']);
    assert.deepEqual((await names({ birthDate: '1980-01-01' })).sort(), ['Abernathy/Bo', 'Ábel/Zoë'].sort());
    assert.deepEqual(await names({ email: 'cy.baker@example.INVALID' }), ['Baker/Cy Dee']);
    assert.deepEqual(await names({ phone: '+447700900001' }), ['Baker/Cy Dee']);
    assert.deepEqual(await names({ familyName: 'o bri' }), ['Ó Briain/Hal']);
    assert.deepEqual(await names({ deleted: true }), []);

    const one = await projection.getPatient(ids[0]!);
    assert.equal(one?.familyName, 'Ábel');
    assert.match(one?.clinicalId ?? '', /^[0-9a-f]{32}$/);
    assert.match(one?.coordinationId ?? '', /^[0-9a-f]{32}$/);

    const all = (await projection.listPatients({ limit: 100 })).patients.map((p) => p.patientId);
    assert.equal(all.length, people.length);
    const paged: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await projection.listPatients({ limit: 3, ...(cursor === undefined ? {} : { cursor }) });
      paged.push(...page.patients.map((p) => p.patientId));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    assert.deepEqual(paged, all);
    for (const bad of [{ limit: 0 }, { limit: 101 }, { cursor: 'not-a-cursor' }]) {
      await assert.rejects(projection.listPatients(bad), (e: unknown) => isVprError(e, 'INVALID_INPUT'));
    }
  });

  test(`[${backend.name}] writes land while the projection is down; catch-up makes it equal a reindex`, async (t) => {
    const { store, projection, dataDir, applicationName, schema } = await openService(t, backend.name);
    const write = (id: string, n: number) =>
      store.commitChange({
        kind: 'clinical',
        id,
        changes: [{ path: `notes/${n}.md`, content: `# Note ${n}\n` }],
        author: clinician,
        action: 'create',
        summary: `Note ${n}`,
        careLocation,
      });
    const demographics = person('Time', 'Down');
    const record = await store.createFullRecord({ demographics, author: clinician, careLocation });
    await write(record.clinicalId, 0);
    // Take the projection database away in the middle of a stream of writes.
    let reopened: Projection | undefined;
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    if (backend.name === 'postgres') {
      await admin.connect();
      t.after(() => admin.end());
    }
    if (backend.name === 'pglite') {
      await projection.client.close();
    } else {
      // Hide the projection's tables and drop every connection of its pool.
      await admin.query(`ALTER SCHEMA ${schema} RENAME TO ${schema}_away`);
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
    }
    for (let n = 1; n <= 5; n++) {
      const result = await write(record.clinicalId, n);
      assert.match(result.id, /^[0-9a-f]{40}$/, 'Git accepted the write');
    }
    const late = await store.createFullRecord({ demographics, author: clinician, careLocation });
    assert.ok(projection.status().missedCommits >= 5, `${projection.status().missedCommits} commits missed`);
    await assert.rejects(projection.listPatients(), (e: unknown) => isVprError(e, 'PROJECTION_UNAVAILABLE'));
    if (backend.name === 'postgres') {
      // Bring it back; the same projection catches up from Git.
      await admin.query(`ALTER SCHEMA ${schema}_away RENAME TO ${schema}`);
    } else {
      // Bring it back: a new projection on the same data directory catches up from Git.
      const store2 = new RecordStore({ dataDir, repository: { durability: 'none' } });
      await store2.open();
      reopened = await Projection.open({ dataDir }, store2);
      t.after(async () => {
        await reopened?.close();
        await store2.close();
      });
    }
    const active = reopened ?? projection;
    const caught = await active.catchUp();
    assert.ok(caught.projected >= 1, `catch-up re-projected ${caught.projected} repositories`);
    const afterCatchUp = await snapshot(active.client);
    assert.equal(afterCatchUp.patients!.length, 2);
    assert.ok(afterCatchUp.documents!.some((d) => (d as { path: string }).path === 'notes/5.md'));
    assert.ok((await active.getPatient(late.demographicsId)) !== undefined);
    await reindex(active.client, store);
    assert.deepEqual(await snapshot(active.client), afterCatchUp);
  });
}

for (const backend of backends) {
  test(`[${backend.name}] a reindex while writes go on ends equal to a fresh reindex`, async (t) => {
    const { store, projection } = await openService(t, backend.name);
    const demographics = person('Writer', 'Busy');
    const records = [];
    for (let i = 0; i < 6; i++)
      records.push(await store.createFullRecord({ demographics, author: clinician, careLocation }));
    let writes = 0;
    const writing = (async () => {
      for (let n = 0; n < 12; n++) {
        await store.commitChange({
          kind: 'clinical',
          id: records[n % records.length]!.clinicalId,
          changes: [{ path: `during/${n}.md`, content: `# During ${n}\n` }],
          author: clinician,
          action: 'create',
          summary: `During ${n}`,
          careLocation,
        });
        writes++;
      }
    })();
    const result = await projection.reindex();
    await writing;
    assert.equal(writes, 12);
    assert.ok(result.repositories >= 18);
    assert.equal(result.patients, 6);
    // The reindex itself re-projected what was written while it ran: nothing is left to catch up.
    assert.deepEqual(await projection.catchUp(), { checked: 18, projected: 0 });
    const live = await snapshot(projection.client);
    assert.equal(
      live.documents!.filter((d) => (d as { path: string }).path.startsWith('during/')).length,
      12,
    );
    await projection.reindex();
    assert.deepEqual(await snapshot(projection.client), live);
  });
}
