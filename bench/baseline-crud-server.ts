// THE BASELINE, NOT VPR. What a team would otherwise build for `bench:load` to compare against:
// a plain CRUD service over PostgreSQL with the same REST shape as the routes the load benchmark
// and `vpr generate` use, and none of VPR's record keeping — no Git, no commits, no files, no
// signatures, no history, no cache; rows of JSON in tables with the indexes those routes need,
// Fastify with a JSON schema per body, one API key, optimistic concurrency by an integer
// version. It validates far less than VPR does (shapes, not clinical rules), which favours it.
//
// Run as its own process: BASELINE_PORT, BASELINE_API_KEY, DATABASE_URL (a search_path option
// picks the schema, which it creates its tables in). Prints `listening <url>` once it answers.
import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import pg from 'pg';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS patients (
  id text PRIMARY KEY, data jsonb NOT NULL, version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS letters (
  id text PRIMARY KEY, patient_id text NOT NULL REFERENCES patients, data jsonb NOT NULL,
  status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS letters_by_patient ON letters (patient_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS letters_drafts ON letters (created_at, id) WHERE status = 'draft';
CREATE TABLE IF NOT EXISTS attachments (
  id bigserial PRIMARY KEY, letter_id text NOT NULL REFERENCES letters, name text NOT NULL, bytes bytea NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
  id text PRIMARY KEY, patient_id text NOT NULL REFERENCES patients, kind text NOT NULL, data jsonb NOT NULL,
  recorded_at timestamptz NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS entries_by_patient ON entries (patient_id, kind, recorded_at DESC);
CREATE TABLE IF NOT EXISTS threads (
  id text PRIMARY KEY, patient_id text NOT NULL REFERENCES patients, ledger jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), last_updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS threads_by_patient ON threads (patient_id, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS messages (
  id bigserial PRIMARY KEY, thread_id text NOT NULL REFERENCES threads, body text NOT NULL,
  author text NOT NULL, sent_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS messages_by_thread ON messages (thread_id, id);
CREATE TABLE IF NOT EXISTS care_events (
  id text PRIMARY KEY, patient_id text NOT NULL REFERENCES patients, kind text NOT NULL, data jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS care_events_by_patient ON care_events (patient_id, kind);
`;

const object = { type: 'object' } as const;
const port = Number(process.env.BASELINE_PORT ?? 3900);
const apiKey = process.env.BASELINE_API_KEY ?? 'baseline';
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 16 });
await pool.query(SCHEMA);

const app = Fastify({ logger: false, bodyLimit: 1_048_576 });
await app.register(multipart, { limits: { fileSize: 8 * 1_048_576, files: 8 } });
app.addHook('onRequest', async (request, reply) => {
  if (request.headers['x-api-key'] !== apiKey) return reply.code(401).send({ code: 'UNAUTHENTICATED' });
});

const P = '/api/v1/patients/:patient_id';
type Params = { patient_id: string; id?: string };
const limitOf = (q: unknown) =>
  Math.min(100, Math.max(1, Number((q as { limit?: string }).limit ?? 20) || 20));
const etag = (version: number) => `"${version}"`;
const notFound = (reply: FastifyReply) => reply.code(404).send({ code: 'NOT_FOUND' });

/** A row names a patient or thread that does not exist (a foreign key refused it). */
const missingParent = (error: unknown) => (error as { code?: string }).code === '23503';

/**
 * `work` in one transaction on one pooled connection; undefined (rolled back) when it answers
 * undefined or a row names a parent that does not exist.
 */
async function inTransaction<T>(
  work: (client: pg.PoolClient) => Promise<T | undefined>,
): Promise<T | undefined> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query(result === undefined ? 'ROLLBACK' : 'COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    if (missingParent(error)) return undefined;
    throw error;
  } finally {
    client.release();
  }
}

function patientView(row: { id: string; data: object; version: number; created_at: Date; updated_at: Date }) {
  return {
    patient_id: row.id,
    ...row.data,
    version: String(row.version),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

app.post('/api/v1/patients', { schema: { body: object } }, async (request, reply) => {
  const { rows } = await pool.query('INSERT INTO patients (id, data) VALUES ($1, $2) RETURNING *', [
    randomUUID().replaceAll('-', ''),
    request.body,
  ]);
  return reply.code(201).header('etag', etag(rows[0].version)).send(patientView(rows[0]));
});

app.get('/api/v1/patients', async (request) => {
  const cursor = (request.query as { cursor?: string }).cursor ?? '';
  const limit = limitOf(request.query);
  const { rows } = await pool.query('SELECT * FROM patients WHERE id > $1 ORDER BY id LIMIT $2', [
    cursor,
    limit,
  ]);
  return { patients: rows.map(patientView), next_cursor: rows.length === limit ? rows.at(-1).id : null };
});

app.get<{ Params: Params }>(P, async (request, reply) => {
  const { rows } = await pool.query('SELECT * FROM patients WHERE id = $1', [request.params.patient_id]);
  if (rows.length === 0) return notFound(reply);
  return reply.header('etag', etag(rows[0].version)).send(patientView(rows[0]));
});

app.put<{ Params: Params }>(P, { schema: { body: object } }, async (request, reply) => {
  const match = request.headers['if-match'];
  if (match === undefined) return reply.code(428).send({ code: 'PRECONDITION_REQUIRED' });
  const data = { ...(request.body as Record<string, unknown>) };
  for (const key of ['patient_id', 'version', 'created_at', 'updated_at']) delete data[key];
  const { rows } = await pool.query(
    'UPDATE patients SET data = $2, version = version + 1, updated_at = now() WHERE id = $1 AND version = $3 RETURNING *',
    [request.params.patient_id, data, Number(String(match).replaceAll('"', '').replace(/^W\//, ''))],
  );
  if (rows.length === 0) return reply.code(412).send({ code: 'VERSION_CONFLICT' });
  return reply.header('etag', etag(rows[0].version)).send(patientView(rows[0]));
});

async function letterBody(
  request: FastifyRequest,
): Promise<{ letter: Record<string, unknown>; files: { name: string; bytes: Buffer }[] }> {
  if (!request.isMultipart()) return { letter: request.body as Record<string, unknown>, files: [] };
  let letter: Record<string, unknown> = {};
  const files: { name: string; bytes: Buffer }[] = [];
  for await (const part of request.parts()) {
    if (part.type === 'field' && part.fieldname === 'letter')
      letter = JSON.parse(String(part.value)) as Record<string, unknown>;
    if (part.type === 'file') files.push({ name: part.filename, bytes: await part.toBuffer() });
  }
  return { letter, files };
}

app.post<{ Params: Params }>(`${P}/letters`, async (request, reply) => {
  const { letter, files } = await letterBody(request);
  const id = randomUUID();
  const created = await inTransaction(async (client) => {
    const { rows } = await client.query(
      'INSERT INTO letters (id, patient_id, data, status) VALUES ($1, $2, $3, $4) RETURNING *',
      [id, request.params.patient_id, letter, letter.sign_off === true ? 'final' : 'draft'],
    );
    for (const file of files) {
      await client.query('INSERT INTO attachments (letter_id, name, bytes) VALUES ($1, $2, $3)', [
        id,
        file.name,
        file.bytes,
      ]);
    }
    return rows[0] as { patient_id: string; status: string };
  });
  if (created === undefined) return notFound(reply);
  return reply
    .code(201)
    .send({ letter_id: id, patient_id: created.patient_id, status: created.status, ...letter });
});

app.post<{ Params: Params & { letter_id: string } }>(
  `${P}/letters/:letter_id(^[^:/]+)::sign-off`,
  async (request, reply) => {
    const { rows } = await pool.query(
      "UPDATE letters SET status = 'final', updated_at = now() WHERE id = $1 AND patient_id = $2 RETURNING *",
      [request.params.letter_id, request.params.patient_id],
    );
    if (rows.length === 0) return notFound(reply);
    return { letter_id: rows[0].id, status: rows[0].status, ...rows[0].data };
  },
);

const letterSummary = (r: {
  id: string;
  patient_id: string;
  status: string;
  data: Record<string, unknown>;
  created_at: Date;
}) => ({
  letter_id: r.id,
  patient_id: r.patient_id,
  title: r.data.title,
  snippet: String(r.data.body ?? '').slice(0, 160),
  status: r.status,
  created_at: r.created_at,
});

app.get<{ Params: Params }>(`${P}/letters`, async (request) => {
  const { rows } = await pool.query(
    'SELECT id, patient_id, status, data, created_at FROM letters WHERE patient_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2',
    [request.params.patient_id, limitOf(request.query)],
  );
  return { letters: rows.map(letterSummary), next_cursor: null };
});

app.get<{ Params: Params & { letter_id: string } }>(`${P}/letters/:letter_id`, async (request, reply) => {
  const { rows } = await pool.query('SELECT * FROM letters WHERE id = $1 AND patient_id = $2', [
    request.params.letter_id,
    request.params.patient_id,
  ]);
  if (rows.length === 0) return notFound(reply);
  return { letter_id: rows[0].id, patient_id: rows[0].patient_id, status: rows[0].status, ...rows[0].data };
});

app.get('/api/v1/letters/sign-off-queue', async (request) => {
  const { rows } = await pool.query(
    "SELECT id, patient_id, status, data, created_at FROM letters WHERE status = 'draft' ORDER BY created_at, id LIMIT $1",
    [limitOf(request.query)],
  );
  return { letters: rows.map(letterSummary), next_cursor: null };
});

app.post<{ Params: Params & { kind: string } }>(
  `${P}/entries/:kind`,
  { schema: { body: object } },
  async (request, reply) => {
    const body = request.body as Record<string, unknown>;
    const id = randomUUID();
    try {
      await pool.query(
        'INSERT INTO entries (id, patient_id, kind, data, recorded_at) VALUES ($1, $2, $3, $4, $5)',
        [id, request.params.patient_id, request.params.kind, body, body.recorded_at ?? new Date()],
      );
    } catch (error) {
      if (missingParent(error)) return notFound(reply);
      throw error;
    }
    return reply
      .code(201)
      .send({ entry_id: id, kind: request.params.kind, patient_id: request.params.patient_id, data: body });
  },
);

async function threadView(id: string) {
  const [thread, messages] = await Promise.all([
    pool.query('SELECT * FROM threads WHERE id = $1', [id]),
    pool.query('SELECT id, body, author, sent_at FROM messages WHERE thread_id = $1 ORDER BY id', [id]),
  ]);
  if (thread.rows.length === 0) return undefined;
  const row = thread.rows[0];
  return {
    communication_id: row.id,
    patient_id: row.patient_id,
    ledger: row.ledger,
    messages: messages.rows,
    last_updated_at: row.last_updated_at,
  };
}

app.post<{ Params: Params }>(`${P}/threads`, { schema: { body: object } }, async (request, reply) => {
  const body = request.body as { ledger?: unknown; message?: { body?: string } };
  const id = randomUUID();
  const created = await inTransaction(async (client) => {
    await client.query('INSERT INTO threads (id, patient_id, ledger) VALUES ($1, $2, $3)', [
      id,
      request.params.patient_id,
      body.ledger ?? {},
    ]);
    if (body.message?.body !== undefined) {
      await client.query('INSERT INTO messages (thread_id, body, author) VALUES ($1, $2, $3)', [
        id,
        body.message.body,
        'baseline',
      ]);
    }
    return true;
  });
  if (created === undefined) return notFound(reply);
  return reply.code(201).send(await threadView(id));
});

app.post<{ Params: Params & { communication_id: string } }>(
  `${P}/threads/:communication_id/messages`,
  { schema: { body: object } },
  async (request, reply) => {
    const added = await inTransaction(async (client) => {
      const updated = await client.query(
        'UPDATE threads SET last_updated_at = now() WHERE id = $1 AND patient_id = $2',
        [request.params.communication_id, request.params.patient_id],
      );
      if (updated.rowCount === 0) return undefined;
      await client.query('INSERT INTO messages (thread_id, body, author) VALUES ($1, $2, $3)', [
        request.params.communication_id,
        (request.body as { body?: string }).body ?? '',
        'baseline',
      ]);
      return true;
    });
    if (added === undefined) return notFound(reply);
    return reply.code(201).send(await threadView(request.params.communication_id));
  },
);

app.get<{ Params: Params }>(`${P}/threads`, async (request) => {
  const { rows } = await pool.query(
    'SELECT id, patient_id, ledger, created_at, last_updated_at FROM threads WHERE patient_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2',
    [request.params.patient_id, limitOf(request.query)],
  );
  return {
    threads: rows.map((r) => ({
      communication_id: r.id,
      patient_id: r.patient_id,
      ledger: r.ledger,
      created_at: r.created_at,
    })),
    next_cursor: null,
  };
});

app.get<{ Params: Params & { communication_id: string } }>(
  `${P}/threads/:communication_id`,
  async (request, reply) => {
    const thread = await threadView(request.params.communication_id);
    return thread === undefined ? notFound(reply) : thread;
  },
);

for (const collection of ['appointments', 'encounters', 'referrals']) {
  app.post<{ Params: Params }>(`${P}/${collection}`, { schema: { body: object } }, async (request, reply) => {
    const id = randomUUID();
    await pool.query('INSERT INTO care_events (id, patient_id, kind, data) VALUES ($1, $2, $3, $4)', [
      id,
      request.params.patient_id,
      collection,
      request.body,
    ]);
    return reply
      .code(201)
      .send({ event_id: id, kind: collection, patient_id: request.params.patient_id, data: request.body });
  });
}

const url = await app.listen({ host: '127.0.0.1', port });
process.stdout.write(`listening ${url}\n`);
const stop = () => {
  void app
    .close()
    .then(() => pool.end())
    .then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
