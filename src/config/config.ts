// Configuration, read once at start-up from the environment and an optional file, validated
// whole before anything starts: a bad value stops the process with a message naming the
// setting. The file (VPR_CONFIG_FILE, JSON or YAML) holds the same names as the environment;
// the environment wins. Every setting is in the README's one configuration table.
import { parseSigningPolicy, type SigningPolicy } from '../core/signing/signing-policy.js';
import { VERIFY_ON_READ_MODES, type VerifyOnRead } from '../services/read-verification.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';

export interface TlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface VprConfig {
  /** Where patient repositories live (VPR_DATA_DIR, default ./patient_data). */
  readonly dataDir: string;
  readonly host: string;
  readonly httpPort: number;
  readonly grpcPort: number;
  /** Which doors this process opens (VPR_SERVE): REST, gRPC, or both. */
  readonly serve: ServeMode;
  /** Answer gRPC server reflection (VPR_GRPC_REFLECTION); off by default. */
  readonly grpcReflection: boolean;
  /** One key with every scope (VPR_API_KEY). */
  readonly apiKey?: string;
  /** Scoped keys (VPR_KEYS_FILE). */
  readonly keysFile?: string;
  /** PostgreSQL for the projection (DATABASE_URL); absent: embedded PGlite under the data directory. */
  readonly databaseUrl?: string;
  /** Redis for the cache (REDIS_URL); absent: an in-process LRU. */
  readonly redisUrl?: string;
  /** Prefix of every Redis key, so deployments can share one Redis. */
  readonly redisPrefix: string;
  readonly logLevel: LogLevel;
  readonly tls?: TlsConfig;
  /** With TLS: also answer plain HTTP on plainHttpPort (VPR_ALLOW_HTTP). */
  readonly allowHttp: boolean;
  readonly plainHttpPort: number;
  /** Largest request body, in bytes. */
  readonly bodyLimit: number;
  /** The largest attachment accepted, in bytes (streamed to disk, never held in memory). */
  readonly uploadLimit: number;
  /** Start with writes switched off. */
  readonly readOnly: boolean;
  /** The care location recorded on commits made with keys that do not name one. */
  readonly careLocation: string;
  /** How long an Idempotency-Key is remembered. */
  readonly idempotencyHours: number;
  /** A PEM file of the CA certificates trusted for commit signatures (VPR_TRUST_ANCHORS). */
  readonly trustAnchorsFile?: string;
  /** Which commits must be signed (VPR_SIGNING_POLICY); requires nothing by default. */
  readonly signingPolicy: SigningPolicy;
  /** Verification on read (VPR_VERIFY_ON_READ): off, warn or enforce. */
  readonly verifyOnRead: VerifyOnRead;
}

export const SERVE_MODES = ['all', 'rest', 'grpc'] as const;
export type ServeMode = (typeof SERVE_MODES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every setting's name, as in the environment and the config file. */
export const SETTINGS = [
  'VPR_DATA_DIR',
  'VPR_HOST',
  'VPR_HTTP_PORT',
  'VPR_GRPC_PORT',
  'VPR_SERVE',
  'VPR_GRPC_REFLECTION',
  'VPR_API_KEY',
  'VPR_KEYS_FILE',
  'DATABASE_URL',
  'REDIS_URL',
  'VPR_REDIS_PREFIX',
  'VPR_LOG_LEVEL',
  'VPR_TLS_CERT',
  'VPR_TLS_KEY',
  'VPR_ALLOW_HTTP',
  'VPR_PLAIN_HTTP_PORT',
  'VPR_BODY_LIMIT',
  'VPR_UPLOAD_LIMIT',
  'VPR_READ_ONLY',
  'VPR_CARE_LOCATION',
  'VPR_IDEMPOTENCY_HOURS',
  'VPR_TRUST_ANCHORS',
  'VPR_SIGNING_POLICY',
  'VPR_VERIFY_ON_READ',
  'VPR_CONFIG_FILE',
] as const;
type Setting = (typeof SETTINGS)[number];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Source = Partial<Record<Setting, string>>;

/** The settings the file holds, as strings like the environment's. */
function readConfigFile(path: string): Source {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`VPR_CONFIG_FILE: cannot read ${path}`);
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch {
    throw new ConfigError('VPR_CONFIG_FILE: is neither JSON nor YAML');
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError('VPR_CONFIG_FILE: must hold a mapping of setting names to values');
  }
  const source: Source = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (!SETTINGS.includes(key as Setting) || key === 'VPR_CONFIG_FILE') {
      throw new ConfigError(`VPR_CONFIG_FILE: ${key} is not a setting`);
    }
    if (!['string', 'number', 'boolean'].includes(typeof raw)) {
      throw new ConfigError(`VPR_CONFIG_FILE: ${key} must be a string, number or boolean`);
    }
    source[key as Setting] = String(raw);
  }
  return source;
}

class Reader {
  constructor(private readonly source: Source) {}

