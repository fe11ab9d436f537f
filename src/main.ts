// `npm start`: the VPR server on the configuration of the environment (and VPR_CONFIG_FILE) —
// by default on 127.0.0.1:3000 with its data in ./patient_data and the embedded PGlite
// projection. It says where it listens and how to authenticate, on SIGHUP reads its API keys
// again, and on SIGTERM or SIGINT finishes the requests in flight before it exits.
import './threadpool.js';
import { ConfigError, loadConfig } from './config/config.js';
import { startRuntime } from './runtime.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`vpr: configuration: ${error.message}`);
  process.exit(2);
}

// The projection is caught up with Git in the background: the server answers at once, and
// /readyz says "ready" when the catch-up has completed.
const runtime = await startRuntime(config, { catchUp: 'while-serving' });

// The signals are handled before the start-up message says the server is there: a supervisor
// (or a test) that stops it as soon as it reads the message gets the graceful shutdown.
// SIGHUP: the keys file is read again, so a key created or revoked (`vpr keys`) counts at once.
process.on('SIGHUP', () => {
  try {
    runtime.logger.info({ keys: runtime.reloadKeys() }, 'API keys reloaded');
  } catch (error) {
    runtime.logger.error(
      { error: (error as Error).message },
      'API keys not reloaded; the previous keys stay',
    );
  }
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    runtime.logger.info({ signal }, 'shutting down: finishing requests in flight');
    runtime.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

const urls = await runtime.listen();
const source = runtime.keySource;
const rest = urls.find((url) => url.startsWith('http'));
const grpc = urls.find((url) => url.startsWith('grpc'));
const lines = [
  `VPR is listening on ${urls.join(' and ')} (data: ${config.dataDir}; projection: ${runtime.projection.backend}).`,
];
if (rest !== undefined) {
  lines.push(
    `API docs: ${rest}/docs · OpenAPI: ${rest}/openapi.json · health: ${rest}/healthz, ${rest}/readyz`,
  );
}
if (grpc !== undefined) {
  lines.push(
    `gRPC: vpr.v1.VPR and grpc.health.v1 on ${grpc.replace(/^grpcs?:\/\//, '')} (proto/vpr/v1/vpr.proto${config.grpcReflection ? '; reflection on' : ''})`,
  );
}
switch (source.kind) {
  case 'generated':
    lines.push(
      `A new API key with every scope was generated and stored in ${source.path} (mode 0600).`,
      `It is shown this once: ${source.key}`,
    );
    break;
  case 'stored':
    lines.push(`Authenticate with the API key stored in ${source.path}.`);
    break;
  case 'environment':
    lines.push('Authenticate with the key in VPR_API_KEY.');
    break;
  case 'keys-file':
    lines.push(`Authenticate with one of the ${source.count} keys of ${source.path}.`);
    break;
}
lines.push(
  rest === undefined
    ? 'Send it as x-api-key: <key> or authorization: Bearer <key> metadata.'
    : `Send it as x-api-key: <key> or Authorization: Bearer <key>, e.g. curl -H "x-api-key: $KEY" ${rest}/api/v1/patients`,
);
// One write, so a reader of the output never sees half the message.
console.log(lines.join('\n'));
if (runtime.writes.readOnly) console.log('Writes are switched off (VPR_READ_ONLY).');
