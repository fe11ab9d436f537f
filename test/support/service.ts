// The whole service for HTTP tests: a runtime on a fresh data directory, with the embedded
// PGlite projection or the machine's PostgreSQL (own schema) and Redis (own key prefix), API keys
// of every kind, and its log lines captured so tests can read what it wrote.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Writable } from 'node:stream';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { loadConfig } from '../../src/config/config.js';
import { startRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime.js';
import { demographics } from './fixtures.js';
import { DATABASE_URL, projectionBackends, testSchema } from './projection-backends.js';
import { REDIS_URL, redisPrefix, requireRedis } from './redis.js';
import { tempDir } from './temp-dir.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const WRITER_KEY = 'test-writer-key-0123456789abcdef';
export const READER_KEY = 'test-reader-key-0123456789abcdef';
export const OTHER_WRITER_KEY = 'test-other-writer-key-0123456789';
/** A clinician with a professional registration: may sign letters off. */
export const CLINICIAN_KEY = 'test-clinician-key-0123456789abcd';
/** A patient's own app: writes contributions. */
export const PATIENT_KEY = 'test-patient-key-0123456789abcdef';
export const CLINICIAN_EMAIL = 'dr.synthetic@example.invalid';
export const CLINIC = 'Synthetic Outpatient Clinic';

export type ServiceBackend = 'pglite' | 'postgres+redis';

/** The backends service tests run on: PGlite, and PostgreSQL + Redis when the machine has them. */
export async function serviceBackends(): Promise<ServiceBackend[]> {
  const { backends } = await projectionBackends();
  return backends.some((b) => b.name === 'postgres') && (await requireRedis())
    ? ['pglite', 'postgres+redis']
    : ['pglite'];
}

export interface TestService {
  readonly runtime: Runtime;
  readonly dataDir: string;
  /** Everything the service logged, one JSON line each. */
  logs(): string;
  inject: Runtime['http']['inject'];
}

/** How a test service starts, where the defaults will not do. */
export interface ServiceStart {
  /** A data directory already holding records (default: a new, empty one). */
  readonly dataDir?: string;
  /** The PostgreSQL schema of the projection (default: a new one), dropped afterwards. */
  readonly schema?: string;
  readonly catchUp?: RuntimeOptions['catchUp'];
}

export async function startService(
  t: TestContext,
  backend: ServiceBackend = 'pglite',
  env: Record<string, string> = {},
  start: ServiceStart = {},
): Promise<TestService> {
  const dataDir = start.dataDir ?? (await tempDir(t));
  const keysFile = join(dataDir, 'keys.yaml');
  await writeFile(
    keysFile,
    JSON.stringify({
      keys: [
        {
          id: 'admin',
          principal: 'test-admin',
          sha256: hashApiKey(ADMIN_KEY),
          scopes: ['admin', 'patient:read'],
        },
        {
          id: 'writer',
          principal: 'test-reception',
          sha256: hashApiKey(WRITER_KEY),
          scopes: ['patient:read', 'patient:write'],
          author: { name: 'Reception Desk', email: 'reception@example.invalid', role: 'Receptionist' },
          care_location: 'Synthetic General Hospital',
        },
        { id: 'reader', principal: 'test-reader', sha256: hashApiKey(READER_KEY), scopes: ['patient:read'] },
        {
          id: 'clinician',
          principal: 'test-clinician',
          sha256: hashApiKey(CLINICIAN_KEY),
          scopes: ['patient:read', 'patient:write'],
          author: {
            name: 'Dr Ada Synthetic',
            email: CLINICIAN_EMAIL,
            role: 'Consultant Physician',
            registrations: [{ authority: 'GMC', number: '7000001' }],
          },
          care_location: CLINIC,
        },
        {
          id: 'patient-app',
          principal: 'test-patient-app',
          sha256: hashApiKey(PATIENT_KEY),
          scopes: ['patient:read', 'patient:write'],
          author: { name: 'Testy Fixture', email: 'testy@example.invalid', role: 'Patient' },
        },
        {
          id: 'other-writer',
          principal: 'test-other',
          sha256: hashApiKey(OTHER_WRITER_KEY),
          scopes: ['patient:read', 'patient:write'],
        },
      ],
    }),
  );
  const schema = start.schema ?? testSchema();
  const config = loadConfig({
    VPR_DATA_DIR: dataDir,
    VPR_KEYS_FILE: keysFile,
    VPR_HTTP_PORT: '0',
    VPR_GRPC_PORT: '0',
    VPR_LOG_LEVEL: 'info',
    ...(backend === 'postgres+redis' ? { DATABASE_URL, REDIS_URL, VPR_REDIS_PREFIX: redisPrefix(t) } : {}),
    ...env,
  });
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const runtime = await startRuntime(config, {
    logDestination: destination,
    ...(backend === 'postgres+redis' ? { schema } : {}),
    ...(start.catchUp === undefined ? {} : { catchUp: start.catchUp }),
  });
  t.after(async () => {
    if (backend === 'postgres+redis') {
      await runtime.projection.client.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    }
    await runtime.close();
  });
  return { runtime, dataDir, logs: () => lines.join(''), inject: runtime.http.inject.bind(runtime.http) };
}

/** The synthetic fixture patient as a request body, with some fields changed. */
export function patientBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...demographics, ...overrides };
}

export const auth = (key: string) => ({ 'x-api-key': key });

/** Headers of a JSON request made with `key`. */
export const json = (key: string) => ({ ...auth(key), 'content-type': 'application/json' });

/** A JSON answer as tests read it: any shape, checked by the assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field
export type Json = Record<string, any>;
