// Putting the service together from its configuration: the record store, the projection and
// its cache, the API keys, the services, and the doors that serve them (REST and gRPC, or one of
// them: VPR_SERVE). Everything is passed in, nothing is global, so tests start as many independent
// services as they like. `close` finishes in-flight requests before anything is shut.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import { loadApiKeys, type ApiKeys, type KeySource } from './auth/api-keys.js';
import { MemoryReadCache, RedisReadCache, type ReadCache } from './cache/read-cache.js';
import type { VprConfig } from './config/config.js';
import { syncDirectory, unlinkQuietly, writeNewFile } from './core/fs/durable-file.js';
import { RecordStore } from './core/record/record-store.js';
import { ContactClaims } from './projection/contact-claims.js';
import { IdempotencyStore } from './projection/idempotency-store.js';
import { Projection } from './projection/projection.js';
import {
  BackgroundCatchUp,
  MissedCommitRepair,
  type CatchUpResult,
} from './projection/background-catch-up.js';
import { PatientService } from './services/patient-service.js';
import { WriteSwitch } from './services/write-switch.js';
import { buildHttpServer } from './transport/http/http-server.js';
import { buildGrpcServer, type GrpcDoor } from './transport/grpc/grpc-server.js';
import { ClinicalRecord } from './services/record-access.js';
import { ContributionService } from './services/contribution-service.js';
import { EntryService } from './services/entry-service.js';
import { LetterService } from './services/letter-service.js';
import { RecordLinks } from './services/record-links.js';
import { CoordinationRecord, CoordinationStatusService } from './services/coordination-record.js';
import { ThreadService } from './services/thread-service.js';
import { CareEventService } from './services/care-event-service.js';
import { SignatureService } from './services/signature-service.js';
import { CommitSigning } from './services/commit-signing.js';
import { ReadVerifier } from './services/read-verification.js';
import { NO_TRUST_ANCHORS, parseTrustAnchors } from './core/signing/trust-anchors.js';
import { ConfigError } from './config/config.js';
import { ServiceMetrics, Tracing, createLogger } from './transport/observability.js';
import type { ReadinessReport } from './transport/http/system-routes.js';

export interface RuntimeOptions {
  /** Where logs go (default: standard output). */
  readonly logDestination?: DestinationStream;
  /** PostgreSQL schema for the projection (tests use their own). */
  readonly schema?: string;
  /** The keys to accept instead of those of the configuration (the CLI's local mode). */
  readonly keys?: ApiKeys;
  /**
   * An embedded projection kept in memory and not caught up at start (ProjectionOptions.inMemory):
   * it knows only this process's writes, so lists and uniqueness checks see only those.
   */
  readonly scratchProjection?: boolean;
  /**
   * When the projection is caught up with Git: before `startRuntime` returns (the default: the
   * CLI's local mode and tests see complete lists at once), or in the background while the
   * server already serves (`npm start`), with readiness "not ready" until it has completed.
   */
  readonly catchUp?: 'before-serving' | 'while-serving';
  /** How often commits that failed to project are tried again (default 10 s; tests use less). */
  readonly repairEveryMs?: number;
}

export interface Runtime {
  readonly config: VprConfig;
  readonly logger: Logger;
  readonly store: RecordStore;
  readonly projection: Projection;
  readonly http: FastifyInstance;
  /** The gRPC door, unless VPR_SERVE is rest. */
  readonly grpc: GrpcDoor | undefined;
  readonly keySource: KeySource;
  readonly writes: WriteSwitch;
  /**
   * Settles when the start-up catch-up has completed (its figures), at once when it ran before
   * serving; undefined when there was none (a scratch projection) or the runtime closed first.
   */
  readonly caughtUp: Promise<CatchUpResult | undefined>;
  /**
   * Reads VPR_API_KEY and the keys file again and accepts exactly those keys from now on (a
   * revoked key is refused at once); answers how many. A bad file throws and changes nothing.
   */
  reloadKeys(): number;
  /** Starts listening; returns the URLs (`http(s)://…` for REST, `grpc(s)://…` for gRPC). */
  listen(): Promise<string[]>;
  /** Stops taking requests, finishes those in flight, then closes every resource. */
  close(): Promise<void>;
}

