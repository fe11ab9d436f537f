// Where patient data lives: VPR_DATA_DIR, default ./patient_data, resolved once at start-up.
// (The full configuration table arrives with the server in issue 4.)
import { resolve } from 'node:path';

export function dataDirFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const value = env.VPR_DATA_DIR?.trim();
  return resolve(value === undefined || value === '' ? './patient_data' : value);
}
