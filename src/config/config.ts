// Configuration from the environment, read once at start-up and validated; a bad value stops
// the process with a message naming the variable. (Issue 4 adds ports, keys and the config file.)
import { resolve } from 'node:path';

export interface VprConfig {
  /** Where patient repositories live (VPR_DATA_DIR, default ./patient_data). */
  readonly dataDir: string;
  /** PostgreSQL for the projection (DATABASE_URL); absent: embedded PGlite under the data directory. */
  readonly databaseUrl?: string;
  /** Redis for the cache (REDIS_URL); absent: an in-process LRU. */
  readonly redisUrl?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function optionalUrl(env: NodeJS.ProcessEnv, name: string, schemes: readonly string[]): string | undefined {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} is not a URL`);
  }
  if (!schemes.includes(url.protocol)) {
    throw new ConfigError(`${name} must start with ${schemes.map((s) => `${s}//`).join(' or ')}`);
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): VprConfig {
  const dataDir = env.VPR_DATA_DIR?.trim();
  const databaseUrl = optionalUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = optionalUrl(env, 'REDIS_URL', ['redis:', 'rediss:']);
  return {
    dataDir: resolve(dataDir === undefined || dataDir === '' ? './patient_data' : dataDir),
    ...(databaseUrl === undefined ? {} : { databaseUrl }),
    ...(redisUrl === undefined ? {} : { redisUrl }),
  };
}