function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Writes, fsyncs and removes a small file in the data directory: can the store write now? */
async function storeWritable(dataDir: string): Promise<boolean> {
  const probe = join(dataDir, '.locks', `ready-probe-${process.pid}`);
  try {
    await writeNewFile(probe, 'ready\n', 'fsync');
    unlinkQuietly(probe);
    await syncDirectory(join(dataDir, '.locks'), 'fsync');
    readdirSync(dataDir);
    return true;
  } catch {
    unlinkQuietly(probe);
    return false;
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([work.catch(() => fallback), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startRuntime(config: VprConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = createLogger(config.logLevel, options.logDestination);
  const store = new RecordStore({ dataDir: config.dataDir });
  await store.open();
  /** The keys of the configuration: VPR_API_KEY, the keys file, or the generated key. */
  const configuredKeys = () =>
    loadApiKeys({
      dataDir: config.dataDir,
      careLocation: config.careLocation,
      ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey }),
      ...(config.keysFile === undefined ? {} : { keysFile: config.keysFile }),
    });
  const { keys, source: keySource } =
    options.keys === undefined
      ? configuredKeys()
      : { keys: options.keys, source: { kind: 'supplied' as const } };
  const cache: ReadCache =
    config.redisUrl === undefined
      ? new MemoryReadCache()
      : await RedisReadCache.connect(config.redisUrl, config.redisPrefix);
  const projection = await Projection.open(
    {
      dataDir: config.dataDir,
      cache,
      applicationName: 'vpr',
      ...(config.databaseUrl === undefined ? {} : { databaseUrl: config.databaseUrl }),
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      ...(options.scratchProjection === true ? { inMemory: true } : {}),
    },
    store,
  );
  // A scratch projection holds only what this process writes: catching it up on the whole data
  // directory would cost every worker minutes for rows another process rebuilds anyway.
  let background: BackgroundCatchUp | undefined;
  let caughtUp: Promise<CatchUpResult | undefined> = Promise.resolve(undefined);
  if (options.scratchProjection !== true && options.catchUp === 'while-serving') {
    background = new BackgroundCatchUp(projection, logger);
    caughtUp = background.done;
  } else if (options.scratchProjection !== true) {
    const started = performance.now();
    const result = await projection.catchUp();
    const seconds = (performance.now() - started) / 1000;
    logger.info(
      { checked: result.checked, projected: result.projected, seconds, backend: projection.backend },
      'projection caught up with Git',
    );
    caughtUp = Promise.resolve({ ...result, seconds });
  }
  // Commits the projection missed while this process ran (the database away) are projected
  // again on a timer; a scratch projection misses nothing anybody reads.
  const repair =
    options.scratchProjection === true
      ? undefined
      : new MissedCommitRepair(projection, logger, options.repairEveryMs);
  const writes = new WriteSwitch(config.readOnly);
  const links = new RecordLinks(projection, cache);
  let anchors = NO_TRUST_ANCHORS;
  if (config.trustAnchorsFile !== undefined) {
    try {
      anchors = parseTrustAnchors(readFileSync(config.trustAnchorsFile, 'utf8'), 'VPR_TRUST_ANCHORS');
    } catch (error) {
      throw new ConfigError(
        `VPR_TRUST_ANCHORS: ${(error as Error).message.replace(/^VPR_TRUST_ANCHORS: /, '')}`,
      );
    }
  }
  const policy = config.signingPolicy;
  const signing = new CommitSigning({ store, writes, policy, anchors });
  const verifier = new ReadVerifier({ store, mode: config.verifyOnRead, anchors, policy });
  const patients = new PatientService({
    store,
    projection,
    cache,
    links,
    claims: new ContactClaims(projection.client),
    idempotency: new IdempotencyStore(projection.client, config.idempotencyHours),
    writes,
    signing,
    verifier,
  });
  const metrics = new ServiceMetrics({
    commits: () => store.commitCounts(),
    missedProjections: () => projection.status().missedCommits,
    cache: () => cache.stats(),
    readOnly: () => writes.readOnly,
  });
  const readiness = async (): Promise<ReadinessReport> => {
    const [storeOk, projectionOk, cacheOk] = await Promise.all([
      withTimeout(storeWritable(config.dataDir), 2_000, false),
      withTimeout(
        projection.client.query('SELECT 1').then(() => true),
        2_000,
        false,
      ),
      config.redisUrl === undefined ? Promise.resolve(true) : withTimeout(cache.ping(), 2_000, false),
    ]);
    const checks: Record<string, { ok: boolean; detail?: string }> = {
      store: { ok: storeOk, ...(storeOk ? {} : { detail: 'the data directory is not writable' }) },
      projection: {
        ok: projectionOk,
        ...(projectionOk ? {} : { detail: 'the projection database does not answer' }),
      },
    };
    if (config.redisUrl !== undefined) {
      checks.redis = { ok: cacheOk, ...(cacheOk ? {} : { detail: 'Redis does not answer' }) };
    }
    const catchUp = background?.check() ?? { ok: true };
    if (background !== undefined) checks.catch_up = catchUp;
    return { ready: storeOk && projectionOk && cacheOk && catchUp.ok, checks };
  };
  const https =
    config.tls === undefined
      ? undefined
      : { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) };
  // What both kinds of record (clinical, coordination) are made of.
  const recordDeps = { store, projection, cache, writes, links, signing, verifier };
  const clinicalRecord = new ClinicalRecord({ ...recordDeps, maxUploadBytes: config.uploadLimit });
  const clinical = {
    letters: new LetterService(clinicalRecord),
    entries: new EntryService(clinicalRecord),
    contributions: new ContributionService(clinicalRecord),
  };
  const coordinationRecord = new CoordinationRecord(recordDeps);
  const coordination = {
    status: new CoordinationStatusService(coordinationRecord),
    threads: new ThreadService(coordinationRecord),
    events: new CareEventService(coordinationRecord),
  };
  const signatures = new SignatureService({ store, links, anchors });
  const deps = {
    verifier,
    patients,
    signatures,
    signing,
    clinical,
    coordination,
    keys,
    metrics,
    tracing: new Tracing(),
    logger,
    writes,
    readiness,
  };
  const version = packageVersion();
  const serverOptions = {
    bodyLimit: config.bodyLimit,
    uploadLimit: config.uploadLimit,
    version,
  };
  const http = await buildHttpServer(deps, { ...serverOptions, ...(https === undefined ? {} : { https }) });
  // With TLS, plain HTTP is refused unless explicitly allowed, and then served on its own port.
  const plain =
    https !== undefined && config.allowHttp ? await buildHttpServer(deps, serverOptions) : undefined;
  const grpc =
    config.serve === 'rest'
      ? undefined
      : buildGrpcServer(
          { ...deps, version },
          {
            bodyLimit: config.bodyLimit,
            reflection: config.grpcReflection,
            ...(https === undefined ? {} : { tls: https }),
          },
        );
  const restOn = config.serve !== 'grpc';

  let closing: Promise<void> | undefined;
  return {
    config,
    logger,
    store,
    projection,
    http,
    grpc,
    keySource,
    writes,
    caughtUp,
    reloadKeys() {
      if (options.keys !== undefined) return keys.size;
      keys.replaceWith(configuredKeys().keys);
      return keys.size;
    },
    async listen() {
      const urls: string[] = [];
      if (restOn) urls.push(await http.listen({ host: config.host, port: config.httpPort }));
      if (restOn && plain !== undefined)
        urls.push(await plain.listen({ host: config.host, port: config.plainHttpPort }));
      if (grpc !== undefined) {
        const address = await grpc.listen(config.host, config.grpcPort);
        urls.push(`${https === undefined ? 'grpc' : 'grpcs'}://${address}`);
      }
      return urls;
    },
    close() {
      closing ??= (async () => {
        await Promise.all([http.close(), plain?.close(), grpc?.close()]);
        await Promise.all([background?.stop(), repair?.stop()]);
        signing.close();
        await projection.close();
        await cache.close();
        await store.close();
      })();
      return closing;
    },
  };
}
