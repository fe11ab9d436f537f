// The gRPC door: the vpr.v1.VPR service of proto/vpr/v1/vpr.proto (its calls are in
// vpr-rpcs.ts), grpc.health.v1, and server reflection only when configured. Around every call,
// as the REST door does around every request: the deadline is checked before any work, the API
// key is taken from `x-api-key` or `authorization: Bearer` metadata and its scope checked, a
// trace span continues the caller's `traceparent`, one log line and the metrics record the call
// (RPC name, status code, duration, acting key; never the request), and every failure leaves as
// the status of the one error table (grpc-errors.ts). Malformed messages are refused by grpc-js
// before any handler runs.
import {
  verificationValue,
  type ReadVerificationState,
  type ReadVerifier,
} from '../../services/read-verification.js';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { presentedKey, type ApiKeys, type Principal, type Scope } from '../../auth/api-keys.js';
import { VprError, isVprError } from '../../core/errors.js';
import { ERROR_STATUSES } from '../error-statuses.js';
import { loggableError, type ServiceMetrics, type Tracing } from '../observability.js';
import { PROTO_DIR, toServiceError } from './grpc-errors.js';
import { vprRpcs, type Rpc, type RpcDeps } from './vpr-rpcs.js';

export const SERVICE_NAME = 'vpr.v1.VPR';

/**
 * How the door reads its proto: field names as written (snake_case, as in the REST JSON),
 * unset fields left out (so an absent field stays absent, as in JSON), 64-bit integers as numbers.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: false,
  includeDirs: [PROTO_DIR],
};

export function loadVprProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync('vpr/v1/vpr.proto', PROTO_LOADER_OPTIONS);
}

export interface GrpcServerDeps extends Omit<RpcDeps, 'decodeRequest'> {
  /** Gives each call its verification-on-read state. */
  readonly verifier: ReadVerifier;
  readonly keys: ApiKeys;
  readonly metrics: ServiceMetrics;
  readonly tracing: Tracing;
  readonly logger: Logger;
}

export interface GrpcServerOptions {
  /** The largest message accepted, in bytes (attachments stream in many messages). */
  readonly bodyLimit: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly reflection: boolean;
}

export interface GrpcDoor {
  /** Binds and serves; answers the address it listens on. */
  listen(host: string, port: number): Promise<string>;
  /** Takes no new calls, lets those in flight finish (at most `graceMs`), then stops. */
  close(graceMs?: number): Promise<void>;
}

/** What a request that does not decode as its message becomes, so it is answered INVALID_ARGUMENT. */
const MALFORMED = Symbol('malformed request');

function assertWellFormed(message: unknown): void {
  if (typeof message === 'object' && message !== null && MALFORMED in message) {
    throw new VprError('INVALID_INPUT', 'the request message does not decode as this call’s message type', {
      details: { field: 'request' },
    });
  }
}

/** The service with decoding that never throws: a malformed message decodes as MALFORMED. */
function guarded(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(service).map(([name, method]) => [
      name,
      {
        ...method,
        requestDeserialize: (bytes: Buffer) => {
          try {
            return method.requestDeserialize(bytes);
          } catch {
            return { [MALFORMED]: true };
          }
        },
      },
    ]),
  ) as grpc.ServiceDefinition;
}

