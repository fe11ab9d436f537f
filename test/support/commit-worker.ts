// A separate OS process that appends commits to one patient repository and prints
// `ack <commit> <n>` after each commit has been acknowledged (durable). Used by the
// multi-process and crash tests. Usage: commit-worker <dataDir> <clinicalId> <name> <count>
import { RecordStore } from '../../src/core/record/record-store.js';
import { isVprError } from '../../src/core/errors.js';
import { careLocation, clinician } from './fixtures.js';

const [dataDir, id, name, countText] = process.argv.slice(2);
if (dataDir === undefined || id === undefined || name === undefined || countText === undefined) {
  throw new Error('usage: commit-worker <dataDir> <clinicalId> <name> <count>');
}
const store = new RecordStore({
  dataDir,
  repository: { writeLock: { timeoutMs: 60_000, staleAfterMs: 120_000 } },
});
for (let n = 0; n < Number(countText); n++) {
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await store.commitChange({
        kind: 'clinical',
        id,
        changes: [
          { path: `entries/${name}/${n}.md`, content: `entry ${n} from ${name}\n` },
          { path: `latest/${name}.md`, content: `${n}\n` },
        ],
        author: clinician,
        action: 'create',
        summary: `Entry ${n} from ${name}`,
        careLocation,
      });
      process.stdout.write(`ack ${result.id} ${n}\n`);
      break;
    } catch (error) {
      if (isVprError(error, 'REPOSITORY_BUSY') && attempt < 5) continue;
      throw error;
    }
  }
}
await store.close();
