// The Patient API through the real server (in-process inject, and over a socket where the
// network matters), on PGlite and on the machine's PostgreSQL + Redis: every status of the API,
// authentication and scopes, idempotency, uniqueness, the PUT race, history and audit, the write
// switch, and logs that never carry patient data.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repositoryDir } from '../src/core/record/record-layout.js';
import {
  ADMIN_KEY,
  OTHER_WRITER_KEY,
  READER_KEY,
  WRITER_KEY,
  auth,
  patientBody,
  serviceBackends,
  startService,
  type TestService,
  json,
} from './support/service.js';

const run = promisify(execFile);
const withServices = await serviceBackends();

async function create(
  service: TestService,
  body = patientBody(),
  key = WRITER_KEY,
  headers: Record<string, string> = {},
) {
  return service.inject({
    method: 'POST',
    url: '/api/v1/patients',
    headers: { ...json(key), ...headers },
    payload: body,
  });
}

for (const backend of withServices) {
  test(`[${backend}] create, read, conditional read, replace with If-Match, soft delete and restore`, async (t) => {
    const service = await startService(t, backend);
    const created = await create(
      service,
      patientBody({ email: 'Testy@Example.org', phone_e164: '+1 (202) 555-0123' }),
    );
    assert.equal(created.statusCode, 201, created.body);
    const patient = created.json();
    assert.match(patient.patient_id, /^[0-9a-f]{32}$/);
    assert.match(patient.clinical_id, /^[0-9a-f]{32}$/);
    assert.match(patient.coordination_id, /^[0-9a-f]{32}$/);
    assert.equal(patient.email, 'testy@example.org');
    assert.equal(patient.phone_e164, '+12025550123');
    assert.equal(patient.middle_name, 'Synthia');
    assert.equal(created.headers.etag, `"${patient.version}"`);
    assert.equal(created.headers.location, `/api/v1/patients/${patient.patient_id}`);

    const url = `/api/v1/patients/${patient.patient_id}`;
    if (backend === 'postgres+redis') {
      assert.deepEqual((await service.inject({ url: '/readyz' })).json().checks, {
        store: { ok: true },
        projection: { ok: true },
        redis: { ok: true },
      });
    }
    const read = await service.inject({ url, headers: auth(READER_KEY) });
    assert.equal(read.statusCode, 200);
    assert.deepEqual(read.json(), patient);
    assert.equal(read.headers.etag, created.headers.etag);
    const notModified = await service.inject({
      url,
      headers: { ...auth(READER_KEY), 'if-none-match': `W/"${patient.version}"` },
    });
    assert.equal(notModified.statusCode, 304);
    assert.equal(notModified.body, '');

    const replace = (headers: Record<string, string>, body = patientBody({ family_name: 'Renamed' })) =>
      service.inject({ method: 'PUT', url, headers: { ...json(WRITER_KEY), ...headers }, payload: body });
    assert.equal((await replace({})).json().code, 'PRECONDITION_REQUIRED');
    assert.equal((await replace({})).statusCode, 428);
    assert.equal((await replace({ 'if-match': 'not-an-etag' })).statusCode, 400);
    const updated = await replace({ 'if-match': created.headers.etag as string });
    assert.equal(updated.statusCode, 200, updated.body);
    assert.equal(updated.json().family_name, 'Renamed');
    assert.equal(updated.json().email, null, 'a full replace drops what it does not send');
    assert.notEqual(updated.headers.etag, created.headers.etag);
    const stale = await replace(
      { 'if-match': created.headers.etag as string },
      patientBody({ family_name: 'Again' }),
    );
    assert.equal(stale.statusCode, 412);
    assert.equal(stale.json().code, 'VERSION_CONFLICT');
    const weak = await replace(
      { 'if-match': `W/${updated.headers.etag}` },
      patientBody({ family_name: 'Weakly' }),
    );
    assert.equal(weak.statusCode, 200, 'the weak form of the current ETag is understood');
    const same = await replace(
      { 'if-match': weak.headers.etag as string },
      patientBody({ family_name: 'Weakly' }),
    );
    assert.equal(same.statusCode, 200);
    assert.equal(same.headers.etag, weak.headers.etag, 'replacing with the same content makes no commit');
    const wrongId = await replace(
      { 'if-match': weak.headers.etag as string },
      patientBody({ patient_id: 'f'.repeat(32) }),
    );
    assert.equal(wrongId.statusCode, 400);

    const removed = await service.inject({ method: 'DELETE', url, headers: auth(WRITER_KEY) });
    assert.equal(removed.statusCode, 204);
    const gone = await service.inject({ url, headers: auth(READER_KEY) });
    assert.equal(gone.statusCode, 410);
    assert.equal(gone.json().code, 'RECORD_DELETED');
    assert.equal(
      (await service.inject({ method: 'DELETE', url, headers: auth(WRITER_KEY) })).statusCode,
      204,
    );
    assert.equal((await replace({ 'if-match': weak.headers.etag as string })).statusCode, 410);
    const live = await service.inject({ url: '/api/v1/patients', headers: auth(READER_KEY) });
    assert.deepEqual(live.json().patients, []);
    const deleted = await service.inject({ url: '/api/v1/patients?deleted=true', headers: auth(READER_KEY) });
    assert.deepEqual(
      deleted.json().patients.map((p: { patient_id: string }) => p.patient_id),
      [patient.patient_id],
    );
    const restored = await service.inject({
      method: 'POST',
      url: `${url}:restore`,
      headers: auth(WRITER_KEY),
    });
    assert.equal(restored.statusCode, 200, restored.body);
    assert.equal(restored.json().is_deleted, false);
    assert.equal((await service.inject({ url, headers: auth(READER_KEY) })).statusCode, 200);

    // The record stays a real Git repository, every change a commit naming the acting principal.
    const dir = repositoryDir(service.dataDir, 'demographics', patient.patient_id);
    const { stdout } = await run('git', [
      '-C',
      dir,
      'log',
      '--format=%(trailers:key=Patient-Action,valueonly)%(trailers:key=Acting-Principal,valueonly)',
    ]);
    assert.deepEqual(
      stdout.split('\n').filter((l) => l !== ''),
      [
        'restore',
        'test-reception',
        'delete',
        'test-reception',
        'update',
        'test-reception',
        'update',
        'test-reception',
        'create',
        'test-reception',
      ],
    );
    await run('git', ['-C', dir, 'fsck', '--strict']);

    const history = await service.inject({ url: `${url}/history?diff=true`, headers: auth(READER_KEY) });
    assert.equal(history.statusCode, 200);
    const versions = history.json().versions;
    assert.deepEqual(
      versions.map((v: { action: string }) => v.action),
      ['restore', 'delete', 'update', 'update', 'create'],
    );
    assert.deepEqual(versions[0].changed_fields, ['is_deleted']);
    assert.deepEqual(versions[2].changed_fields, ['family_name']);
    assert.ok(
      versions[3].changed_fields.includes('email') && versions[3].changed_fields.includes('phone_e164'),
    );
    assert.match(versions[3].diff, /^-\s+family: Fixture$/m);
    assert.equal(versions[0].actor, 'test-reception');
    const audit = await service.runtime.projection.client.query<{ action: string; actor: string }>(
      'SELECT action, actor FROM audit_log WHERE patient_id = $1 ORDER BY occurred_at, action',
      [patient.patient_id],
    );
    assert.equal(audit.length, 5, 'the audit table holds a row per commit');
    assert.ok(audit.every((row) => row.actor === 'test-reception'));
  });

  test(`[${backend}] an Idempotency-Key replays the first answer and refuses a different body`, async (t) => {
    const service = await startService(t, backend);
    const first = await create(service, patientBody(), WRITER_KEY, { 'idempotency-key': 'visit-1' });
    assert.equal(first.statusCode, 201);
    const again = await create(service, patientBody(), WRITER_KEY, { 'idempotency-key': 'visit-1' });
    assert.equal(again.statusCode, 201);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.deepEqual(again.json(), first.json());
    const different = await create(service, patientBody({ family_name: 'Other' }), WRITER_KEY, {
      'idempotency-key': 'visit-1',
    });
    assert.equal(different.statusCode, 422);
    assert.equal(different.json().code, 'IDEMPOTENCY_KEY_REUSED');
    const otherKeyHolder = await create(service, patientBody(), OTHER_WRITER_KEY, {
      'idempotency-key': 'visit-1',
    });
    assert.equal(otherKeyHolder.statusCode, 201);
    assert.notEqual(otherKeyHolder.json().patient_id, first.json().patient_id, 'keys are per principal');
    const list = await service.inject({ url: '/api/v1/patients', headers: auth(READER_KEY) });
    assert.equal(list.json().patients.length, 2, 'the replay made no second patient');
    const stored = await service.runtime.projection.client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM idempotency_keys',
    );
    assert.equal(stored[0]?.n, 2, 'kept durably, one row per principal and key');
    // Keys expire: once past, the same key is free for a new request.
    await service.runtime.projection.client.query(
      `UPDATE idempotency_keys SET expires_at = now() - interval '1 second'`,
    );
    const afterExpiry = await create(service, patientBody({ family_name: 'Other' }), WRITER_KEY, {
      'idempotency-key': 'visit-1',
    });
    assert.equal(afterExpiry.statusCode, 201);
    assert.notEqual(afterExpiry.json().patient_id, first.json().patient_id);
  });

  test(`[${backend}] email and phone are unique among patients that are not deleted`, async (t) => {
    const service = await startService(t, backend);
    const first = await create(service, patientBody({ email: 'shared@example.org' }));
    assert.equal(first.statusCode, 201);
    const clash = await create(service, patientBody({ given_name: 'Other', email: 'SHARED@example.org' }));
    assert.equal(clash.statusCode, 409);
    assert.deepEqual(clash.json().details, { field: 'email' });
    const phoneFirst = await create(service, patientBody({ phone_e164: '+61491570156' }));
    assert.equal(phoneFirst.statusCode, 201);
    const phoneClash = await create(service, patientBody({ phone_e164: '+61 491 570 156' }));
    assert.equal(phoneClash.statusCode, 409);
    assert.deepEqual(phoneClash.json().details, { field: 'phone_e164' });
    const url = `/api/v1/patients/${first.json().patient_id}`;
    assert.equal(
      (await service.inject({ method: 'DELETE', url, headers: auth(WRITER_KEY) })).statusCode,
      204,
    );
    const reuse = await create(service, patientBody({ given_name: 'Second', email: 'shared@example.org' }));
    assert.equal(reuse.statusCode, 201, 'a deleted patient no longer holds its email');
    const restore = await service.inject({
      method: 'POST',
      url: `${url}:restore`,
      headers: auth(WRITER_KEY),
    });
    assert.equal(restore.statusCode, 409, 'restoring would make the email appear twice');
  });

  test(`[${backend}] lists filter and page through the projection`, async (t) => {
    const service = await startService(t, backend);
    for (const [family, dob, phone] of [
      ['Abbot', '1980-01-01', '+12025550101'],
      ['Abbott', '1981-02-02', '+12025550102'],
      ['Baker', '1980-01-01', '+12025550103'],
      ['Ábrego', '1990-03-03', '+12025550104'],
    ] as const) {
      assert.equal(
        (await create(service, patientBody({ family_name: family, date_of_birth: dob, phone_e164: phone })))
          .statusCode,
        201,
      );
    }
    const list = async (query: string) => {
      const response = await service.inject({ url: `/api/v1/patients?${query}`, headers: auth(READER_KEY) });
      assert.equal(response.statusCode, 200, `${query}: ${response.body}`);
      return response.json() as { patients: { family_name: string }[]; next_cursor: string | null };
    };
    const names = async (query: string) => (await list(query)).patients.map((p) => p.family_name);
    assert.deepEqual(await names('family_name=ab'), ['Abbot', 'Abbott', 'Ábrego']);
    assert.deepEqual(await names('dob=1980-01-01'), ['Abbot', 'Baker']);
    assert.deepEqual(await names('phone=%2B1%20202%20555%200103'), ['Baker']);
    const first = await list('limit=2');
    assert.equal(first.patients.length, 2);
    assert.ok(first.next_cursor);
    const second = await list(`limit=2&cursor=${encodeURIComponent(first.next_cursor!)}`);
    assert.deepEqual(
      [...first.patients, ...second.patients].map((p) => p.family_name),
      ['Abbot', 'Abbott', 'Ábrego', 'Baker'],
    );
    assert.equal(second.next_cursor, null);
    for (const [query, field] of [
      ['limit=101', 'limit'],
      ['limit=zero', 'limit'],
      ['familyname=ab', 'familyname'],
      ['dob=01-01-1980', 'dob'],
      ['phone=12345', 'phone'],
      ['cursor=bogus', 'cursor'],
    ]) {
      const refused = await service.inject({ url: `/api/v1/patients?${query}`, headers: auth(READER_KEY) });
      assert.equal(refused.statusCode, 400, query);
      assert.equal(refused.json().details.field, field, query);
    }
  });
}

