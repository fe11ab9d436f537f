#!/usr/bin/env node
// The `vpr` command line, as far as the core record store goes (issue 2): create a full record,
// read a file, list history, diff two versions, recover and repack a repository; and for signed
// commits (issue 8), make signing keys and certificates, verify a repository's signatures, and
// sign a write to a running server in two steps. It works on the local data directory
// (VPR_DATA_DIR), except signed-write. Issue 9 grows it into the full tool. No logic lives here:
// each command parses its arguments, calls the record store and prints the result.
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { VprError, invalidInput, isVprError } from '../core/errors.js';
import { ERROR_STATUSES, USAGE_EXIT } from '../transport/error-statuses.js';
import { parseCommitMessage } from '../core/commit/commit-message.js';
import { REPOSITORY_KINDS, type RepositoryKind } from '../core/record/record-layout.js';
import { RecordStore, parseVersion } from '../core/record/record-store.js';
import { loadConfig } from '../config/config.js';
import { Projection } from '../projection/projection.js';
import { countRepositories } from '../projection/reindex.js';
import { MAX_REINDEX_THREADS } from '../projection/row-builder-pool.js';
import cliProgress from 'cli-progress';
import {
  createCertificateAuthority,
  createProfessionalCertificate,
  type KeyAndCertificate,
} from '../core/signing/certificates.js';
import { NO_TRUST_ANCHORS, parseTrustAnchors } from '../core/signing/trust-anchors.js';
import { verifyCommitBytes, type Verdict } from '../core/signing/verify-commit.js';
import { verifyHistory } from '../core/signing/verify-history.js';
import { VprRequestError, signedWrite } from '../client/signing-client.js';