  text(name: Setting): string | undefined {
    const value = this.source[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  integer(name: Setting, fallback: number, min: number, max: number): number {
    const value = this.text(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return Number(value);
  }

  flag(name: Setting): boolean {
    const value = this.text(name)?.toLowerCase();
    if (value === undefined || value === 'false' || value === '0') return false;
    if (value === 'true' || value === '1') return true;
    throw new ConfigError(`${name} must be true or false`);
  }

  url(name: Setting, schemes: readonly string[]): string | undefined {
    const value = this.text(name);
    if (value === undefined) return undefined;
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

  readableFile(name: Setting): string | undefined {
    const value = this.text(name);
    if (value === undefined) return undefined;
    const path = resolve(value);
    try {
      readFileSync(path);
    } catch {
      throw new ConfigError(`${name}: cannot read ${path}`);
    }
    return path;
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): VprConfig {
  const fromEnv: Source = Object.fromEntries(
    SETTINGS.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]]])),
  );
  const file = fromEnv.VPR_CONFIG_FILE?.trim();
  const read = new Reader({ ...(file ? readConfigFile(resolve(file)) : {}), ...fromEnv });

  const logLevel = (read.text('VPR_LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new ConfigError(`VPR_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const serve = (read.text('VPR_SERVE') ?? 'all').toLowerCase();
  if (!SERVE_MODES.includes(serve as ServeMode)) {
    throw new ConfigError(`VPR_SERVE must be one of ${SERVE_MODES.join(', ')}`);
  }
  const certFile = read.readableFile('VPR_TLS_CERT');
  const keyFile = read.readableFile('VPR_TLS_KEY');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError('VPR_TLS_CERT and VPR_TLS_KEY must be set together');
  }
  const apiKey = read.text('VPR_API_KEY');
  if (apiKey !== undefined && apiKey.length < 20) {
    throw new ConfigError('VPR_API_KEY must be at least 20 characters');
  }
  const redisPrefix = read.text('VPR_REDIS_PREFIX') ?? 'vpr:';
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(redisPrefix)) {
    throw new ConfigError('VPR_REDIS_PREFIX must be 1 to 64 letters, digits or : _ . -');
  }
  const careLocation = read.text('VPR_CARE_LOCATION') ?? 'Not recorded';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (careLocation.length > 200 || /[\x00-\x1f\x7f]/.test(careLocation)) {
    throw new ConfigError('VPR_CARE_LOCATION must be one line of at most 200 characters');
  }
  let signingPolicy: SigningPolicy;
  try {
    signingPolicy = parseSigningPolicy(read.text('VPR_SIGNING_POLICY') ?? '', 'VPR_SIGNING_POLICY');
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const verifyOnRead = (read.text('VPR_VERIFY_ON_READ') ?? 'off').toLowerCase();
  if (!VERIFY_ON_READ_MODES.includes(verifyOnRead as VerifyOnRead)) {
    throw new ConfigError(`VPR_VERIFY_ON_READ must be one of ${VERIFY_ON_READ_MODES.join(', ')}`);
  }
  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
  return {
    dataDir: resolve(read.text('VPR_DATA_DIR') ?? './patient_data'),
    host: read.text('VPR_HOST') ?? '127.0.0.1',
    httpPort: read.integer('VPR_HTTP_PORT', 3000, 0, 65535),
    grpcPort: read.integer('VPR_GRPC_PORT', 50051, 0, 65535),
    serve: serve as ServeMode,
    grpcReflection: read.flag('VPR_GRPC_REFLECTION'),
    ...optional('apiKey', apiKey),
    ...optional('keysFile', read.readableFile('VPR_KEYS_FILE')),
    ...optional('databaseUrl', read.url('DATABASE_URL', ['postgres:', 'postgresql:'])),
    ...optional('redisUrl', read.url('REDIS_URL', ['redis:', 'rediss:'])),
    redisPrefix: redisPrefix,
    logLevel: logLevel as LogLevel,
    ...optional('tls', certFile === undefined || keyFile === undefined ? undefined : { certFile, keyFile }),
    allowHttp: read.flag('VPR_ALLOW_HTTP'),
    plainHttpPort: read.integer('VPR_PLAIN_HTTP_PORT', 3080, 0, 65535),
    bodyLimit: read.integer('VPR_BODY_LIMIT', 1024 * 1024, 1024, 64 * 1024 * 1024),
    uploadLimit: read.integer('VPR_UPLOAD_LIMIT', 64 * 1024 * 1024, 1, 16 * 1024 * 1024 * 1024),
    readOnly: read.flag('VPR_READ_ONLY'),
    careLocation,
    idempotencyHours: read.integer('VPR_IDEMPOTENCY_HOURS', 24, 1, 24 * 30),
    ...optional('trustAnchorsFile', read.readableFile('VPR_TRUST_ANCHORS')),
    signingPolicy,
    verifyOnRead: verifyOnRead as VerifyOnRead,
  };
}
