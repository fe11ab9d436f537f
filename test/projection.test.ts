// The projection on PGlite and on the machine's PostgreSQL: rows written with each commit,
// incremental and full projection agreeing, catch-up after writes it missed, and equality with a
// fresh reindex after random sequences of writes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MIGRATIONS, migrate } from '../src/projection/migrations.js';
import { Projector } from '../src/projection/projector.js';
import { PROJECTION_TABLES, reindex } from '../src/projection/reindex.js';
import { runParts, type SqlPart } from '../src/projection/row-writer.js';
import type { SqlClient } from '../src/projection/sql-client.js';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isVprError } from '../src/core/errors.js';
import { repositoryDir } from '../src/core/record/record-layout.js';
import { RecordStore } from '../src/core/record/record-store.js';
import { careLocation, clinician, demographics, patientYaml } from './support/fixtures.js';
import { projectionBackends, snapshot } from './support/projection-backends.js';
import { tempDir } from './support/temp-dir.js';
import type { TestContext } from 'node:test';

const { backends } = await projectionBackends();

async function projectedStore(t: TestContext, client: SqlClient, project = true) {
  const dataDir = await tempDir(t);
  const listener = { projector: undefined as Projector | undefined };
  const store = new RecordStore({
    dataDir,
    repository: { durability: 'none' },
    ...(project ? { onCommit: (events) => listener.projector!.onCommit(events) } : {}),
  });
  const projector = new Projector(client, store);
  listener.projector = projector;
  await store.open();
  t.after(() => store.close());
  return { store, projector, dataDir };
}

/** Each projection table's indexes and constraints, with the names PostgreSQL chose left out. */
async function schemaShape(client: SqlClient): Promise<string[]> {
  const rows = await client.query<{ shape: string }>(
    `SELECT t.relname || ': ' || regexp_replace(pg_get_indexdef(i.indexrelid), '^(CREATE (UNIQUE )?INDEX) \\S+ ON \\S+', '\\1')
              || coalesce(' as ' || pg_get_constraintdef(c.oid), '') AS shape
       FROM pg_index i
       JOIN pg_class t ON t.oid = i.indrelid
       LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
      WHERE t.relnamespace = current_schema()::regnamespace
        AND t.relname = ANY($1::text[])`,
    [PROJECTION_TABLES],
  );
  return rows.map((r) => r.shape).sort();
}

