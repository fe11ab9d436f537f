// API keys: who may call the service and what they may do. Keys come from VPR_API_KEY (one key
// with every scope), from a keys file (VPR_KEYS_FILE: scoped keys, stored only as SHA-256
// hashes), or — when neither is configured — from a key generated on first start and kept in
// the data directory with mode 0600. A presented key is hashed and compared with every known
// hash in constant time. Each key names a principal, which every commit it makes records.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseAuthor, type Author } from '../core/commit/author.js';
import { isErrno } from '../core/fs/durable-file.js';
import { ConfigError } from '../config/config.js';

export const SCOPES = ['patient:read', 'patient:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is acting: the identity behind an API key. */
export interface Principal {
  /** The key's id (never the key itself); logs and metrics may show it. */
  readonly keyId: string;
  /** A stable name for whoever holds the key, recorded on every commit it makes. */
  readonly principal: string;
  readonly scopes: ReadonlySet<Scope>;
  /** The Git author of commits made with this key. */
  readonly author: Author;
  readonly careLocation: string;
}

export interface KnownKey extends Principal {
  readonly sha256: Buffer;
}

export const GENERATED_KEY_FILE = '.api-key';
const PRINCIPAL = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** How the service found its keys, for the start-up message (never the key itself, unless new). */
export type KeySource =
  | { readonly kind: 'environment' }
  | { readonly kind: 'keys-file'; readonly path: string; readonly count: number }
  | { readonly kind: 'generated'; readonly path: string; readonly key: string }
  | { readonly kind: 'stored'; readonly path: string }
  | { readonly kind: 'supplied' };

export class ApiKeys {
  #keys: readonly KnownKey[];

  constructor(keys: readonly KnownKey[]) {
    this.#keys = keys;
  }

  /** How many keys are accepted. */
  get size(): number {
    return this.#keys.length;
  }

  /** Accepts `other`'s keys from now on, in place of these (a reloaded keys file). */
  replaceWith(other: ApiKeys): void {
    this.#keys = other.#keys;
  }

  /** The principal whose key this is; undefined for an unknown or absent key. Constant time per key. */
  authenticate(presented: string | undefined): Principal | undefined {
    if (presented === undefined || presented.length === 0 || presented.length > 512) return undefined;
    const hash = sha256(presented);
    let found: KnownKey | undefined;
    for (const key of this.#keys) {
      if (timingSafeEqual(hash, key.sha256) && found === undefined) found = key;
    }
    if (found === undefined) return undefined;
    return {
      keyId: found.keyId,
      principal: found.principal,
      scopes: found.scopes,
      author: found.author,
      careLocation: found.careLocation,
    };
  }
}

/**
 * The key a caller presents, from either door: the `x-api-key` header (or gRPC metadata), or
 * `authorization: Bearer <key>`.
 */
export function presentedKey(
  xApiKey: string | undefined,
  authorization: string | undefined,
): string | undefined {
  if (xApiKey !== undefined) return xApiKey.trim();
  if (authorization === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
}

/** The hash a keys file records for a key. */
export function hashApiKey(key: string): string {
  return sha256(key).toString('hex');
}

/** A new random key. */
export function generateApiKey(): string {
  return `vpr_${randomBytes(32).toString('base64url')}`;
}

/**
 * A key with every scope that acts as `author` at `careLocation`: for a process that starts the
 * service for itself (the `vpr` command in local mode), whose key never leaves that process.
 */
export function localKey(key: string, keyId: string, author: Author, careLocation: string): KnownKey {
  return { ...allScopesKey(key, keyId, careLocation), principal: keyId, author };
}

function allScopesKey(key: string, keyId: string, careLocation: string): KnownKey {
  return {
    keyId,
    principal: keyId,
    scopes: new Set(SCOPES),
    author: { name: 'VPR API key', email: `${keyId}@vpr.invalid`, role: 'System', registrations: [] },
    careLocation,
    sha256: sha256(key),
  };
}

function parseKeysFile(path: string, careLocation: string): KnownKey[] {
  let value: unknown;
  try {
    value = parse(readFileSync(path, 'utf8'));
  } catch {
    throw new ConfigError(`VPR_KEYS_FILE: ${path} is neither JSON nor YAML`);
  }
  const entries = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new ConfigError('VPR_KEYS_FILE: must hold a non-empty list under "keys"');
  }
  const ids = new Set<string>();
  return entries.map((entry: unknown, i): KnownKey => {
    const where = `VPR_KEYS_FILE: keys[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw new ConfigError(`${where} must be a mapping`);
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!['id', 'principal', 'sha256', 'scopes', 'author', 'care_location'].includes(key)) {
        throw new ConfigError(`${where}.${key} is not a known field`);
      }
    }
    if (typeof e.id !== 'string' || !PRINCIPAL.test(e.id) || ids.has(e.id)) {
      throw new ConfigError(`${where}.id must be a unique lower-case name such as reception-1`);
    }
    ids.add(e.id);
    const principal = e.principal ?? e.id;
    if (typeof principal !== 'string' || !PRINCIPAL.test(principal)) {
      throw new ConfigError(`${where}.principal must be a lower-case name such as reception-desk`);
    }
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) {
      throw new ConfigError(`${where}.sha256 must be the 64-hex SHA-256 of the key`);
    }
    if (!Array.isArray(e.scopes) || e.scopes.length === 0 || !e.scopes.every((s) => SCOPES.includes(s))) {
      throw new ConfigError(`${where}.scopes must list some of ${SCOPES.join(', ')}`);
    }
    let author: Author;
    try {
      author = parseAuthor(
        e.author ?? { name: principal, email: `${principal}@vpr.invalid`, role: 'System' },
        'author',
      );
    } catch (error) {
      throw new ConfigError(`${where}.${(error as Error).message}`);
    }
    const location = e.care_location ?? careLocation;
    if (typeof location !== 'string' || location.trim() === '') {
      throw new ConfigError(`${where}.care_location must be text`);
    }
    return {
      keyId: e.id,
      principal,
      scopes: new Set(e.scopes as Scope[]),
      author,
      careLocation: location.trim(),
      sha256: Buffer.from(e.sha256, 'hex'),
    };
  });
}

/**
 * The keys the service accepts: VPR_API_KEY and the keys file when configured; otherwise the
 * key stored in the data directory, generated (and reported once) on the first start.
 */
export function loadApiKeys(options: {
  readonly dataDir: string;
  readonly apiKey?: string;
  readonly keysFile?: string;
  readonly careLocation: string;
}): { keys: ApiKeys; source: KeySource } {
  const keys: KnownKey[] = [];
  if (options.apiKey !== undefined) keys.push(allScopesKey(options.apiKey, 'api-key', options.careLocation));
  if (options.keysFile !== undefined) keys.push(...parseKeysFile(options.keysFile, options.careLocation));
  if (keys.length > 0) {
    const source: KeySource =
      options.keysFile === undefined
        ? { kind: 'environment' }
        : { kind: 'keys-file', path: options.keysFile, count: keys.length };
    return { keys: new ApiKeys(keys), source };
  }
  const path = join(options.dataDir, GENERATED_KEY_FILE);
  let key: string;
  let source: KeySource;
  try {
    key = readFileSync(path, 'utf8').trim();
    source = { kind: 'stored', path };
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
    key = generateApiKey();
    writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
    source = { kind: 'generated', path, key };
  }
  return { keys: new ApiKeys([allScopesKey(key, 'generated', options.careLocation)]), source };
}
