// `vpr serve`, `vpr cert …`, `vpr keys …`, `vpr config check`, `vpr signed-write`: running the
// server, making signing keys and certificates, managing the API keys file, checking the
// configuration, and a signed write of any route. Keys and certificates are written only to new
// files (never over a key), private ones with mode 0600.
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse, stringify } from 'yaml';
import { SCOPES, generateApiKey, hashApiKey, loadApiKeys, type Scope } from '../../auth/api-keys.js';
import { VprError, invalidInput } from '../../core/errors.js';
import {
  createCertificateAuthority,
  createProfessionalCertificate,
  type KeyAndCertificate,
} from '../../core/signing/certificates.js';
import { parseTrustAnchors } from '../../core/signing/trust-anchors.js';
import { ConfigError, SETTINGS, loadConfig } from '../../config/config.js';
import type { SignedOutcome } from '../../client/signing-client.js';
import type { CliContext } from '../context.js';
import { count, readBody } from './shared.js';

type Json = Record<string, unknown>;

async function writeKeyPair(prefix: string, made: KeyAndCertificate): Promise<void> {
  try {
    await writeFile(`${prefix}.key.pem`, made.privateKeyPem, { mode: 0o600, flag: 'wx' });
    await writeFile(`${prefix}.cert.pem`, made.certificatePem, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new VprError(
      'ALREADY_EXISTS',
      `${prefix}.key.pem or ${prefix}.cert.pem exists already; choose another --out`,
    );
  }
}

/** The keys file named by --file or VPR_KEYS_FILE. */
function keysFileOf(file: string | undefined): string {
  const path = file ?? process.env.VPR_KEYS_FILE;
  if (path === undefined || path.trim() === '')
    throw invalidInput('--file', 'name the keys file (or set VPR_KEYS_FILE)');
  return resolve(path);
}

async function readKeysFile(path: string, mustExist: boolean): Promise<{ keys: Json[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    if (mustExist) throw new VprError('NOT_FOUND', `no keys file at ${path}`);
    return { keys: [] };
  }
  const value = parse(text) as { keys?: unknown } | null;
  if (!Array.isArray(value?.keys)) throw invalidInput('--file', `${path} has no "keys" list`);
  return { keys: value.keys as Json[] };
}

/**
 * Writes the keys file whole, after checking it with the very parser the server uses (on a
 * temporary file beside it), then renames it into place: a bad entry never reaches the file.
 */
async function writeKeysFile(path: string, content: { keys: Json[] }): Promise<void> {
  const temp = join(dirname(path), `.${randomBytes(6).toString('hex')}.keys.tmp`);
  await writeFile(temp, stringify(content), { mode: 0o600, flag: 'wx' });
  try {
    if (content.keys.length > 0)
      loadApiKeys({ dataDir: dirname(path), keysFile: temp, careLocation: 'Not recorded' });
  } catch (error) {
    await rm(temp, { force: true });
    if (error instanceof ConfigError)
      throw invalidInput('key', error.message.replace(/^VPR_KEYS_FILE: /, ''));
    throw error;
  }
  await rename(temp, path);
}

export function registerAdminCommands(program: Command, context: () => CliContext): void {
  program
    .command('serve')
    .description('run the server (REST and gRPC) on the configuration of the environment, as npm start does')
    .action(async () => {
      await import('../../main.js');
    });

  program
    .command('admin')
    .description('administration of a running server (admin scope)')
    .command('read-only [state]')
    .description('whether writes are switched off on this server; on or off switches them')
    .action(async (state: string | undefined) => {
      const ctx = context();
      if (state !== undefined && state !== 'on' && state !== 'off') {
        throw new VprError('INVALID_INPUT', 'read-only takes on or off', { details: { usage: true } });
      }
      const path = '/api/v1/admin/read-only';
      const answer =
        state === undefined
          ? await ctx.send({ method: 'GET', path })
          : await ctx.send({ method: 'PUT', path, body: { read_only: state === 'on' } });
      ctx.out.answer(answer.body as Json, {
        kind: 'text',
        text: (r) => `writes are ${r.read_only ? 'OFF (read-only)' : 'on'} since ${String(r.changed_at)}`,
      });
    });

  const cert = program.command('cert').description('signing keys and X.509 certificates (ECDSA P-256)');
  cert
    .command('create')
    .description('a signing key and a certificate for a professional registration, CA-signed or self-signed')
    .requiredOption('--name <name>', "the professional's name")
    .requiredOption('--authority <authority>', 'the registering body, such as GMC or NMC')
    .requiredOption('--number <number>', 'the registration number')
    .requiredOption('--out <prefix>', 'writes <prefix>.key.pem (mode 0600) and <prefix>.cert.pem')
    .option('--ca <prefix>', 'sign with the CA at <prefix>.key.pem / <prefix>.cert.pem')
    .option('--days <n>', 'valid for this many days (default 365)', count)
    .action(
      async (o: {
        name: string;
        authority: string;
        number: string;
        out: string;
        ca?: string;
        days?: number;
      }) => {
        const ctx = context();
        const issuer =
          o.ca === undefined
            ? {}
            : {
                issuer: {
                  privateKeyPem: await readFile(`${o.ca}.key.pem`, 'utf8'),
                  certificatePem: await readFile(`${o.ca}.cert.pem`, 'utf8'),
                },
              };
        const made = await createProfessionalCertificate(
          { name: o.name, authority: o.authority, number: o.number },
          { ...(o.days === undefined ? {} : { days: o.days }), ...issuer },
        );
        await writeKeyPair(o.out, made);
        ctx.out.answer(
          { key: `${o.out}.key.pem`, certificate: `${o.out}.cert.pem` },
          { kind: 'text', text: (r) => `wrote ${r.key} (keep it secret) and ${r.certificate}` },
        );
      },
    );
  cert
    .command('ca')
    .description('a certificate authority for a test deployment')
    .command('create')
    .description('make a CA: <prefix>.key.pem (mode 0600) and <prefix>.cert.pem')
    .requiredOption('--name <name>', "the CA's name")
    .requiredOption('--out <prefix>', 'where to write it')
    .option('--days <n>', 'valid for this many days', count)
    .action(async (o: { name: string; out: string; days?: number }) => {
      const ctx = context();
      await writeKeyPair(
        o.out,
        await createCertificateAuthority(o.name, o.days === undefined ? {} : { days: o.days }),
      );
      ctx.out.answer(
        { key: `${o.out}.key.pem`, certificate: `${o.out}.cert.pem` },
        { kind: 'text', text: (r) => `wrote ${r.key} (keep it secret) and ${r.certificate}` },
      );
    });

  const keys = program.command('keys').description('API keys with scopes, in the keys file (VPR_KEYS_FILE)');
  keys
    .command('create <id>')
    .description('a new key: printed once, only its SHA-256 is stored')
    .requiredOption('--scopes <list>', `comma-separated: ${SCOPES.join(', ')}`)
    .option('--file <path>', 'the keys file (default VPR_KEYS_FILE); created if absent')
    .option('--principal <name>', 'who holds it, recorded on every commit (default: the id)')
    .option('--name <name>', 'the Git author of its commits')
    .option('--email <email>', "the author's email")
    .option('--role <role>', "the author's role")
    .option('--location <name>', 'the care location of its commits')
    .action(async (id: string, o: Json) => {
      const ctx = context();
      const path = keysFileOf(o.file as string | undefined);
      const file = await readKeysFile(path, false);
      if (file.keys.some((k) => k.id === id))
        throw new VprError('ALREADY_EXISTS', `a key with id ${id} exists already`);
      const scopes = String(o.scopes)
        .split(',')
        .map((s) => s.trim()) as Scope[];
      const key = generateApiKey();
      const author =
        o.name === undefined
          ? undefined
          : {
              name: o.name,
              email: o.email ?? `${id}@vpr.invalid`,
              role: o.role ?? 'System',
            };
      file.keys.push({
        id,
        ...(o.principal === undefined ? {} : { principal: o.principal }),
        sha256: hashApiKey(key),
        scopes,
        ...(author === undefined ? {} : { author }),
        ...(o.location === undefined ? {} : { care_location: o.location }),
      });
      await writeKeysFile(path, file);
      ctx.out.answer(
        { id, key, scopes, file: path },
        {
          kind: 'text',
          text: (r) =>
            `key ${r.id} (${r.scopes.join(', ')}) added to ${r.file}\nIt is shown this once: ${r.key}`,
        },
        (r) => r.key,
      );
    });
  keys
    .command('list')
    .description('the keys of the keys file (never the keys themselves)')
    .option('--file <path>', 'the keys file (default VPR_KEYS_FILE)')
    .action(async (o: { file?: string }) => {
      const ctx = context();
      const file = await readKeysFile(keysFileOf(o.file), true);
      const listed = file.keys.map((k) => ({
        id: k.id,
        principal: k.principal ?? k.id,
        scopes: k.scopes,
        author: (k.author as Json | undefined)?.name ?? null,
      }));
      ctx.out.answer(listed, {
        kind: 'table',
        rows: (l) => l,
        columns: [
          { header: 'id', value: (k: Json) => k.id },
          { header: 'principal', value: (k: Json) => k.principal },
          { header: 'scopes', value: (k: Json) => k.scopes },
          { header: 'author', value: (k: Json) => k.author },
        ] as never,
      });
    });
  keys
    .command('revoke <id>')
    .description('remove a key from the keys file (a server refuses it once it reloads its keys: SIGHUP)')
    .option('--file <path>', 'the keys file (default VPR_KEYS_FILE)')
    .action(async (id: string, o: { file?: string }) => {
      const ctx = context();
      const path = keysFileOf(o.file);
      const file = await readKeysFile(path, true);
      if (!file.keys.some((k) => k.id === id)) throw new VprError('NOT_FOUND', `no key with id ${id}`);
      await writeKeysFile(path, { keys: file.keys.filter((k) => k.id !== id) });
      ctx.out.answer(
        { id, revoked: true },
        { kind: 'text', text: () => `key ${id} revoked in ${path}` },
        () => id,
      );
    });

  program
    .command('config')
    .description('the configuration')
    .command('check')
    .description(
      'check the configuration of the environment (and VPR_CONFIG_FILE) as the server would read it',
    )
    .action(async () => {
      const ctx = context();
      let config;
      try {
        config = loadConfig();
        if (config.keysFile !== undefined || config.apiKey !== undefined) {
          loadApiKeys({
            dataDir: config.dataDir,
            careLocation: config.careLocation,
            ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey }),
            ...(config.keysFile === undefined ? {} : { keysFile: config.keysFile }),
          });
        }
        if (config.trustAnchorsFile !== undefined) {
          parseTrustAnchors(await readFile(config.trustAnchorsFile, 'utf8'), 'VPR_TRUST_ANCHORS');
        }
      } catch (error) {
        if (error instanceof ConfigError) throw invalidInput('configuration', error.message);
        throw error;
      }
      const set = SETTINGS.filter((name) => process.env[name] !== undefined);
      const report = {
        ok: true,
        data_dir: config.dataDir,
        projection: config.databaseUrl === undefined ? 'PGlite (embedded)' : 'PostgreSQL (DATABASE_URL)',
        cache: config.redisUrl === undefined ? 'in-process' : 'Redis (REDIS_URL)',
        http_port: config.httpPort,
        grpc_port: config.grpcPort,
        serve: config.serve,
        keys:
          config.keysFile ??
          (config.apiKey === undefined ? 'generated in the data directory' : 'VPR_API_KEY'),
        signing_policy: config.signingPolicy.text === '' ? 'nothing required' : config.signingPolicy.text,
        verify_on_read: config.verifyOnRead,
        trust_anchors: config.trustAnchorsFile ?? null,
        settings_from_environment: set,
      };
      ctx.out.answer(report, { kind: 'record' });
    });

  program
    .command('signed-write <method> <path>')
    .description(
      'a write to any route whose commit is signed here in two steps; needs --signer (the key never leaves this machine)',
    )
    .option('--input <file>', 'the body as JSON or YAML; - reads standard input')
    .option('--if-match <etag>', 'the version the write is based on')
    .option('--chain <file>', "further certificates of the signer's chain (PEM)")
    .action(async (method: string, path: string, o: { input?: string; ifMatch?: string; chain?: string }) => {
      const ctx = context();
      const upper = method.toUpperCase();
      if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(upper) || !path.startsWith('/api/')) {
        throw new VprError(
          'INVALID_INPUT',
          'signed-write needs a method (POST, PUT, PATCH, DELETE) and an /api/ path',
          {
            details: { usage: true },
          },
        );
      }
      const chain = o.chain === undefined ? [] : [await readFile(o.chain, 'utf8')];
      const signer = await ctx.signerFiles(chain);
      if (signer === undefined) {
        throw new VprError('INVALID_INPUT', 'signed-write needs --signer <prefix>', {
          details: { usage: true },
        });
      }
      const body = o.input === undefined ? undefined : await readBody(o.input);
      const written = await ctx.write(
        {
          method: upper as 'POST',
          path,
          ...(body === undefined ? {} : { body }),
          ...(o.ifMatch === undefined ? {} : { headers: { 'if-match': o.ifMatch } }),
        },
        signer,
      );
      const outcome: SignedOutcome = written.signed
        ? written.outcome
        : { landed: false, status: written.answer.status, response: written.answer.body };
      ctx.out.answer(outcome, {
        kind: 'text',
        text: (r) =>
          r.landed
            ? `signed commit ${r.commit} landed in the ${r.repository} repository`
            : 'nothing to sign: the write changed nothing',
      });
    });
}
