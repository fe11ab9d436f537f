// Composition root. For now the main job is a demonstration: it opens the record store in the
// data directory (VPR_DATA_DIR, default ./patient_data) and the projection (embedded PGlite under
// the data directory, or PostgreSQL at DATABASE_URL) with its cache (in process, or Redis at
// REDIS_URL), catches the projection up with Git,
// creates one full synthetic patient record, appends a change, and prints what it made and what
// the projection answers. Later issues turn this into the server.
import { ConfigError, loadConfig } from './config/config.js';
import { RecordStore } from './core/record/record-store.js';
import { repositoryDir } from './core/record/record-layout.js';
import { Projection } from './projection/projection.js';
import { MemoryReadCache, RedisReadCache } from './cache/read-cache.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`vpr: configuration: ${error.message}`);
  process.exit(2);
}

const store = new RecordStore({ dataDir: config.dataDir });
await store.open();
const cache =
  config.redisUrl === undefined ? new MemoryReadCache() : await RedisReadCache.connect(config.redisUrl);
const projection = await Projection.open(
  {
    dataDir: config.dataDir,
    cache,
    ...(config.databaseUrl === undefined ? {} : { databaseUrl: config.databaseUrl }),
  },
  store,
);
const caughtUp = await projection.catchUp();
console.log(
  `Projection (${projection.backend}) caught up with Git: ${caughtUp.checked} repositories checked, ${caughtUp.projected} re-projected.`,
);

const author = {
  name: 'Dr Ada Example',
  email: 'ada.example@example.invalid',
  role: 'Clinician',
  registrations: [{ authority: 'GMC', number: '0000001' }],
};
const started = performance.now();
const record = await store.createFullRecord({
  demographics: {
    given_name: 'Alex',
    middle_name: 'Synthetic',
    family_name: 'Testpatient',
    date_of_birth: '1980-04-01',
    sex_at_birth: 'unknown',
    gender_identity: 'undisclosed',
  },
  author,
  careLocation: 'Example General Hospital',
});
const update = await store.commitChange({
  kind: 'demographics',
  id: record.demographicsId,
  parent: record.commits.demographics,
  changes: [{ path: 'notes/preferences.md', content: '# Preferences\n\nPrefers letters by email.\n' }],
  author,
  action: 'update',
  summary: 'Recorded contact preferences',
  careLocation: 'Example General Hospital',
});
const elapsed = performance.now() - started;
const projected = await projection.getPatient(record.demographicsId);
const listed = await projection.listPatients({ familyName: 'testpat', limit: 100 });

console.log(`VPR demo: created a full synthetic patient record in ${config.dataDir}`);
for (const kind of ['demographics', 'clinical', 'coordination'] as const) {
  const id = record[`${kind}Id`];
  console.log(`  ${kind.padEnd(13)} ${id}  ${repositoryDir(config.dataDir, kind, id)}`);
  console.log(`  ${''.padEnd(13)} first commit ${record.commits[kind]}`);
}
console.log(`  demographics update commit ${update.id} (parent ${update.parent})`);
console.log(
  `Done in ${elapsed.toFixed(1)} ms, projection included. Inspect with: git -C <directory> log --stat`,
);
console.log(
  `The projection lists ${listed.patients.length}${listed.nextCursor === null ? '' : '+'} demo patient(s); this one is at version ${projected?.version} with clinical ${projected?.clinicalId} and coordination ${projected?.coordinationId}.`,
);
await projection.close();
await cache.close();
await store.close();