for (const backend of backends) {
  test(`[${backend.name}] joined statement parts write what they would one by one, in order`, async (t) => {
    const client = await backend.open(t);
    const link = (id: string, patient: string): SqlPart => ({
      table: 'clinical_links',
      sql: `INSERT INTO clinical_links (clinical_id, patient_id, commit_sha) VALUES ($1, $2, 'c1')
            ON CONFLICT (clinical_id) DO UPDATE SET patient_id = excluded.patient_id`,
      params: [id, patient],
    });
    const head = (id: string): SqlPart => ({
      table: 'repositories',
      sql: `INSERT INTO repositories (kind, id, head_commit) VALUES ('clinical', $1, $2)`,
      params: [id, 'h'.repeat(40)],
    });
    const unlink = (id: string): SqlPart => ({
      table: 'clinical_links',
      sql: 'DELETE FROM clinical_links WHERE clinical_id = $1',
      params: [id],
    });
    // Two tables joined; then the same key deleted and written again, which must stay in order.
    await client.transaction((tx) =>
      runParts(tx, [link('a', 'p1'), head('a'), undefined, unlink('a'), link('a', 'p2'), link('b', 'p3')]),
    );
    assert.deepEqual(
      await client.query('SELECT clinical_id, patient_id FROM clinical_links ORDER BY clinical_id'),
      [
        { clinical_id: 'a', patient_id: 'p2' },
        { clinical_id: 'b', patient_id: 'p3' },
      ],
    );
    assert.deepEqual(await client.query('SELECT id, head_commit FROM repositories'), [
      { id: 'a', head_commit: 'h'.repeat(40) },
    ]);
    // A failing part fails its statement, and the transaction writes nothing.
    await assert.rejects(client.transaction((tx) => runParts(tx, [link('c', 'p4'), head('a')])));
    assert.equal((await client.query("SELECT 1 FROM clinical_links WHERE clinical_id = 'c'")).length, 0);
  });

  test(`[${backend.name}] a reindex leaves every index and key as the migrations made them`, async (t) => {
    const client = await backend.open(t);
    const { store } = await projectedStore(t, client);
    await store.createFullRecord({ demographics, author: clinician, careLocation });
    const migrated = await schemaShape(client);
    assert.ok(migrated.length >= 12, `the migrations made ${migrated.length} indexes`);
    assert.ok(migrated.some((shape) => shape.includes('as PRIMARY KEY (kind, id)')));
    for (let round = 1; round <= 2; round++) {
      await reindex(client, store);
      assert.deepEqual(await schemaShape(client), migrated, `after reindex ${round}`);
    }
  });

  for (const threads of [0, 2]) {
    test(`[${backend.name}] a corrupt repository stops a reindex (${threads} threads) with a typed error naming it, and the projection is untouched`, async (t) => {
      const client = await backend.open(t);
      const { store, dataDir } = await projectedStore(t, client);
      await store.createFullRecord({ demographics, author: clinician, careLocation });
      const damaged = await store.createFullRecord({ demographics, author: clinician, careLocation });
      const before = await snapshot(client);
      // Flip bytes inside the pack's compressed data: the header and trailer still check out.
      const packDir = join(repositoryDir(dataDir, 'clinical', damaged.clinicalId), '.git', 'objects', 'pack');
      const pack = join(
        packDir,
        (await readdir(packDir)).find((name) => name.endsWith('.pack'))!,
      );
      const bytes = await readFile(pack);
      for (let i = 40; i < bytes.length - 40; i += 7) bytes[i] = bytes[i]! ^ 0xff;
      await writeFile(pack, bytes);
      await assert.rejects(reindex(client, store, { threads }), (error: unknown) => {
        assert.ok(isVprError(error, 'CORRUPT_REPOSITORY'), String(error));
        assert.deepEqual(error.details, { kind: 'clinical', id: damaged.clinicalId });
        return true;
      });
      assert.deepEqual(await snapshot(client), before);
      const shadows = await client.query(
        `SELECT table_name FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_name LIKE '%\\_\\_next'`,
      );
      assert.deepEqual(shadows, [], 'no shadow table is left behind');
    });
  }

  test(`[${backend.name}] migrations apply once`, async (t) => {
    const client = await backend.open(t);
    assert.deepEqual(await migrate(client), []);
    const [row] = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    assert.equal(row?.n, MIGRATIONS.length);
  });

  test(`[${backend.name}] each write is projected as it lands`, async (t) => {
    const client = await backend.open(t);
    const { store } = await projectedStore(t, client);
    const record = await store.createFullRecord({ demographics, author: clinician, careLocation });
    const [patient] = await client.query('SELECT * FROM patients WHERE patient_id = $1', [
      record.demographicsId,
    ]);
    assert.equal(patient?.family_name, 'Fixture');
    assert.equal(patient?.given_names, 'Testy Synthia');
    assert.equal(patient?.family_name_key, 'fixture');
    assert.equal(patient?.birth_date, '1970-01-02');
    assert.equal(patient?.version, record.commits.demographics);
    assert.equal(patient?.deleted, false);
    const links = await client.query(
      `SELECT l.patient_id, c.coordination_id FROM clinical_links l JOIN coordination_links c USING (clinical_id)
       WHERE l.clinical_id = $1`,
      [record.clinicalId],
    );
    assert.deepEqual(links, [{ patient_id: record.demographicsId, coordination_id: record.coordinationId }]);

    const update = await store.commitChange({
      kind: 'demographics',
      id: record.demographicsId,
      changes: [
        {
          path: 'patient.yaml',
          content: patientYaml(record.demographicsId, 'Renamed', ['Testy'], {
            active: false,
            telecom: [
              { system: 'email', value: 'Testy.Fixture@Example.INVALID' },
              { system: 'phone', value: '+447700900123' },
            ],
          }),
        },
        { path: 'notes/first.md', content: '# A first note\n\nSome *synthetic* text.\n' },
      ],
      author: clinician,
      action: 'update',
      summary: 'Renamed and noted',
      careLocation,
    });
    const [after] = await client.query('SELECT * FROM patients WHERE patient_id = $1', [
      record.demographicsId,
    ]);
    assert.equal(after?.family_name, 'Renamed');
    assert.equal(after?.email, 'testy.fixture@example.invalid');
    assert.equal(after?.phone, '+447700900123');
    assert.equal(after?.deleted, true);
    assert.equal(after?.version, update.id);
    const [note] = await client.query('SELECT * FROM documents WHERE repo_id = $1 AND path = $2', [
      record.demographicsId,
      'notes/first.md',
    ]);
    assert.equal(note?.doc_kind, 'markdown');
    assert.equal(note?.title, 'A first note');
    assert.equal(note?.snippet, 'Some synthetic text.');
    assert.equal(note?.author_name, clinician.name);
    assert.equal(note?.commit_sha, update.id);
    const [repo] = await client.query('SELECT head_commit FROM repositories WHERE kind = $1 AND id = $2', [
      'demographics',
      record.demographicsId,
    ]);
    assert.equal(repo?.head_commit, update.id);
  });

  test(`[${backend.name}] catch-up projects writes the projection missed, equal to a fresh reindex`, async (t) => {
    const client = await backend.open(t);
    const { store, projector } = await projectedStore(t, client, false);
    const records = [];
    for (let i = 0; i < 3; i++)
      records.push(await store.createFullRecord({ demographics, author: clinician, careLocation }));
    await store.commitChange({
      kind: 'clinical',
      id: records[0]!.clinicalId,
      changes: [{ path: 'a/b.md', content: '# B\n' }],
      author: clinician,
      action: 'create',
      summary: 'B',
      careLocation,
    });
    assert.equal((await client.query('SELECT * FROM patients')).length, 0, 'nothing projected yet');
    const first = await projector.catchUp();
    assert.deepEqual(first, { checked: 9, projected: 9 });
    assert.deepEqual(
      await projector.catchUp(),
      { checked: 9, projected: 0 },
      'a second catch-up has nothing to do',
    );
    const caughtUp = await snapshot(client);
    assert.equal(caughtUp.patients!.length, 3);
    const rebuilt = await reindex(client, store);
    assert.equal(rebuilt.repositories, 9);
    assert.deepEqual(await snapshot(client), caughtUp);
  });

  test(`[${backend.name}] after random writes the projection equals a fresh reindex`, async (t) => {
    const client = await backend.open(t);
    const { store } = await projectedStore(t, client);
    const record = await store.createFullRecord({ demographics, author: clinician, careLocation });
    const path = fc.constantFrom('notes/a.md', 'notes/b.md', 'c.yaml', 'deep/er/d.md', 'patient.yaml');
    const change = fc.record({
      path,
      content: fc.option(fc.constantFrom('# One\n', '# Two\n\nmore\n', 'x: 1\n', 'name:\n  value: Named\n'), {
        nil: null,
      }),
    });
    let written = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(change, { minLength: 1, maxLength: 3 }), { maxLength: 5 }),
        async (steps) => {
          for (const step of steps) {
            const byPath = new Map(step.map((c) => [c.path, c.content]));
            const changes = [...byPath].map(([p, content]) => ({
              path: p,
              content:
                p === 'patient.yaml' && content !== null
                  ? patientYaml(record.demographicsId, content.slice(2, 5), ['G'])
                  : content,
            }));
            try {
              await store.commitChange({
                kind: 'demographics',
                id: record.demographicsId,
                changes,
                author: clinician,
                action: 'update',
                summary: 'Random change',
                careLocation,
              });
              written++;
            } catch {
              // removing a file that is not there: refused, nothing written, fine
            }
          }
          const incremental = await snapshot(client);
          await reindex(client, store);
          assert.deepEqual(await snapshot(client), incremental);
        },
      ),
      { numRuns: 15 },
    );
    assert.ok(written > 10, `the property wrote ${written} commits`);
  });
}