test('authentication: keys in either header, scopes, and the open routes', async (t) => {
  const service = await startService(t);
  const none = await service.inject({ url: '/api/v1/patients' });
  assert.equal(none.statusCode, 401);
  assert.equal(none.headers['www-authenticate'], 'Bearer realm="vpr"');
  assert.equal(none.json().code, 'UNAUTHENTICATED');
  assert.equal(
    (await service.inject({ url: '/api/v1/patients', headers: auth('not-a-key') })).statusCode,
    401,
  );
  assert.equal(
    (await service.inject({ url: '/api/v1/patients', headers: { authorization: `Bearer ${READER_KEY}` } }))
      .statusCode,
    200,
  );
  const readerWrites = await create(service, patientBody(), READER_KEY);
  assert.equal(readerWrites.statusCode, 403);
  assert.deepEqual(readerWrites.json(), {
    code: 'FORBIDDEN',
    message: 'this key lacks the patient:write scope',
    details: { scope: 'patient:write' },
  });
  assert.equal((await service.inject({ url: '/metrics', headers: auth(WRITER_KEY) })).statusCode, 403);
  for (const url of ['/healthz', '/readyz', '/openapi.json', '/docs']) {
    const open = await service.inject({ url });
    assert.ok([200, 302].includes(open.statusCode), `${url} is open (${open.statusCode})`);
  }
  assert.deepEqual((await service.inject({ url: '/readyz' })).json(), {
    status: 'ready',
    checks: { store: { ok: true }, projection: { ok: true } },
  });
  const openapi = (await service.inject({ url: '/openapi.json' })).json();
  assert.equal(openapi.openapi, '3.1.0');
  assert.ok(
    openapi.paths['/api/v1/prepared-commits/{prepared_commit_id}/signature']?.post,
    'signature submission',
  );
  assert.deepEqual(
    Object.keys(openapi.paths)
      // The patient API's own paths; the clinical and coordination ones are checked in their own tests.
      .filter(
        (p: string) =>
          p.startsWith('/api/v1/patients') &&
          !/\/(letters|entries|contributions|coordination|threads|appointments|encounters|referrals)\b/.test(
            p,
          ),
      )
      .sort(),
    [
      '/api/v1/patients',
      '/api/v1/patients/{patient_id}',
      '/api/v1/patients/{patient_id}/history',
      '/api/v1/patients/{patient_id}/signatures',
      '/api/v1/patients/{patient_id}:restore',
    ],
  );
  const createBody = openapi.paths['/api/v1/patients'].post.requestBody.content['application/json'].schema;
  assert.deepEqual(createBody.required, [
    'given_name',
    'family_name',
    'date_of_birth',
    'sex_at_birth',
    'gender_identity',
  ]);
  assert.deepEqual(openapi.paths['/api/v1/patients'].post.security, [{ apiKey: [] }, { bearer: [] }]);
  assert.equal(openapi.paths['/healthz'].get.security, undefined, 'health is open');
  const unknown = await service.inject({ url: '/api/v1/nothing', headers: auth(READER_KEY) });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().code, 'NOT_FOUND');
});

