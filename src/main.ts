// Composition root. For now the main job is a demonstration: it opens the record store in the
// data directory (VPR_DATA_DIR, default ./patient_data), creates one full synthetic patient
// record, appends a change, and prints what it made. Later issues turn this into the server.
import { dataDirFromEnv } from './config/data-dir.js';
import { RecordStore } from './core/record/record-store.js';
import { repositoryDir } from './core/record/record-layout.js';

const dataDir = dataDirFromEnv();
const store = new RecordStore({ dataDir });
await store.open();

const author = {
  name: 'Dr Ada Example',
  email: 'ada.example@example.invalid',
  role: 'Clinician',
  registrations: [{ authority: 'GMC', number: '0000001' }],
};
const started = performance.now();
const record = await store.createFullRecord({
  demographics: { givenNames: ['Alex', 'Synthetic'], familyName: 'Testpatient', birthDate: '1980-04-01' },
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
await store.close();

console.log(`VPR demo: created a full synthetic patient record in ${dataDir}`);
for (const kind of ['demographics', 'clinical', 'coordination'] as const) {
  const id = record[`${kind}Id`];
  console.log(`  ${kind.padEnd(13)} ${id}  ${repositoryDir(dataDir, kind, id)}`);
  console.log(`  ${''.padEnd(13)} first commit ${record.commits[kind]}`);
}
console.log(`  demographics update commit ${update.id} (parent ${update.parent})`);
console.log(`Done in ${elapsed.toFixed(1)} ms. Inspect with: git -C <directory> log --stat`);