/** The messages of a client stream, each checked to be well formed. */
async function* checkedMessages(call: grpc.ServerReadableStream<unknown, unknown>): AsyncGenerator<never> {
  for await (const message of call) {
    assertWellFormed(message);
    yield message as never;
  }
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>;

const first = (metadata: grpc.Metadata, key: string): string | undefined => {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
};

export function buildGrpcServer(deps: GrpcServerDeps, options: GrpcServerOptions): GrpcDoor {
  const definition = loadVprProto();
  const service = guarded((definition[SERVICE_NAME] ?? {}) as grpc.ServiceDefinition);
  const rpcs = vprRpcs({
    ...deps,
    decodeRequest: (method, bytes) => {
      const decoded = service[method]!.requestDeserialize(bytes);
      assertWellFormed(decoded);
      return decoded;
    },
  });
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.bodyLimit,
  });
  const health = new HealthImplementation({ '': 'SERVING', [SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);
  if (options.reflection) new ReflectionService(definition).addToServer(server);

  /** Checks the deadline, the key and its scope; answers who is calling. */
  function admit(call: AnyCall, scope: Scope | undefined): Principal | undefined {
    const deadline = call.getDeadline();
    const at = deadline instanceof Date ? deadline.getTime() : deadline;
    if (Number.isFinite(at) && at <= Date.now()) throw new DeadlineExceeded();
    if (scope === undefined) return undefined;
    const metadata = call.metadata;
    const principal = deps.keys.authenticate(
      presentedKey(first(metadata, 'x-api-key'), first(metadata, 'authorization')),
    );
    if (principal === undefined) {
      throw new VprError(
        'UNAUTHENTICATED',
        'send a valid API key in x-api-key or authorization: Bearer metadata',
      );
    }
    if (!principal.scopes.has(scope)) {
      throw new VprError('FORBIDDEN', `this key lacks the ${scope} scope`, { details: { scope } });
    }
    return principal;
  }

  /** Starts the books on one call; the function it answers closes them with the status sent. */
  function track(name: string, call: AnyCall) {
    const started = performance.now();
    const requestId = randomUUID();
    const span = deps.tracing.start(
      `${SERVICE_NAME}/${name}`,
      call.metadata.getMap() as Record<string, string>,
    );
    let principal: Principal | undefined;
    return {
      requestId,
      admitted(p: Principal | undefined) {
        principal = p;
      },
      /** The error to answer with, logged when it is the service's fault. */
      failure(error: unknown): Partial<grpc.ServiceError> {
        if (error instanceof DeadlineExceeded) {
          return {
            code: grpc.status.DEADLINE_EXCEEDED,
            details: 'the deadline passed before the call started',
          };
        }
        const vpr = isVprError(error)
          ? error
          : new VprError('INTERNAL', 'an unexpected failure; report it with the x-request-id', {
              cause: error,
            });
        if (ERROR_STATUSES[vpr.code].http >= 500) {
          deps.logger.error(
            {
              req_id: requestId,
              code: vpr.code,
              error: loggableError(vpr.code === 'INTERNAL' ? error : (vpr.cause ?? vpr)),
            },
            'call failed',
          );
        }
        const answer = toServiceError(vpr);
        answer.metadata?.set('x-request-id', requestId);
        return answer;
      },
      finish(code: grpc.status) {
        const seconds = (performance.now() - started) / 1000;
        const codeName = grpc.status[code] ?? String(code);
        deps.metrics.observeCall(name, codeName, seconds);
        deps.logger.info(
          {
            req_id: requestId,
            trace_id: span.spanContext().traceId,
            rpc: `${SERVICE_NAME}/${name}`,
            code: codeName,
            duration_ms: Math.round(seconds * 100_000) / 100,
            ...(principal === undefined ? {} : { actor: principal.principal, key_id: principal.keyId }),
          },
          'call',
        );
        span.end();
      },
    };
  }

  /** The trailing metadata of an answer: the request id, and what verification on read found. */
  const trailer = (requestId: string, verification?: ReadVerificationState) => {
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', requestId);
    const verdict = verificationValue(verification);
    if (verdict !== undefined) metadata.set('vpr-verification', verdict);
    return metadata;
  };

  /** A call with one answer (unary or client streaming): admitted, run, answered, booked. */
  function answerOnce(
    name: string,
    call: AnyCall,
    callback: grpc.sendUnaryData<unknown>,
    scope: Scope | undefined,
    run: (principal: Principal | undefined) => Promise<unknown>,
  ): void {
    const books = track(name, call);
    let verification: ReadVerificationState | undefined;
    Promise.resolve()
      .then(() =>
        deps.verifier.scoped((state) => {
          verification = state;
          const principal = admit(call, scope);
          books.admitted(principal);
          return run(principal);
        }),
      )
      .then(
        (answer) => {
          books.finish(grpc.status.OK);
          callback(null, answer, trailer(books.requestId, verification));
        },
        (error: unknown) => {
          const failure = books.failure(error);
          books.finish(failure.code ?? grpc.status.UNKNOWN);
          callback(failure);
        },
      );
  }

  function implement(name: string, rpc: Rpc): grpc.UntypedHandleCall {
    switch (rpc.kind) {
      case 'unary':
        return ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
          answerOnce(name, call, callback, rpc.scope, (principal) => {
            assertWellFormed(call.request);
            return rpc.handle(call.request as never, principal as Principal);
          })) as grpc.handleUnaryCall<unknown, unknown>;
      case 'upload':
        return ((call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
          answerOnce(name, call, callback, rpc.scope, (principal) =>
            rpc.handle(checkedMessages(call), principal as Principal),
          )) as grpc.handleClientStreamingCall<unknown, unknown>;
      case 'download':
        return ((call: grpc.ServerWritableStream<unknown, unknown>) => {
          const books = track(name, call);
          let cancelled = false;
          call.on('cancelled', () => {
            cancelled = true;
          });
          let verification: ReadVerificationState | undefined;
          deps.verifier
            .scoped(async (state) => {
              verification = state;
              const principal = admit(call, rpc.scope) as Principal;
              books.admitted(principal);
              assertWellFormed(call.request);
              const messages = await rpc.handle(call.request as never, principal);
              for await (const message of messages) {
                if (cancelled) break;
                if (!call.write(message)) await Promise.race([once(call, 'drain'), once(call, 'cancelled')]);
              }
            })
            .then(
              () => {
                books.finish(cancelled ? grpc.status.CANCELLED : grpc.status.OK);
                call.end(trailer(books.requestId, verification));
              },
              (error: unknown) => {
                const failure = books.failure(error);
                books.finish(failure.code ?? grpc.status.UNKNOWN);
                call.emit('error', failure);
              },
            );
        }) as grpc.handleServerStreamingCall<unknown, unknown>;
    }
  }

  const implementation: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(service)) {
    const rpc = rpcs[name];
    if (rpc === undefined) throw new Error(`vpr.proto names ${name}, which vpr-rpcs.ts does not implement`);
    implementation[name] = implement(name, rpc);
  }
  for (const name of Object.keys(rpcs)) {
    if (service[name] === undefined) throw new Error(`vpr-rpcs.ts implements ${name}, which vpr.proto lacks`);
  }
  server.addService(service, implementation);

  const credentials =
    options.tls === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(
          null,
          [{ cert_chain: options.tls.cert, private_key: options.tls.key }],
          false,
        );

  let closing: Promise<void> | undefined;
  return {
    listen(host, port) {
      const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      return new Promise((resolve, reject) => {
        server.bindAsync(address, credentials, (error, bound) => {
          if (error !== null) reject(error);
          else resolve(`${host.includes(':') ? `[${host}]` : host}:${bound}`);
        });
      });
    },
    close(graceMs = 10_000) {
      closing ??= new Promise<void>((resolve) => {
        health.setStatus('', 'NOT_SERVING');
        health.setStatus(SERVICE_NAME, 'NOT_SERVING');
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}

/** A call whose deadline had passed when it arrived: answered DEADLINE_EXCEEDED, nothing done. */
class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}