test('bad input gets a 4xx with the field and a useful message, never a 500, and nothing is written', async (t) => {
  const service = await startService(t, 'pglite', { VPR_BODY_LIMIT: '2048' });
  const cases: [string, Record<string, unknown> | string, Record<string, string>, number, string][] = [
    ['unknown field', patientBody({ nickname: 'Tes' }), {}, 400, 'nickname'],
    ['wrong type', patientBody({ consent_to_contact: 'yes' }), {}, 400, 'consent_to_contact'],
    ['digits in a name', patientBody({ family_name: 'F1xture' }), {}, 400, 'family_name'],
    ['future birth', patientBody({ date_of_birth: '2999-01-01' }), {}, 400, 'date_of_birth'],
    ['bad enum', patientBody({ sex_at_birth: 'F' }), {}, 400, 'sex_at_birth'],
    ['malformed JSON', '{"given_name": "Testy",', {}, 400, 'body'],
    ['not JSON', 'given_name=Testy', { 'content-type': 'text/plain' }, 400, 'body'],
    ['an array', '[1,2]', {}, 400, 'body'],
    ['too large', patientBody({ family_name: 'x'.repeat(4000) }), {}, 413, 'body'],
    ['prototype pollution', '{"__proto__": {"admin": true}, "given_name": "Testy"}', {}, 400, 'body'],
  ];
  for (const [label, payload, headers, status, field] of cases) {
    const response = await service.inject({
      method: 'POST',
      url: '/api/v1/patients',
      headers: { ...json(WRITER_KEY), ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
    assert.equal(response.statusCode, status, `${label}: ${response.body}`);
    const body = response.json();
    assert.equal(typeof body.message, 'string', label);
    assert.doesNotMatch(response.body, /node_modules|\/src\/|at .*\.js:\d+/, `${label}: no stack or path`);
    if (status === 400) assert.equal(body.details?.field, field, label);
  }
  const malformedId = await service.inject({ url: '/api/v1/patients/NOT-AN-ID', headers: auth(READER_KEY) });
  assert.equal(malformedId.statusCode, 400);
  assert.equal(malformedId.json().code, 'INVALID_ID');
  const absent = await service.inject({
    url: `/api/v1/patients/${'a'.repeat(32)}`,
    headers: auth(READER_KEY),
  });
  assert.equal(absent.statusCode, 404);
  const list = await service.inject({ url: '/api/v1/patients', headers: auth(READER_KEY) });
  assert.deepEqual(list.json().patients, [], 'nothing was written');
});

test('two PUTs racing on one ETag over a socket: one 200, one 412', async (t) => {
  const service = await startService(t);
  const [base] = await service.runtime.listen();
  const created = await fetch(`${base}/api/v1/patients`, {
    method: 'POST',
    headers: json(WRITER_KEY),
    body: JSON.stringify(patientBody()),
  });
  assert.equal(created.status, 201);
  const { patient_id: id } = (await created.json()) as { patient_id: string };
  const etag = created.headers.get('etag')!;
  for (let round = 0; round < 3; round++) {
    const current = await fetch(`${base}/api/v1/patients/${id}`, { headers: auth(READER_KEY) });
    const version = current.headers.get('etag')!;
    const statuses = await Promise.all(
      ['Racer', 'Runner'].map(async (family) => {
        const response = await fetch(`${base}/api/v1/patients/${id}`, {
          method: 'PUT',
          headers: { ...json(WRITER_KEY), 'if-match': version },
          body: JSON.stringify(patientBody({ family_name: `${family}${'abc'[round]}` })),
        });
        await response.arrayBuffer();
        return response.status;
      }),
    );
    assert.deepEqual(statuses.sort(), [200, 412], `round ${round}`);
  }
  assert.notEqual(etag, '');
});

test('the write switch: an admin turns writes off and on; reads go on', async (t) => {
  const service = await startService(t);
  const off = await service.inject({
    method: 'PUT',
    url: '/api/v1/admin/read-only',
    headers: json(ADMIN_KEY),
    payload: { read_only: true },
  });
  assert.equal(off.statusCode, 200);
  assert.equal(off.json().read_only, true);
  const refused = await create(service);
  assert.equal(refused.statusCode, 503);
  assert.equal(refused.json().code, 'READ_ONLY');
  assert.equal(
    (await service.inject({ url: '/api/v1/patients', headers: auth(READER_KEY) })).statusCode,
    200,
  );
  const notAdmin = await service.inject({
    method: 'PUT',
    url: '/api/v1/admin/read-only',
    headers: json(WRITER_KEY),
    payload: { read_only: false },
  });
  assert.equal(notAdmin.statusCode, 403);
  await service.inject({
    method: 'PUT',
    url: '/api/v1/admin/read-only',
    headers: json(ADMIN_KEY),
    payload: { read_only: false },
  });
  assert.equal((await create(service)).statusCode, 201);
});

/** The read cache's lookups so far, from /metrics. */
async function cacheLookups(service: TestService): Promise<{ hit: number; miss: number }> {
  const text = (await service.inject({ url: '/metrics', headers: auth(ADMIN_KEY) })).body;
  const count = (result: string) =>
    Number(new RegExp(`^vpr_cache_lookups_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  return { hit: count('hit'), miss: count('miss') };
}

for (const backend of withServices) {
  test(`[${backend}] a warm patient read is one cache lookup, and a change is read at once`, async (t) => {
    const service = await startService(t, backend);
    const patient = (await create(service)).json();
    const url = `/api/v1/patients/${patient.patient_id}`;
    assert.deepEqual((await service.inject({ url, headers: auth(READER_KEY) })).json(), patient);
    const before = await cacheLookups(service);
    assert.deepEqual((await service.inject({ url, headers: auth(READER_KEY) })).json(), patient);
    const after = await cacheLookups(service);
    assert.deepEqual(
      { hit: after.hit - before.hit, miss: after.miss - before.miss },
      { hit: 1, miss: 0 },
      'the view of this commit, in one lookup',
    );
    const renamed = await service.inject({
      method: 'PUT',
      url,
      headers: { ...json(WRITER_KEY), 'if-match': `"${patient.version}"` },
      payload: patientBody({ family_name: 'Renamed' }),
    });
    assert.equal(renamed.statusCode, 200, renamed.body);
    const read = (await service.inject({ url, headers: auth(READER_KEY) })).json();
    assert.equal(read.family_name, 'Renamed');
    assert.equal(read.version, renamed.json().version);
    assert.notEqual(read.version, patient.version);
  });
}

test('logs and metrics carry request id, trace id, route and status, never patient data', async (t) => {
  const service = await startService(t);
  const phi = {
    given_name: 'Zebedee',
    middle_name: 'Quillfeather',
    family_name: 'Marchbanks',
    date_of_birth: '1961-07-19',
    email: 'zebedee.marchbanks@example.org',
    phone_e164: '+61491570157',
    address: { line1: '77 Wisteria Crescent', city: 'Puddlecombe', postal_code: 'PL7 9QZ', country: 'GB' },
  };
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const created = await create(service, patientBody(phi), WRITER_KEY, { traceparent });
  assert.equal(created.statusCode, 201, created.body);
  const returned = created.headers.traceparent as string;
  assert.match(returned, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/, 'the trace goes on');
  assert.doesNotMatch(returned, /00f067aa0ba902b7/, 'with this service as the new parent');
  const id = created.json().patient_id;
  const probes = [
    `/api/v1/patients?family_name=${phi.family_name}&email=${phi.email}&phone=${encodeURIComponent(phi.phone_e164)}&dob=${phi.date_of_birth}`,
    `/api/v1/patients/${id}`,
    `/api/v1/patients/${id}/history?diff=true`,
    `/api/v1/patients?given_name=${phi.middle_name}%00`,
  ];
  for (const url of probes)
    await service.inject({ url, headers: { ...auth(READER_KEY), 'x-note': phi.family_name } });
  await create(service, patientBody({ ...phi, family_name: `${phi.family_name}9` }));
  await service.inject({
    method: 'POST',
    url: '/api/v1/patients',
    headers: json(WRITER_KEY),
    payload: `{"family_name": "${phi.family_name}", oops`,
  });
  await service.inject({
    method: 'PUT',
    url: `/api/v1/patients/${id}`,
    headers: { ...json(WRITER_KEY), 'if-match': '"zz"' },
    payload: patientBody(phi),
  });
  const metrics = await service.inject({ url: '/metrics', headers: auth(ADMIN_KEY) });
  assert.equal(metrics.statusCode, 200);
  assert.match(
    metrics.body,
    /vpr_http_requests_total\{method="POST",route="\/api\/v1\/patients",status="201"\} 1/,
  );
  assert.match(
    metrics.body,
    /vpr_http_request_duration_seconds_bucket\{le="0.05",method="GET",route="\/api\/v1\/patients\/:patient_id",status="200"\}/,
  );
  assert.match(metrics.body, /vpr_commits_total\{kind="demographics"\} 1/);

  const logs = service.logs();
  const lines = logs
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const requestLine = lines.find((l) => l.msg === 'request' && l.method === 'POST' && l.status === 201);
  assert.ok(requestLine, 'a request line was logged');
  assert.equal(requestLine.route, '/api/v1/patients');
  assert.equal(requestLine.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(requestLine.actor, 'test-reception');
  assert.match(String(requestLine.req_id), /^[0-9a-f-]{36}$/);
  assert.equal(typeof requestLine.duration_ms, 'number');
  for (const [field, value] of Object.entries({ ...phi, ...phi.address, id })) {
    if (typeof value !== 'string') continue;
    for (const text of [value, value.toLowerCase(), encodeURIComponent(value)]) {
      assert.ok(!logs.includes(text), `the logs never contain the ${field}`);
      if (field !== 'id') assert.ok(!metrics.body.includes(text), `the metrics never contain the ${field}`);
    }
  }
  // Numbers (times in ms, durations) are set aside first: a timestamp may hold the digits 1961 by
  // chance, which once failed this test; a year logged as a number is still caught.
  assert.ok(!/":1961[,}]/.test(logs), 'not even the year of birth, as a number');
  assert.ok(
    !logs.replace(/":-?\d+(\.\d+)?(e[+-]?\d+)?/g, '":0').includes('1961'),
    'not even the year of birth',
  );
});
