// The server as an operator meets it: `node dist/src/main.js` as a real process that generates
// and stores its first key, says where it listens, refuses bad configuration with a clear
// message, serves TLS only when configured (plain HTTP refused unless allowed), and on SIGTERM
// finishes the writes in flight before it exits.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { VprGrpcClient } from '../src/transport/grpc/grpc-client.js';
import { stagingRoot } from '../src/core/record/record-layout.js';
import { patientBody } from './support/service.js';
import { tempDir } from './support/temp-dir.js';

const run = promisify(execFile);
const MAIN = new URL('../src/main.js', import.meta.url).pathname;

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly url: string;
}

/** Starts the server on a free port and waits until it says where it listens. */
async function startServer(t: TestContext, env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, VPR_HTTP_PORT: '0', VPR_GRPC_PORT: '0', VPR_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const match = /listening on (\S+)/.exec(output);
    // The whole start-up message, which ends with how to send the key.
    if (match !== null && output.includes('Send it as'))
      return { child, output: () => output, url: match[1]! };
    if (child.exitCode !== null || Date.now() > deadline) assert.fail(`the server did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });

test('first start generates a key (mode 0600, shown once); later starts only say where it is', async (t) => {
  const dataDir = await tempDir(t);
  const first = await startServer(t, { VPR_DATA_DIR: dataDir });
  const keyFile = join(dataDir, '.api-key');
  const key = (await readFile(keyFile, 'utf8')).trim();
  assert.match(first.output(), new RegExp(`shown this once: ${key}`));
  assert.match(first.output(), /Send it as x-api-key/);
  assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
  const health = await fetch(`${first.url}/healthz`);
  assert.deepEqual(await health.json(), { status: 'ok' });
  assert.equal((await fetch(`${first.url}/api/v1/patients`, { headers: { 'x-api-key': key } })).status, 200);
  first.child.kill('SIGTERM');
  assert.equal(await exited(first.child), 0);

  const second = await startServer(t, { VPR_DATA_DIR: dataDir });
  assert.match(second.output(), /Authenticate with the API key stored in/);
  assert.ok(!second.output().includes(key), 'the key is not printed again');
  second.child.kill('SIGTERM');
  assert.equal(await exited(second.child), 0);
});

test('SIGTERM lets the writes in flight finish before the process exits', async (t) => {
  const dataDir = await tempDir(t);
  const key = 'shutdown-test-key-0123456789abcdef';
  const server = await startServer(t, { VPR_DATA_DIR: dataDir, VPR_API_KEY: key });
  const writes = Array.from({ length: 8 }, (_, i) =>
    fetch(`${server.url}/api/v1/patients`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify(patientBody({ family_name: `Shutdown${'abcdefgh'[i]}` })),
    }).then(
      (r) => r.status,
      () => 'refused' as const,
    ),
  );
  // The signal comes once a write has begun (a record is being assembled in the staging area,
  // or one has landed), so some requests are being written and others may not have arrived.
  // Waiting for that, not a fixed time, keeps the test true on a loaded machine.
  const begun = async () =>
    (await readdir(stagingRoot(dataDir)).catch(() => [])).length > 0 ||
    (await readdir(join(dataDir, 'demographics')).catch(() => [])).length > 0;
  for (let i = 0; i < 1_000 && !(await begun()); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  server.child.kill('SIGTERM');
  const statuses = await Promise.all(writes);
  assert.equal(await exited(server.child), 0);
  // A request the server took is finished and answered; one it had not taken is refused whole
  // (503 on an open connection, or no connection). None is cut off after its write began: every
  // patient on disk was answered 201, and nothing is left half-made in the staging area.
  assert.ok(
    statuses.every((s) => s === 201 || s === 503 || s === 'refused'),
    String(statuses),
  );
  const answered = statuses.filter((s) => s === 201).length;
  assert.ok(answered >= 1, `writes were in flight at the signal: ${String(statuses)}`);
  const { stdout } = await run('find', [join(dataDir, 'demographics'), '-name', 'patient.yaml']);
  assert.equal(
    stdout.split('\n').filter((l) => l !== '').length,
    answered,
    'every written patient was answered',
  );
  assert.deepEqual(await readdir(join(dataDir, '.staging')), []);
});

test('bad configuration stops the process with a message naming the setting', async (t) => {
  const dataDir = await tempDir(t);
  for (const [env, message] of [
    [{ VPR_HTTP_PORT: '70000' }, /VPR_HTTP_PORT must be a whole number from 0 to 65535/],
    [{ VPR_LOG_LEVEL: 'loud' }, /VPR_LOG_LEVEL must be one of/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL must start with postgres:/],
    [{ VPR_TLS_CERT: '/nonexistent.pem' }, /VPR_TLS_CERT: cannot read/],
    [{ VPR_API_KEY: 'short' }, /VPR_API_KEY must be at least 20 characters/],
  ] as const) {
    const result = await run(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, VPR_DATA_DIR: dataDir, ...env },
    }).then(
      () => assert.fail(`started with ${JSON.stringify(env)}`),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, message);
  }
});

test('the config file holds the same settings; the environment wins', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'vpr.yaml');
  await writeFile(file, 'VPR_HTTP_PORT: 4123\nVPR_LOG_LEVEL: debug\nVPR_READ_ONLY: true\n');
  const config = loadConfig({ VPR_CONFIG_FILE: file, VPR_LOG_LEVEL: 'warn' });
  assert.equal(config.httpPort, 4123);
  assert.equal(config.logLevel, 'warn');
  assert.equal(config.readOnly, true);
  await writeFile(file, 'VPR_HTTP_PORTS: 1\n');
  assert.throws(
    () => loadConfig({ VPR_CONFIG_FILE: file }),
    (e: unknown) => e instanceof ConfigError && /VPR_HTTP_PORTS is not a setting/.test(e.message),
  );
  assert.equal(loadConfig({}).httpPort, 3000);
  assert.equal(loadConfig({}).grpcPort, 50051);
});

test('with a certificate: HTTPS only, plain HTTP refused unless allowed (then on its own port)', async (t) => {
  const dir = await tempDir(t);
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  const ca = await readFile(cert);
  const getTls = (url: string) =>
    new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${url}/healthz`, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  const tls = await startServer(t, {
    VPR_DATA_DIR: await tempDir(t),
    VPR_TLS_CERT: cert,
    VPR_TLS_KEY: key,
    VPR_API_KEY: 'tls-test-key-0123456789abcdef',
  });
  assert.match(tls.url, /^https:\/\//);
  assert.equal(await getTls(tls.url), 200);
  const plainOnTlsPort = await fetch(tls.url.replace('https:', 'http:') + '/healthz').then(
    (r) => r.status,
    () => 'refused',
  );
  assert.notEqual(plainOnTlsPort, 200, 'plain HTTP is not served');
  // The gRPC door speaks TLS with the same certificate, and only TLS.
  const grpcsAddress = /grpcs:\/\/(\S+?)[ )]/.exec(tls.output())?.[1];
  assert.ok(grpcsAddress, tls.output());
  const secure = new VprGrpcClient(grpcsAddress, { credentials: grpc.credentials.createSsl(ca) });
  assert.equal((await secure.call('Health', {})).response.status, 'ok');
  secure.close();
  const insecure = new VprGrpcClient(grpcsAddress);
  await assert.rejects(insecure.call('Health', {}, { deadline: new Date(Date.now() + 3000) }));
  insecure.close();
  tls.child.kill('SIGTERM');
  await exited(tls.child);

  const both = await startServer(t, {
    VPR_DATA_DIR: await tempDir(t),
    VPR_TLS_CERT: cert,
    VPR_TLS_KEY: key,
    VPR_ALLOW_HTTP: 'true',
    VPR_PLAIN_HTTP_PORT: '0',
    VPR_API_KEY: 'tls-test-key-0123456789abcdef',
  });
  const plainUrl = /and (http:\/\/\S+)/.exec(both.output())?.[1];
  assert.ok(plainUrl, both.output());
  assert.equal((await fetch(`${plainUrl}/healthz`)).status, 200);
  assert.equal(await getTls(both.url), 200);
  both.child.kill('SIGTERM');
  await exited(both.child);
});