/** A progress bar on a terminal, nothing when output goes to a file or --json was asked for. */
function progressBar(total: number, json: boolean): cliProgress.SingleBar | undefined {
  if (json || !process.stderr.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{bar} {value}/{total} repositories | {percentage}% | ETA {eta_formatted}',
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return bar;
}

const USAGE = `usage: vpr <command> [options]   (data directory: VPR_DATA_DIR, default ./patient_data)

  record create --input <file.json>        create demographics, clinical and coordination repositories;
                                           the JSON holds { demographics, author, careLocation }
  show <kind> <id> <path> [--version <sha>] print a file at HEAD or at a version
  history <kind> <id> [--path <p>] [--limit <n>] [--after <sha>]
  diff <kind> <id> <path> <from-sha> <to-sha>
  recover <kind> <id>                      remove abandoned locks and rebuild the working tree from HEAD
  maintain <kind> <id>                     repack objects and refs under the write lock
  reindex [--threads <n>]                  rebuild the projection from Git (into new tables, then swap);
                                           n threads read Git (default: one per core; 0: none)
  catch-up                                 project every repository whose HEAD the projection lacks
                                           (projection: DATABASE_URL, default PGlite in the data directory)
  cert ca create --name <n> --out <prefix> [--days <n>]
                                           a CA for a test deployment: <prefix>.key.pem (0600), <prefix>.cert.pem
  cert create --name <n> --authority <GMC> --number <n> --out <prefix> [--ca <prefix>] [--days <n>]
                                           a signing key and certificate for a professional registration,
                                           signed by the CA at <prefix> or self-signed
  verify <kind> <id> [--commit <sha>] [--limit <n>]
                                           verify a commit's signature, or every commit of the repository,
                                           against VPR_TRUST_ANCHORS; exit code 1 when any is invalid
  signed-write <METHOD> <path> --server <url> --signer <prefix> [--input <file.json>|-] [--if-match <etag>]
                                           a write to a running server whose commit is signed here, in two
                                           steps: the server prepares it, <prefix>.key.pem signs it (the key
                                           never leaves this machine), the signature and <prefix>.cert.pem
                                           (plus --chain <file>) are submitted; API key from VPR_API_KEY

  <kind> is one of: ${REPOSITORY_KINDS.join(', ')}. Add --json for machine-readable output.`;

function usage(message: string): never {
  throw new VprError('INVALID_INPUT', `${message}\n\n${USAGE}`, { details: { usage: true } });
}

function kindOf(value: string | undefined): RepositoryKind {
  if (!REPOSITORY_KINDS.includes(value as RepositoryKind))
    usage(`<kind> must be one of ${REPOSITORY_KINDS.join(', ')}`);
  return value as RepositoryKind;
}

function threadCount(value: string): number {
  const threads = Number(value);
  if (!/^\d+$/.test(value) || threads > MAX_REINDEX_THREADS) {
    throw invalidInput('--threads', `must be a whole number from 0 to ${MAX_REINDEX_THREADS}`);
  }
  return threads;
}

function limitOf(value: string): number {
  const limit = Number(value);
  if (!/^\d+$/.test(value) || limit < 1) throw invalidInput('--limit', 'must be a whole number from 1');
  return limit;
}

/** A verdict for people: valid (by whom), unsigned, or invalid (why). */
function describe(verdict: Verdict): string {
  if (verdict.status === 'unsigned') return 'unsigned';
  if (verdict.status === 'invalid') return `INVALID (${verdict.reason}): ${verdict.detail}`;
  const { subject, registration, certified } = verdict.signer;
  return certified
    ? `signed, valid: ${subject} ${registration ?? ''}`.trim()
    : 'signed, valid: an uncertified key';
}

/** Reads a command's string options by name: undefined when absent. */
function textOptions(
  values: Record<string, string | boolean | undefined>,
): (name: string) => string | undefined {
  return (name) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
}

/** `cert ca create` and `cert create`: keys and certificates written next to each other. */
async function certificate(
  rest: readonly string[],
  values: Record<string, string | boolean | undefined>,
  print: (human: string, json: unknown) => void,
): Promise<void> {
  const text = textOptions(values);
  const out = text('out');
  if (out === undefined) usage('cert needs --out <prefix> (files <prefix>.key.pem and <prefix>.cert.pem)');
  const days = text('days') === undefined ? {} : { days: limitOf(text('days')!) };
  let made: KeyAndCertificate;
  if (rest[0] === 'ca' && rest[1] === 'create') {
    if (text('name') === undefined) usage('cert ca create needs --name');
    made = await createCertificateAuthority(text('name')!, days);
  } else if (rest[0] === 'create') {
    const [name, authority, number] = [text('name'), text('authority'), text('number')];
    if (name === undefined || authority === undefined || number === undefined) {
      usage('cert create needs --name, --authority and --number');
    }
    const ca = text('ca');
    const issuer =
      ca === undefined
        ? {}
        : {
            issuer: {
              privateKeyPem: await readFile(`${ca}.key.pem`, 'utf8'),
              certificatePem: await readFile(`${ca}.cert.pem`, 'utf8'),
            },
          };
    made = await createProfessionalCertificate({ name, authority, number }, { ...days, ...issuer });
  } else {
    usage('cert commands are: cert ca create, cert create');
  }
  // The private key is written only if no file is there: an existing key is never overwritten.
  try {
    await writeFile(`${out}.key.pem`, made.privateKeyPem, { mode: 0o600, flag: 'wx' });
    await writeFile(`${out}.cert.pem`, made.certificatePem, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new VprError(
      'ALREADY_EXISTS',
      `${out}.key.pem or ${out}.cert.pem exists already; choose another --out`,
    );
  }
  print(`wrote ${out}.key.pem (keep it secret) and ${out}.cert.pem`, {
    key: `${out}.key.pem`,
    certificate: `${out}.cert.pem`,
  });
}

const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** `signed-write`: the client half of two-step signing, against a running server. */
async function signedWriteCommand(
  rest: readonly string[],
  values: Record<string, string | boolean | undefined>,
  print: (human: string, json: unknown) => void,
): Promise<void> {
  const text = textOptions(values);
  const [method, path] = rest;
  if (
    !WRITE_METHODS.includes(method?.toUpperCase() as never) ||
    path === undefined ||
    !path.startsWith('/api/')
  ) {
    usage(`signed-write needs a method (${WRITE_METHODS.join(', ')}) and an /api/ path`);
  }
  const server = text('server');
  const signerPrefix = text('signer');
  if (server === undefined || signerPrefix === undefined) usage('signed-write needs --server and --signer');
  const apiKey = process.env.VPR_API_KEY;
  if (apiKey === undefined || apiKey === '') {
    throw new VprError('UNAUTHENTICATED', 'set VPR_API_KEY to the API key to write with');
  }
  const input = text('input');
  const bodyText =
    input === undefined ? undefined : input === '-' ? await readStdin() : await readFile(input, 'utf8');
  let body: unknown;
  try {
    body = bodyText === undefined ? undefined : JSON.parse(bodyText);
  } catch {
    throw invalidInput('--input', 'is not JSON');
  }
  const chain = text('chain') === undefined ? [] : [await readFile(text('chain')!, 'utf8')];
  const outcome = await signedWrite({
    server,
    apiKey,
    method: method!.toUpperCase() as (typeof WRITE_METHODS)[number],
    path,
    ...(body === undefined ? {} : { body }),
    ...(text('if-match') === undefined ? {} : { headers: { 'if-match': text('if-match')! } }),
    signer: {
      keyPem: await readFile(`${signerPrefix}.key.pem`, 'utf8'),
      certificatePems: [await readFile(`${signerPrefix}.cert.pem`, 'utf8'), ...chain],
    },
  });
  print(
    outcome.landed
      ? `signed commit ${outcome.commit} landed in the ${outcome.repository} repository`
      : 'nothing to sign: the write changed nothing',
    outcome,
  );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function run(argv: readonly string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      input: { type: 'string' },
      version: { type: 'string' },
      path: { type: 'string' },
      limit: { type: 'string' },
      after: { type: 'string' },
      threads: { type: 'string' },
      name: { type: 'string' },
      authority: { type: 'string' },
      number: { type: 'string' },
      out: { type: 'string' },
      ca: { type: 'string' },
      days: { type: 'string' },
      commit: { type: 'string' },
      server: { type: 'string' },
      signer: { type: 'string' },
      chain: { type: 'string' },
      'if-match': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    console.log(USAGE);
    return;
  }
  const print = (human: string, json: unknown) =>
    console.log(values.json ? JSON.stringify(json, null, 2) : human);
  if (command === 'cert') {
    await certificate(rest, values, print);
    return;
  }
  if (command === 'signed-write') {
    await signedWriteCommand(rest, values, print);
    return;
  }
  const config = loadConfig();
  const store = new RecordStore({ dataDir: config.dataDir });
  await store.open();
  try {
    switch (command) {
      case 'record': {
        if (rest[0] !== 'create' || values.input === undefined)
          usage('record create needs --input <file.json>');
        let input: unknown;
        try {
          input = JSON.parse(await readFile(values.input, 'utf8'));
        } catch {
          usage('--input must name a readable JSON file');
        }
        const record = await store.createFullRecord(input as never);
        print(
          [
            `demographics ${record.demographicsId}`,
            `clinical     ${record.clinicalId}`,
            `coordination ${record.coordinationId}`,
          ].join('\n'),
          record,
        );
        return;
      }
      case 'show': {
        const [kind, id, path] = rest;
        if (path === undefined) usage('show needs <kind> <id> <path>');
        const content = await store.readFile(kindOf(kind), id!, path, values.version);
        if (values.json) print('', { path, content: content.toString('utf8') });
        else process.stdout.write(content);
        return;
      }
      case 'history': {
        const [kind, id] = rest;
        if (id === undefined) usage('history needs <kind> <id>');
        const limit = values.limit === undefined ? undefined : Number(values.limit);
        if (limit !== undefined && !Number.isInteger(limit)) usage('--limit must be a whole number');
        const page = await store.history(kindOf(kind), id, {
          ...(values.path === undefined ? {} : { path: values.path }),
          ...(values.after === undefined ? {} : { after: values.after }),
          ...(limit === undefined ? {} : { limit }),
        });
        const rows = page.commits.map((c) => ({
          commit: c.id,
          time: new Date(c.committer.timestamp).toISOString(),
          author: c.author.name,
          subject: c.message.split('\n')[0] ?? '',
          trailers: parseCommitMessage(c.message)?.trailers ?? [],
        }));
        print(
          rows.map((r) => `${r.commit.slice(0, 12)}  ${r.time}  ${r.author}  ${r.subject}`).join('\n') +
            (page.next === undefined ? '' : `\n(more: --after ${page.next})`),
          { commits: rows, next: page.next ?? null },
        );
        return;
      }
      case 'diff': {
        const [kind, id, path, from, to] = rest;
        if (to === undefined) usage('diff needs <kind> <id> <path> <from-sha> <to-sha>');
        const diff = await store.diffFile(kindOf(kind), id!, path!, from!, to);
        print(diff, { diff });
        return;
      }
      case 'recover':
      case 'maintain': {
        const [kind, id] = rest;
        if (id === undefined) usage(`${command} needs <kind> <id>`);
        if (command === 'recover') await store.recover(kindOf(kind), id);
        else await store.maintain(kindOf(kind), id);
        print(`${command}: done`, { ok: true });
        return;
      }
      case 'reindex':
      case 'catch-up': {
        const projection = await Projection.open(
          {
            dataDir: config.dataDir,
            ...(config.databaseUrl === undefined ? {} : { databaseUrl: config.databaseUrl }),
          },
          store,
        );
        try {
          const total = await countRepositories(store);
          const bar = progressBar(total, values.json);
          const started = performance.now();
          if (command === 'reindex') {
            const result = await projection.reindex({
              onProgress: (done) => bar?.update(done),
              ...(values.threads === undefined ? {} : { threads: threadCount(values.threads) }),
            });
            bar?.stop();
            const rate = result.patients / Math.max(result.seconds, 1e-9);
            print(
              `reindexed ${result.repositories} repositories (${result.patients} patients) in ${result.seconds.toFixed(1)} s: ` +
                `${rate.toFixed(0)} patients/s, ${(result.repositories / Math.max(result.seconds, 1e-9)).toFixed(0)} repositories/s`,
              result,
            );
          } else {
            const result = await projection.catchUp((checked) => bar?.update(checked));
            bar?.stop();
            const seconds = (performance.now() - started) / 1000;
            print(
              `checked ${result.checked} repositories in ${seconds.toFixed(1)} s; ${result.projected} re-projected`,
              { ...result, seconds },
            );
          }
        } finally {
          await projection.close();
        }
        return;
      }
      case 'verify': {
        const [kind, id] = rest;
        if (id === undefined) usage('verify needs <kind> <id>');
        const anchors =
          config.trustAnchorsFile === undefined
            ? NO_TRUST_ANCHORS
            : parseTrustAnchors(await readFile(config.trustAnchorsFile, 'utf8'), 'VPR_TRUST_ANCHORS');
        const repository = await store.repository(kindOf(kind), id);
        const commits =
          values.commit === undefined
            ? (
                await verifyHistory(
                  repository,
                  anchors,
                  values.limit === undefined ? undefined : limitOf(values.limit),
                )
              ).commits
            : [
                {
                  commit: parseVersion(values.commit, '--commit'),
                  verdict: verifyCommitBytes(
                    await repository.readCommitBytes(parseVersion(values.commit, '--commit')),
                    anchors,
                  ),
                },
              ];
        print(commits.map(({ commit, verdict }) => `${commit}  ${describe(verdict)}`).join('\n'), commits);
        if (commits.some((c) => c.verdict.status === 'invalid')) process.exitCode = 1;
        return;
      }
      default:
        usage(`unknown command ${command}`);
    }
  } finally {
    await store.close();
  }
}

try {
  await run(process.argv.slice(2));
} catch (error) {
  if (isVprError(error)) {
    console.error(`vpr: ${error.code}: ${error.message}`);
    process.exitCode = error.details?.usage === true ? USAGE_EXIT : ERROR_STATUSES[error.code].exit;
  } else if (error instanceof VprRequestError) {
    // The server's answer: its stable code, and the exit code the table gives that code.
    console.error(`vpr: ${error.code}: ${error.message}`);
    process.exitCode = ERROR_STATUSES[error.code as keyof typeof ERROR_STATUSES]?.exit ?? 1;
  } else if (
    error instanceof TypeError &&
    'code' in error &&
    String(error.code).startsWith('ERR_PARSE_ARGS')
  ) {
    console.error(`vpr: ${error.message}\n\n${USAGE}`);
    process.exitCode = USAGE_EXIT;
  } else {
    console.error(`vpr: INTERNAL: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = ERROR_STATUSES.INTERNAL.exit;
  }
}
